package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultServiceName is the OS service's name: the systemd unit
// agentspool.service, the LaunchAgent agentspool.
const DefaultServiceName = "agentspool"

// Spec is what the OS service runs: one daemon, with absolute paths, on
// the display it was installed from. A service starts in an environment of
// its own (no shell, no session variables, another working directory), so
// everything the daemon needs is written into the service definition.
type Spec struct {
	Name       string // service name; DefaultServiceName when ""
	Binary     string // the agentspool executable (absolute)
	Config     string // coords.yaml (absolute)
	Spool      string // the spool directory (absolute)
	Display    string // DISPLAY the daemon drives (X11)
	XAuthority string // XAUTHORITY for that display; "" when none is needed
}

// Args are the daemon's arguments under the service manager.
func (s Spec) Args() []string {
	return []string{"--config", s.Config, "--spool", s.Spool, "service", "run", "--name", s.name()}
}

func (s Spec) name() string {
	if s.Name == "" {
		return DefaultServiceName
	}
	return s.Name
}

// WorkingDirectory is the config's directory.
func (s Spec) WorkingDirectory() string { return filepath.Dir(s.Config) }

// Check reports what is missing or not absolute.
func (s Spec) Check() error {
	var errs []error
	if !ValidServiceName(s.name()) {
		errs = append(errs, fmt.Errorf("service: bad service name %q: letters, digits, . _ - only", s.name()))
	}
	for _, p := range []struct{ what, path string }{{"binary", s.Binary}, {"config", s.Config}, {"spool", s.Spool}} {
		if !filepath.IsAbs(p.path) {
			errs = append(errs, fmt.Errorf("service: the %s path %q is not absolute", p.what, p.path))
		}
	}
	return errors.Join(errs...)
}

// ValidServiceName: what a unit or launchd label may be called here.
func ValidServiceName(n string) bool {
	if n == "" || len(n) > 64 || n[0] == '.' || n[0] == '-' {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// InstallReport says what Install did.
type InstallReport struct {
	Path string // the service definition written (unit file, plist)
	// Manager is the error of telling the service manager (daemon-reload,
	// enable); the definition is written even when it is not nil.
	Manager error
}

// OSStatus is what the service manager says about the service.
type OSStatus struct {
	Path      string // the service definition; "" when unknown
	Installed bool   // the definition exists
	State     string // e.g. "active (running)", "inactive (dead)"; "" when the manager was not reached
	Running   bool
	Manager   error // the manager could not be asked
}

// managerError: the service manager could not be reached or refused.
type managerError struct {
	cmd    string
	out    string
	err    error
	advice string
}

func (e *managerError) Error() string {
	msg := fmt.Sprintf("service: %s: %v", e.cmd, e.err)
	if out := strings.TrimSpace(e.out); out != "" {
		msg += ": " + strings.Join(strings.Fields(out), " ")
	}
	if e.advice != "" {
		msg += "; " + e.advice
	}
	return msg
}

func (e *managerError) Unwrap() error { return e.err }

// IsManagerError reports whether err is the service manager failing (not
// reachable, or refusing), as opposed to a problem of ours.
func IsManagerError(err error) bool {
	var me *managerError
	return errors.As(err, &me)
}

// UnsupportedError: this platform cannot run the daemon as a service the
// way it must run (in the user's desktop session). Advice says what works
// instead, with the exact commands.
type UnsupportedError struct {
	Reason string
	Advice string
}

func (e *UnsupportedError) Error() string { return "service: " + e.Reason }

// RunFunc runs the daemon until ctx ends.
type RunFunc func(ctx context.Context) error

// fileExists is a stat that says yes only for a file that is there.
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
