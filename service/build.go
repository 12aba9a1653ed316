package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

// RunDesktop builds the real daemon for cfg (the X11 desktop, the desktop
// lock, remembered timings, the ack watcher) and runs it until ctx ends.
// Both `agentspool run` and the OS service call it.
func RunDesktop(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	sp, err := spool.Open(cfg.Spool)
	if err != nil {
		return err
	}
	sp.MaxMessageBytes = cfg.MaxMessageBytes
	// A desktop only for agents in windows: agents all in tmux panes need
	// no display (a server, a terminal session).
	var desk deliver.Desktop
	var lock *deliver.DesktopLock
	if windows := cfg.WindowAgents(); windows > 0 {
		if desk, err = deliver.NewDesktop(); err != nil {
			return err
		}
		defer desk.Close()
		lockPath := cfg.LockFile
		if lockPath == "" {
			lockPath = deliver.DefaultLockPath(os.Getenv("DISPLAY"))
		}
		if lock, err = deliver.NewDesktopLock(lockPath); err != nil {
			return err
		}
	}
	timings, err := deliver.LoadTimings(filepath.Join(sp.Root, ".timings.json"), cfg.Timing.Min, cfg.Timing.Max)
	if err != nil {
		log.Warn("timings", "err", err)
	}
	w, err := confirm.NewWatcher()
	if err != nil {
		return fmt.Errorf("service: ack watcher: %w", err)
	}
	defer w.Close()
	crash, err := crashAfter(os.Getenv(CrashAfterEnv))
	if err != nil {
		return err
	}
	notifier := DesktopNotifications(log)
	if notifier != nil {
		defer notifier.Close()
	}
	d, err := New(Options{
		Config: cfg, Spool: sp, Waiter: w, Log: log, Notifier: notifier,
		Deliverer: &deliver.Deliverer{Desktop: desk, Lock: lock, Timings: timings, Log: log,
			QuietFor: cfg.QuietFor, QuietMaxWait: cfg.QuietMaxWait, AfterStep: crash},
		Panes: &deliver.Panes{LockDir: deliver.DefaultPaneLockDir(), Timings: timings, Log: log,
			QuietFor: cfg.QuietFor, QuietMaxWait: cfg.QuietMaxWait, AfterStep: crash},
	})
	if err != nil {
		return err
	}
	if lock != nil {
		log.Info("desktop", "display", os.Getenv("DISPLAY"), "lock", lock.Path())
	} else {
		log.Info("no desktop: every agent is in a tmux pane")
	}
	return d.Run(ctx)
}
