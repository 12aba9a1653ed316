package service

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
)

// On Linux the service is a systemd user unit, written and driven here with
// systemctl --user rather than through kardianos' Install/Uninstall/Status,
// which do not fit a user unit that must always be removable:
//   - kardianos picks sysv when /run/systemd/system is missing (containers,
//     a session without systemd as pid 1), though the user manager is what
//     runs the unit;
//   - it writes to ~/.config/systemd/user even when XDG_CONFIG_HOME points
//     elsewhere, where systemd then never looks;
//   - its Uninstall stops at a failed `systemctl disable` before removing
//     the file, and its Install refuses a file that exists (no reinstall);
//   - it drops systemctl's stderr and reports an unreachable user manager
//     as "not installed".
// The daemon itself runs under kardianos' Run (RunManaged), which maps the
// stop signal to the daemon's context.

// UnitDir is where systemd's user manager reads the user's own units:
// $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user.
func UnitDir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "systemd", "user"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("service: no home directory for the user unit: %w", err)
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
}

// UnitPath is the unit file of the service called name.
func UnitPath(name string) (string, error) {
	dir, err := UnitDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, unitName(name)), nil
}

func unitName(name string) string { return name + ".service" }

var unitTemplate = template.Must(template.New("unit").Funcs(template.FuncMap{
	"exec": systemdExec, "env": systemdEnv, "path": systemdPath,
}).Parse(`# Written by "agentspool service install"; "agentspool service uninstall"
# removes it. Reinstall after moving the binary, the config or the spool,
# or to drive another display.
[Unit]
Description=agentspool: deliver spooled messages into AI agents' chat windows on display {{.Display}}
Documentation=https://github.com/agentspool/agentspool/blob/main/docs/service.md
After=graphical-session.target
# Before the desktop is up the daemon cannot reach the display and exits
# non-zero; keep restarting it rather than giving up after a few tries.
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={{exec .Binary .Args}}
WorkingDirectory={{path .WorkingDirectory}}
Environment={{env "DISPLAY" .Display}}
{{- if .XAuthority}}
Environment={{env "XAUTHORITY" .XAuthority}}
{{- end}}
# Logs (one event per state change) go to the journal:
#   journalctl --user -u {{.Name}}.service
StandardOutput=journal
StandardError=journal
SyslogIdentifier={{.Name}}
Restart=on-failure
RestartSec=10s
# Stop: SIGTERM lets the GUI step in progress finish and the locks go;
# nothing is left half-delivered in cur/.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=60s

[Install]
# The user manager has no multi-user.target; default.target starts with it.
WantedBy=default.target
`))

// systemdQuote quotes one word for ExecStart=/Environment=: C-style escapes
// inside double quotes, % doubled (specifiers).
func systemdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%")
	return `"` + r.Replace(s) + `"`
}

func systemdExec(bin string, args []string) string {
	words := []string{systemdQuote(bin)}
	for _, a := range args {
		// $ would be expanded from the environment in ExecStart.
		words = append(words, strings.ReplaceAll(systemdQuote(a), "$", "$$"))
	}
	return strings.Join(words, " ")
}

func systemdEnv(k, v string) string { return systemdQuote(k + "=" + v) }

func systemdPath(p string) string { return strings.ReplaceAll(p, "%", "%%") }

// Unit renders the unit file for s.
func Unit(s Spec) ([]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	for _, v := range []string{s.Binary, s.Config, s.Spool, s.Display, s.XAuthority} {
		if strings.ContainsAny(v, "\n\r") {
			return nil, fmt.Errorf("service: %q: a newline cannot be written into a unit file", v)
		}
	}
	if s.Display == "" {
		return nil, errors.New("service: no display: the daemon must know which desktop to drive (set DISPLAY, or give --display)")
	}
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, struct {
		Spec
		Name             string
		Args             []string
		WorkingDirectory string
	}{s, s.name(), s.Args(), s.WorkingDirectory()})
	if err != nil {
		return nil, fmt.Errorf("service: unit: %w", err)
	}
	return b.Bytes(), nil
}

