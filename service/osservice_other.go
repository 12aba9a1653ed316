//go:build !linux && !darwin && !windows

package service

import "runtime"

func refuse() error {
	return &UnsupportedError{
		Reason: "no user-session service support for " + runtime.GOOS,
		Advice: "Start `agentspool run` from your desktop session's autostart instead.\n",
	}
}

// Install refuses on this platform.
func Install(s Spec) (InstallReport, error) { return InstallReport{}, refuse() }

// Uninstall refuses on this platform.
func Uninstall(name string) (InstallReport, error) { return InstallReport{}, refuse() }

// Control refuses on this platform.
func Control(name, action string) error { return refuse() }

// QueryStatus refuses on this platform.
func QueryStatus(name string) (OSStatus, error) { return OSStatus{}, refuse() }

// RunManaged refuses on this platform.
func RunManaged(name string, run RunFunc) error { return refuse() }
