//go:build !linux && !windows

package deliver

import "runtime"

// Probe answers the setup tools' questions about a desktop; only X11 on
// Linux has one yet.
type Probe struct{}

// OpenProbe is only available on Linux (X11).
func OpenProbe() (*Probe, error) {
	return nil, &displayError{"no desktop backend for " + runtime.GOOS + " yet: the daemon drives X11 on Linux"}
}

func (p *Probe) Display() string                  { return "" }
func (p *Probe) Close() error                     { return nil }
func (p *Probe) XTEST() error                     { return errNoBackend() }
func (p *Probe) InputClock() error                { return errNoBackend() }
func (p *Probe) WindowManager() (string, error)   { return "", errNoBackend() }
func (p *Probe) Screens() ([]Screen, error)       { return nil, errNoBackend() }
func (p *Probe) Windows() ([]ProbedWindow, error) { return nil, errNoBackend() }
func (p *Probe) Pointer() (int, int, error)       { return 0, 0, errNoBackend() }

func errNoBackend() error {
	return &displayError{"no desktop backend for " + runtime.GOOS + " yet"}
}

func (p *Probe) PlatformChecks(found map[string][]ProbedWindow) []PlatformCheck { return nil }
