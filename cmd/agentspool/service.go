package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/agentspool/agentspool/service"
)

var serviceCommand = &command{
	name: "service", order: 50,
	summary: "install, start, stop or uninstall the daemon as a user service",
	usage:   "service install|uninstall|start|stop|restart|status|run [--name NAME] [flags]",
	help: `Runs the daemon as a service of your desktop session, so it starts when
you log in and restarts if it fails.

  install    write the service and enable it: on Linux a systemd user unit
             (~/.config/systemd/user/NAME.service, started with your user
             manager: WantedBy=default.target); on macOS a LaunchAgent.
             It records absolute paths to this binary, the config and the
             spool, and the display to drive: $DISPLAY and $XAUTHORITY now
             (or --display, --xauthority). Run it from your desktop session.
             Installing again rewrites the service (after a move, say).
  uninstall  stop, disable and remove it; nothing of it is left on disk
  start, stop, restart
             through the service manager; stop lets the GUI step in progress
             finish, so nothing is left half-delivered
  status     what the service manager says
  run        the daemon as the service manager runs it (the unit's
             ExecStart): like "agentspool run", with the manager's stop
             mapped to a graceful stop

Windows: a Windows service runs in session 0 and cannot reach your desktop,
so install registers a scheduled task instead (schtasks /XML: at your
logon, in your session, not elevated, restarted a minute after a failure)
that runs "agentspool run"; its definition is kept in
%AppData%\agentspool\NAME.task.xml. start and stop are schtasks /Run and
/End (/End ends the process: a delivery it cuts is taken back at the next
start). No --display there.

Logs on Linux go to the journal: journalctl --user -u agentspool.service

Example:
  agentspool --config ~/agents/coords.yaml service install
  agentspool service start
  agentspool service status`,
	run: runService,
}

func runService(e *env, args []string) error {
	if len(args) == 0 || isHelpFlag(args[0]) {
		fs := e.flagSet()
		_, err := e.parse(fs, args, 1, -1)
		return err
	}
	action, rest := args[0], args[1:]
	fs := e.flagSet()
	name := fs.String("name", service.DefaultServiceName, "the service `NAME` (one per spool and display)")
	switch action {
	case "install":
		display := fs.String("display", os.Getenv("DISPLAY"), "the X `DISPLAY` the daemon drives (default $DISPLAY)")
		xauth := fs.String("xauthority", os.Getenv("XAUTHORITY"), "the `FILE` that authorizes it on that display (default $XAUTHORITY)")
		if _, err := e.parse(fs, rest, 0, 0); err != nil {
			return err
		}
		return serviceInstall(e, *name, *display, *xauth)
	case "uninstall":
		if _, err := e.parse(fs, rest, 0, 0); err != nil {
			return err
		}
		return serviceUninstall(e, *name)
	case "start", "stop", "restart":
		if _, err := e.parse(fs, rest, 0, 0); err != nil {
			return err
		}
		if err := service.Control(*name, action); err != nil {
			return serviceErr(e, err)
		}
		fmt.Fprintf(e.stdout, "%s: %s done\n", *name, action)
		return nil
	case "status":
		if _, err := e.parse(fs, rest, 0, 0); err != nil {
			return err
		}
		return serviceStatus(e, *name)
	case "run":
		level := fs.String("log-level", "info", "least severe log `level`: debug, info, warn or error")
		asJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
		if _, err := e.parse(fs, rest, 0, 0); err != nil {
			return err
		}
		return serviceRun(e, *name, *level, *asJSON)
	}
	return usageErr(e.cmd, fmt.Errorf("unknown service action %q (want install, uninstall, start, stop, restart, status or run)", action))
}

// serviceErr prints an UnsupportedError's advice before the one-line error.
func serviceErr(e *env, err error) error {
	var ue *service.UnsupportedError
	if errors.As(err, &ue) && ue.Advice != "" {
		fmt.Fprint(e.stdout, ue.Advice)
	}
	return err
}

