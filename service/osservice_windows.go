package service

import (
	"fmt"
	"strings"
)

// On Windows a Service Control Manager service runs in session 0, which
// has no access to the desktop the person sees: its clicks and pastes
// would go nowhere. So nothing is installed; the error explains why and
// gives the supported alternative, a scheduled task that starts
// `agentspool run` at logon in the user's own session.

func refuse(s Spec) error {
	return &UnsupportedError{
		Reason: "a Windows service runs in session 0 and cannot reach your desktop, so agentspool does not install one",
		Advice: WindowsAdvice(s),
	}
}

// WindowsAdvice is the scheduled-task alternative with its exact commands.
func WindowsAdvice(s Spec) string {
	bin, cfg := s.Binary, s.Config
	if bin == "" {
		bin = `C:\path\to\agentspool.exe`
	}
	if cfg == "" {
		cfg = `C:\path\to\coords.yaml`
	}
	name := s.name()
	// schtasks /TR takes the whole command line as one argument; quotes
	// inside it are written \" .
	tr := fmt.Sprintf(`\"%s\" --config \"%s\" run`, bin, cfg)
	var b strings.Builder
	fmt.Fprintf(&b, "A Windows service runs in session 0, isolated from the desktop you log in to: it cannot see or click the agents' windows.\n")
	fmt.Fprintf(&b, "Start agentspool at logon in your own session instead, as a scheduled task:\n\n")
	fmt.Fprintf(&b, "  schtasks /Create /TN %s /SC ONLOGON /RL LIMITED /F /TR \"%s\"\n\n", name, tr)
	fmt.Fprintf(&b, "Start it now:     schtasks /Run /TN %s\n", name)
	fmt.Fprintf(&b, "Stop it:          schtasks /End /TN %s\n", name)
	fmt.Fprintf(&b, "See it:           schtasks /Query /TN %s /V /FO LIST\n", name)
	fmt.Fprintf(&b, "Remove it:        schtasks /Delete /TN %s /F\n", name)
	fmt.Fprintf(&b, "\nNote: this agentspool has no Windows desktop backend yet (the daemon drives X11); see docs/service.md.\n")
	return b.String()
}

// Install refuses: see WindowsAdvice.
func Install(s Spec) (InstallReport, error) { return InstallReport{}, refuse(s) }

// Uninstall refuses: nothing was installed.
func Uninstall(name string) (InstallReport, error) {
	return InstallReport{}, refuse(Spec{Name: name})
}

// Control refuses: see WindowsAdvice.
func Control(name, action string) error { return refuse(Spec{Name: name}) }

// QueryStatus refuses: see WindowsAdvice.
func QueryStatus(name string) (OSStatus, error) { return OSStatus{}, refuse(Spec{Name: name}) }

// RunManaged refuses: an SCM service cannot reach the desktop.
func RunManaged(name string, run RunFunc) error { return refuse(Spec{Name: name}) }
