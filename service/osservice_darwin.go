package service

import (
	"fmt"
	"os"
	"path/filepath"

	kservice "github.com/kardianos/service"
)

// On macOS the service is a LaunchAgent (~/Library/LaunchAgents), which
// runs in the user's GUI session, through kardianos. The daemon has no
// macOS desktop backend yet (it drives X11): the agent installs and runs,
// and its log says so until one lands.

func kservice4(s Spec) (kservice.Service, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	if s.Display != "" {
		env["DISPLAY"] = s.Display
	}
	if s.XAuthority != "" {
		env["XAUTHORITY"] = s.XAuthority
	}
	return kservice.New(&program{}, &kservice.Config{
		Name:             s.name(),
		DisplayName:      s.name(),
		Description:      "agentspool: deliver spooled messages into AI agents' chat windows",
		Executable:       s.Binary,
		Arguments:        s.Args(),
		WorkingDirectory: s.WorkingDirectory(),
		EnvVars:          env,
		Option: kservice.KeyValue{
			"UserService":  true,
			"RunAtLoad":    true,
			"KeepAlive":    true,
			"LogDirectory": filepath.Join(home, "Library", "Logs", s.name()),
		},
	})
}

func plistPath(name string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "LaunchAgents", name+".plist"), nil
}

// Install writes and loads the LaunchAgent.
func Install(s Spec) (InstallReport, error) {
	if err := s.Check(); err != nil {
		return InstallReport{}, err
	}
	ks, err := kservice4(s)
	if err != nil {
		return InstallReport{}, err
	}
	path, _ := plistPath(s.name())
	if err := ks.Install(); err != nil {
		return InstallReport{Path: path}, fmt.Errorf("service: install LaunchAgent: %w", err)
	}
	return InstallReport{Path: path}, nil
}

// Uninstall unloads and removes the LaunchAgent.
func Uninstall(name string) (InstallReport, error) {
	ks, err := kservice4(Spec{Name: name})
	if err != nil {
		return InstallReport{}, err
	}
	path, _ := plistPath(name)
	if err := ks.Uninstall(); err != nil {
		return InstallReport{Path: path}, fmt.Errorf("service: uninstall LaunchAgent: %w", err)
	}
	return InstallReport{Path: path}, nil
}

// Control starts, stops or restarts the LaunchAgent.
func Control(name, action string) error {
	ks, err := kservice4(Spec{Name: name})
	if err != nil {
		return err
	}
	switch action {
	case "start":
		err = ks.Start()
	case "stop":
		err = ks.Stop()
	case "restart":
		err = ks.Restart()
	default:
		return fmt.Errorf("service: unknown action %q", action)
	}
	if err != nil {
		return &managerError{cmd: "launchctl " + action, err: err}
	}
	return nil
}

// QueryStatus asks launchd about the LaunchAgent.
func QueryStatus(name string) (OSStatus, error) {
	path, _ := plistPath(name)
	st := OSStatus{Path: path, Installed: fileExists(path)}
	ks, err := kservice4(Spec{Name: name})
	if err != nil {
		return st, err
	}
	s, err := ks.Status()
	if err != nil {
		st.Manager = &managerError{cmd: "launchctl list", err: err}
		return st, nil
	}
	switch s {
	case kservice.StatusRunning:
		st.State, st.Running = "running", true
	case kservice.StatusStopped:
		st.State = "stopped"
	default:
		st.State = "unknown"
	}
	return st, nil
}