// serviceSpec is the service for the config and spool in effect, with
// every path absolute: a service starts in a directory of its own.
func serviceSpec(e *env, name, display, xauth string) (service.Spec, error) {
	cfg, err := e.config()
	if err != nil {
		return service.Spec{}, err
	}
	spoolDir := cfg.Spool
	if e.spoolDir != "" {
		spoolDir = e.spoolDir
	}
	spoolDir, err = filepath.Abs(spoolDir)
	if err != nil {
		return service.Spec{}, err
	}
	bin, err := os.Executable()
	if err != nil {
		return service.Spec{}, fmt.Errorf("service: cannot find this executable: %w", err)
	}
	if p, err := filepath.EvalSymlinks(bin); err == nil {
		bin = p
	}
	if xauth != "" {
		if xauth, err = filepath.Abs(xauth); err != nil {
			return service.Spec{}, err
		}
	}
	return service.Spec{Name: name, Binary: bin, Config: cfg.Path, Spool: spoolDir, Display: display, XAuthority: xauth}, nil
}

func serviceInstall(e *env, name, display, xauth string) error {
	spec, err := serviceSpec(e, name, display, xauth)
	if err != nil {
		return err
	}
	if display == "" && runtime.GOOS == "linux" {
		return errors.New("service: DISPLAY is not set: run install from your desktop session, or give --display :0 (and --xauthority FILE if the display needs one)")
	}
	rep, err := service.Install(spec)
	if err != nil {
		return serviceErr(e, err)
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", rep.Path)
	if runtime.GOOS == "windows" {
		// A logon task runs `agentspool run` in the user's session.
		fmt.Fprintf(e.stdout, "  runs    %s --config %s --spool %s run (at your logon, in your session)\n", spec.Binary, spec.Config, spec.Spool)
	} else {
		fmt.Fprintf(e.stdout, "  runs    %s %s\n", spec.Binary, joinArgs(spec.Args()))
		fmt.Fprintf(e.stdout, "  display %s", spec.Display)
		if spec.XAuthority != "" {
			fmt.Fprintf(e.stdout, " (XAUTHORITY %s)", spec.XAuthority)
		}
		fmt.Fprintln(e.stdout)
	}
	if rep.Manager != nil {
		return fmt.Errorf("service: installed %s but not enabled: %w", rep.Path, rep.Manager)
	}
	fmt.Fprintf(e.stdout, "enabled: it starts when you log in; start it now with: agentspool service start --name %s\n", name)
	if runtime.GOOS == "linux" {
		fmt.Fprintf(e.stdout, "logs: journalctl --user -u %s.service -f\n", name)
	}
	return nil
}

func serviceUninstall(e *env, name string) error {
	rep, err := service.Uninstall(name)
	if err != nil {
		return serviceErr(e, err)
	}
	fmt.Fprintf(e.stdout, "removed %s\n", rep.Path)
	if rep.Manager != nil {
		// Nothing is left on disk; the manager may still have it loaded
		// until its next daemon-reload.
		fmt.Fprintf(e.stderr, "agentspool: note: %v\n", rep.Manager)
	}
	return nil
}

func serviceStatus(e *env, name string) error {
	st, err := service.QueryStatus(name)
	if err != nil {
		return serviceErr(e, err)
	}
	installed := "not installed"
	if st.Installed {
		installed = "installed"
	}
	fmt.Fprintf(e.stdout, "service %s: %s (%s)\n", name, installed, st.Path)
	if st.Manager != nil {
		return fmt.Errorf("service: cannot ask the service manager: %w", st.Manager)
	}
	fmt.Fprintf(e.stdout, "state: %s\n", st.State)
	if !st.Installed {
		return fmt.Errorf("service: %s is not installed; run: agentspool service install", name)
	}
	return nil
}

func serviceRun(e *env, name, level string, asJSON bool) error {
	cfg, log, err := daemonSetup(e, level, asJSON)
	if err != nil {
		return err
	}
	return serviceErr(e, service.RunManaged(name, func(ctx context.Context) error {
		service.Version = version
		return service.RunDesktop(ctx, cfg, log)
	}))
}

func joinArgs(args []string) string {
	out := ""
	for i, a := range args {
		if i > 0 {
			out += " "
		}
		out += shellQuote(a)
	}
	return out
}

// shellQuote quotes a for a POSIX shell when it needs it.
func shellQuote(a string) string {
	safe := a != ""
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-' || c == ':' || c == '=' || c == '+' || c == ',') {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	out := "'"
	for _, c := range a {
		if c == '\'' {
			out += `'\''`
		} else {
			out += string(c)
		}
	}
	return out + "'"
}