// managerAdvice is what to do when systemctl --user cannot reach the user
// manager: the unit is on disk, only the manager has not been told.
func managerAdvice(name string) string {
	return fmt.Sprintf("the user manager was not reached (inside your desktop session, with systemd running as your user manager, run: systemctl --user daemon-reload && systemctl --user enable --now %s)", unitName(name))
}

// systemctl runs systemctl --user args, returning its output.
func systemctl(name string, args ...string) (string, error) {
	argv := append([]string{"--user"}, args...)
	cmd := exec.Command("systemctl", argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), &managerError{cmd: "systemctl " + strings.Join(argv, " "), out: out.String(), err: err, advice: managerAdvice(name)}
	}
	return out.String(), nil
}

// Install writes the user unit and asks the user manager to load and enable
// it. The unit is written even when the manager cannot be reached (no user
// session, a container); the report says so and what to run.
func Install(s Spec) (InstallReport, error) {
	data, err := Unit(s)
	if err != nil {
		return InstallReport{}, err
	}
	path, err := UnitPath(s.name())
	if err != nil {
		return InstallReport{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return InstallReport{}, fmt.Errorf("service: %w", err)
	}
	if err := safeio.WriteFile(path, data, 0o644); err != nil && !safeio.IsSyncDirError(err) {
		return InstallReport{}, fmt.Errorf("service: write unit: %w", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return InstallReport{}, fmt.Errorf("service: %w", err)
	}
	rep := InstallReport{Path: path}
	if _, err := systemctl(s.name(), "daemon-reload"); err != nil {
		rep.Manager = err
		return rep, nil
	}
	if _, err := systemctl(s.name(), "enable", unitName(s.name())); err != nil {
		rep.Manager = err
	}
	return rep, nil
}

// Uninstall stops and disables the unit (where the manager can be reached)
// and removes it, its enablement link and the folders that only held them.
// Nothing of the service is left on disk, manager or not.
func Uninstall(name string) (InstallReport, error) {
	path, err := UnitPath(name)
	if err != nil {
		return InstallReport{}, err
	}
	if !fileExists(path) {
		return InstallReport{Path: path}, fmt.Errorf("service: %s is not installed (no %s)", name, path)
	}
	rep := InstallReport{Path: path}
	if _, err := systemctl(name, "disable", "--now", unitName(name)); err != nil {
		rep.Manager = err
	}
	dir := filepath.Dir(path)
	wants := filepath.Join(dir, "default.target.wants")
	link := filepath.Join(wants, unitName(name))
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if err := os.Remove(link); err != nil {
			return rep, fmt.Errorf("service: %w", err)
		}
	}
	if err := os.Remove(path); err != nil {
		return rep, fmt.Errorf("service: %w", err)
	}
	// Folders made for the unit go too; one with anything else in it stays
	// (os.Remove refuses a non-empty directory).
	for _, d := range []string{wants, dir, filepath.Dir(dir)} {
		_ = os.Remove(d)
	}
	if rep.Manager == nil {
		if _, err := systemctl(name, "daemon-reload"); err != nil {
			rep.Manager = err
		}
	}
	return rep, nil
}

// Control starts, stops or restarts the service.
func Control(name, action string) error {
	switch action {
	case "start", "stop", "restart":
	default:
		return fmt.Errorf("service: unknown action %q", action)
	}
	path, err := UnitPath(name)
	if err != nil {
		return err
	}
	if !fileExists(path) {
		return fmt.Errorf("service: %s is not installed (no %s); run: agentspool service install", name, path)
	}
	_, err = systemctl(name, action, unitName(name))
	return err
}

// QueryStatus asks the user manager about the service.
func QueryStatus(name string) (OSStatus, error) {
	path, err := UnitPath(name)
	if err != nil {
		return OSStatus{}, err
	}
	st := OSStatus{Path: path, Installed: fileExists(path)}
	out, err := systemctl(name, "show", "--property=LoadState,ActiveState,SubState,UnitFileState", unitName(name))
	if err != nil {
		st.Manager = err
		return st, nil
	}
	props := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			props[k] = v
		}
	}
	st.State = fmt.Sprintf("%s (%s), %s", props["ActiveState"], props["SubState"], props["UnitFileState"])
	st.Running = props["ActiveState"] == "active"
	return st, nil
}
