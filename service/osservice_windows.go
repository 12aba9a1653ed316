package service

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/agentspool/agentspool/internal/safeio"
)

// On Windows a Service Control Manager service runs in session 0, which
// has no access to the desktop the person sees: its clicks and pastes
// would go nowhere. The daemon is installed instead as a scheduled task
// that starts `agentspool run` at logon in the user's own session
// (TaskXML), through schtasks.exe.

// TaskPath is where the task's definition is kept (beside what schtasks
// registers, so that status can name it and uninstall remove it).
func TaskPath(name string) (string, error) {
	dir, err := os.UserConfigDir() // %AppData%
	if err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	return filepath.Join(dir, "agentspool", name+".task.xml"), nil
}

func schtasks(args ...string) (string, error) {
	cmd := exec.Command("schtasks.exe", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), &managerError{cmd: "schtasks " + strings.Join(args, " "), out: out.String(), err: err,
			advice: "run it in your own session (not elevated, not as a service); schtasks /Query /TN " + args[len(args)-1] + " shows what is registered"}
	}
	return out.String(), nil
}

func currentUser() string {
	if d, u := os.Getenv("USERDOMAIN"), os.Getenv("USERNAME"); u != "" {
		if d != "" {
			return d + `\` + u
		}
		return u
	}
	return ""
}

// Install writes the task definition and registers it (replacing one of
// the same name).
func Install(s Spec) (InstallReport, error) {
	user := currentUser()
	if user == "" {
		return InstallReport{}, fmt.Errorf("service: USERNAME is not set: cannot tell whose logon starts the task")
	}
	path, err := TaskPath(s.name())
	if err != nil {
		return InstallReport{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return InstallReport{}, fmt.Errorf("service: %w", err)
	}
	if err := safeio.WriteFile(path, TaskXMLFile(s, user), 0o600); err != nil && !safeio.IsSyncDirError(err) {
		return InstallReport{}, fmt.Errorf("service: write task: %w", err)
	}
	rep := InstallReport{Path: path}
	if _, err := schtasks("/Create", "/F", "/XML", path, "/TN", s.name()); err != nil {
		rep.Manager = err
	}
	return rep, nil
}

// Uninstall ends the task if it runs, unregisters it and removes its
// definition.
func Uninstall(name string) (InstallReport, error) {
	path, err := TaskPath(name)
	if err != nil {
		return InstallReport{}, err
	}
	rep := InstallReport{Path: path}
	schtasks("/End", "/TN", name) // not running is fine
	if _, err := schtasks("/Delete", "/F", "/TN", name); err != nil {
		rep.Manager = err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return rep, fmt.Errorf("service: %w", err)
	}
	_ = os.Remove(filepath.Dir(path))
	return rep, nil
}

// Control starts (schtasks /Run), stops (/End) or restarts the task. /End
// terminates the process: a delivery cut in its GUI step is taken back by
// the next start (the message was marked as being pasted).
func Control(name, action string) error {
	switch action {
	case "start":
		_, err := schtasks("/Run", "/TN", name)
		return err
	case "stop":
		_, err := schtasks("/End", "/TN", name)
		return err
	case "restart":
		schtasks("/End", "/TN", name)
		_, err := schtasks("/Run", "/TN", name)
		return err
	}
	return fmt.Errorf("service: unknown action %q", action)
}

// QueryStatus asks the Task Scheduler (schtasks /Query, CSV): its Status
// column (Ready, Running, Disabled; in the system's language).
func QueryStatus(name string) (OSStatus, error) {
	path, err := TaskPath(name)
	if err != nil {
		return OSStatus{}, err
	}
	st := OSStatus{Path: path, Installed: fileExists(path)}
	out, err := schtasks("/Query", "/FO", "CSV", "/NH", "/TN", name)
	if err != nil {
		st.Manager = err
		return st, nil
	}
	recs, _ := csv.NewReader(strings.NewReader(strings.TrimSpace(out))).ReadAll()
	if len(recs) > 0 && len(recs[0]) >= 3 {
		st.State = recs[0][2]
		st.Running = strings.EqualFold(st.State, "Running")
		st.Installed = true
	}
	return st, nil
}

// RunManaged refuses: an SCM service cannot reach the desktop; the logon
// task runs `agentspool run`.
func RunManaged(name string, run RunFunc) error {
	return &UnsupportedError{
		Reason: "a Windows service runs in session 0 and cannot reach your desktop",
		Advice: "agentspool service install makes a logon task that runs `agentspool run` in your session.\n",
	}
}
