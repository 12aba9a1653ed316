package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/service"
)

var runCommand = &command{
	name: "run", order: 1,
	summary: "run the delivery daemon in the foreground",
	usage:   "run [--log-level debug|info|warn|error] [--log-json]",
	help: `Runs the daemon in the foreground, on the desktop named by $DISPLAY: it
watches the spool's new/ folders, delivers each message into its agent's
window (click, focus check, clipboard, paste, submit, under the desktop
lock), waits for the agent's ack, retries, and parks an agent whose window
keeps losing the focus. One daemon per spool: a second one exits with an
error. SIGINT or SIGTERM finishes the GUI step in progress and exits 0;
messages waiting for an ack stay in cur/ and are picked up on the next start.

Logs go to stderr, one event per state change; every attempt is also
appended to <spool>/journal.jsonl, and <spool>/status.json shows what each
agent is doing (agentspool status reads it).

Example:
  DISPLAY=:0 agentspool run --config ~/agents/coords.yaml`,
	run: runRun,
}

func runRun(e *env, args []string) error {
	fs := e.flagSet()
	level := fs.String("log-level", "info", "least severe log `level`: debug, info, warn or error")
	asJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, log, err := daemonSetup(e, *level, *asJSON)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	service.Version = version
	err = service.RunDesktop(ctx, cfg, log)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// daemonSetup is what `run` and `service run` share: the config (with
// --spool applied) and the logger asked for.
func daemonSetup(e *env, level string, asJSON bool) (*config.Config, *slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, usageErr(e.cmd, fmt.Errorf("bad --log-level %q", level))
	}
	cfg, err := e.config()
	if err != nil {
		return nil, nil, err
	}
	if e.spoolDir != "" {
		cfg.Spool = e.spoolDir
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(e.stderr, opts)
	if asJSON {
		h = slog.NewJSONHandler(e.stderr, opts)
	}
	log := slog.New(h)
	warnWayland(log)
	return cfg, log, nil
}
