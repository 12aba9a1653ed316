// Package service is the running daemon: it watches the spool, orders and
// claims messages, delivers them through the desktop, waits for the
// recipients' acks, retries and parks; and it is the OS-service face of that
// daemon (kardianos/service).
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/internal/safeio"
	"github.com/agentspool/agentspool/spool"
	"github.com/gofrs/flock"
)

const (
	// TmpMaxAge is how old a file in tmp/ gets before the daemon removes
	// it as abandoned by its writer (Maildir's rule).
	TmpMaxAge = 36 * time.Hour
	// MismatchesToHold: this many focus mismatches in a row for one agent
	// park its queue in hold/.
	MismatchesToHold = 3
	// guiFailuresToFail bounds attempts that never reached the window (the
	// clipboard taken, the paste not fetched); they do not count as
	// delivery attempts, but they must not loop forever.
	guiFailuresToFail = 20
	// SettleWindow: where the system cannot tell whether a file in new/
	// is still open for writing (macOS, the BSDs, a file system without
	// leases), a file whose mtime is younger than this may still be
	// written in place, and is claimed once it rests this long. On Linux
	// and Windows a file is claimed as soon as no writer has it open,
	// and a renamed-in one at once (spool.Spool.Settled).
	SettleWindow = 150 * time.Millisecond
	// MaxPasteBytes: longer texts are delivered as a pointer to a copy of
	// the message (one X request carries at most 256 KiB, and chat inputs
	// are known to drop the submit of very long pastes).
	MaxPasteBytes = 128 << 10
)

// Daemon delivers the spool's messages. Build it with New, then Run.
type Daemon struct {
	cfg     *config.Config
	sp      *spool.Spool
	dl      *deliver.Deliverer // the desktop channel
	panes   *deliver.Panes     // the tmux channel
	waiter  confirm.Waiter
	log     *slog.Logger
	journal *journal
	now     func() time.Time

	wake chan struct{}
	jobs chan spool.Entry

	mu          sync.Mutex
	agents      map[string]*agentState
	degraded    map[string]string // source → last error
	degradedLog map[string]time.Time
	start       time.Time
	ctx         context.Context
	wg          sync.WaitGroup
	dirty       bool
	metrics     *metrics
	metricsAddr string
	alerts      *alerts
	alertsAt    time.Time // last evaluation
	notifier    Notifier  // nil: no desktop notifications
	notes       chan alertNote
	// counts are the per-message counters of each message in its attempt
	// series, by msgKey: one home, dropped when the message leaves cur/
	// for done/, failed/ or hold/ (so a retry or a release starts afresh).
	counts map[string]msgCounts
}

type agentState struct {
	cfg  *config.Agent // nil: a spool dir for an agent not in the config
	busy bool          // one message is claimed (in cur/)
	// fails: the agent's failed attempts since its last submit, by class
	// (counters.Fails).
	fails [numFailClasses]int
	// draftUntil: the agent's input held a draft; none of its messages is
	// looked at again before then (each look clicks into the input the
	// person is writing in), whichever message is next.
	draftUntil time.Time
	atWork     bool // draftUntil is for its CLI at work on a turn, not a draft
	// unseenPaste: draftUntil is for a paste into its pane that had not
	// shown (deliver.IsUnseenPaste), not a person's draft.
	unseenPaste bool
	needsUndo   bool   // a delivery may have left a paste in the input (crash)
	hookNote    string // the last deliver_when decision logged (ready.go)
	merged      int    // submits the agent's hook saw merged with other text
	// again is the target of the agent's last submit, when it went into an
	// agent CLI whose submit may be tapped again (deliver.SubmitAgain):
	// its ack wait taps it once more when no ack comes soon.
	again *deliver.Target
	// terminal: the agent\'s last delivery went into a terminal.
	terminal bool
	state    string
	detail   string
}

func newAgentState(a *config.Agent, state string) *agentState {
	return &agentState{cfg: a, state: state}
}

// Options are the parts a Daemon is built from.
type Options struct {
	Config    *config.Config
	Spool     *spool.Spool
	Deliverer *deliver.Deliverer
	// Panes is the tmux channel, for agents in tmux panes (nil: one
	// with the Deliverer's timings and the default lock folder).
	Panes  *deliver.Panes
	Waiter confirm.Waiter
	Log    *slog.Logger
	// Notifier shows alerts on the desktop (DesktopNotifications); nil:
	// none.
	Notifier Notifier
}

// New checks the parts and returns a Daemon.
func New(o Options) (*Daemon, error) {
	if o.Config == nil || o.Spool == nil || o.Deliverer == nil || o.Waiter == nil {
		return nil, errors.New("service: config, spool, deliverer and waiter are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := o.Config.RenderEnvelope(config.EnvelopeFields{}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	d := &Daemon{
		cfg: o.Config, sp: o.Spool, dl: o.Deliverer, panes: o.Panes, waiter: o.Waiter, log: o.Log,
		now:      time.Now,
		wake:     make(chan struct{}, 1),
		jobs:     make(chan spool.Entry, 1024),
		agents:   map[string]*agentState{},
		notifier: o.Notifier,
		notes:    make(chan alertNote, 64),
	}
	if d.panes == nil {
		d.panes = &deliver.Panes{LockDir: deliver.DefaultPaneLockDir(), Timings: o.Deliverer.Timings, Log: o.Log,
			QuietFor: o.Config.QuietFor, QuietMaxWait: o.Config.QuietMaxWait}
	}
	for _, a := range o.Config.Agents {
		d.agents[a.Name] = newAgentState(a, "idle")
	}
	// The daemon is the spool's one user in this process: what goes wrong
	// in it without failing an operation is the daemon's to log and show.
	if o.Spool.Log == nil {
		o.Spool.Log = o.Log
	}
	if o.Spool.OnSyncDir == nil {
		o.Spool.OnSyncDir = d.syncedDir
	}
	d.alerts = newAlerts(d.alertChanged)
	d.metrics = newMetrics(d)
	d.metrics.alerts = d.alerts
	return d, nil
}

// LockAfterDeathWait is how long a starting daemon waits for the spool's
// lock when the daemon that held it is gone (its pid file names a process
// that no longer runs).
var LockAfterDeathWait = 10 * time.Second

// pidAlive reports whether the pid file names a process that runs (an
// unreadable file counts as alive: no wait on a guess).
func pidAlive(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return true
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	return processAlive(pid)
}

// ErrAlreadyRunning: another daemon holds this spool.
var ErrAlreadyRunning = errors.New("service: another agentspool daemon is already running on this spool")

// Run delivers until ctx ends. A cancelled ctx lets the GUI step in
// progress finish; messages waiting for acks stay in cur/, marked
// submitted, and are picked up again by the next start.
func (d *Daemon) Run(ctx context.Context) error {
	// StrictModes: the daemon types what lands in new/ into the person's
	// windows, so nobody else may be able to put it there.
	if err := d.sp.CheckModes(); err != nil {
		return fmt.Errorf("service: refusing to start: %w", err)
	}
	lock := flock.New(filepath.Join(d.sp.Root, ".daemon.lock"))
	ok, err := lock.TryLock()
	if err != nil {
		return fmt.Errorf("service: daemon lock: %w", err)
	}
	pidFile := filepath.Join(d.sp.Root, ".daemon.pid")
	// A daemon killed a moment ago may still hold the lock through a
	// child of its, forked and not yet exec'd (a tmux command: the lock
	// is let go at the exec), for as long as a loaded machine takes to
	// run it. The restart waits for that, not for a daemon that runs.
	for end := time.Now().Add(LockAfterDeathWait); !ok && !pidAlive(pidFile) && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		if ok, err = lock.TryLock(); err != nil {
			return fmt.Errorf("service: daemon lock: %w", err)
		}
	}
	if !ok {
		pid, _ := os.ReadFile(pidFile)
		return fmt.Errorf("%w (pid %s; lock %s)", ErrAlreadyRunning, strings.TrimSpace(string(pid)), lock.Path())
	}
	defer lock.Unlock()
	if err := safeio.WriteFile(filepath.Join(d.sp.Root, ".daemon.pid"), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o600); err != nil {
		d.log.Warn("pid file", "err", err)
	}

	d.journal, err = openJournal(filepath.Join(d.sp.Root, "journal.jsonl"))
	if err != nil {
		return err
	}
	defer d.journal.Close()
	d.journal.onErr = func(err error) { d.degrade("journal", err) }
	d.journal.onOK = func() { d.clearDegraded("journal") }
	d.journal.m = d.metrics

	d.start = d.now()
	d.ctx = ctx
	d.metrics.start.Set(float64(d.start.UnixNano()) / 1e9)
	d.metrics.seedFailed(d.sp)
	if d.cfg.Metrics != "" {
		defer d.serveMetrics(ctx, d.cfg.Metrics)()
	}
	for _, a := range d.cfg.Agents {
		if err := d.sp.EnsureAgent(a.Name); err != nil {
			return err
		}
		// An ack in the inbox marks a message done: like the spool, the
		// inbox must be one nobody else can write to (issue 11 item 4).
		if err := safeio.MkdirPrivate(a.Inbox); err != nil {
			return fmt.Errorf("service: refusing to start: inbox of %s: %w", a.Name, err)
		}
	}
	if n, err := d.sp.SweepTmp(TmpMaxAge, d.now()); err != nil {
		d.log.Warn("tmp sweep failed", "err", err)
	} else if n > 0 {
		d.log.Info("removed abandoned tmp files", "count", n)
	}

	w, err := newWatcher(d.sp, d.log, d.poke)
	if err != nil {
		return err
	}
	defer w.Close()

	if err := d.recover(); err != nil {
		return err
	}

	guiDone := make(chan struct{})
	go func() { defer close(guiDone); d.guiWorker(ctx) }()
	if d.notifier != nil {
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.notifyWorker(ctx) }()
	}

	for _, w := range d.cfg.Warnings {
		d.log.Warn("config: " + w)
	}
	d.log.Info("daemon started", "spool", d.sp.Root, "agents", len(d.cfg.Agents), "config", d.cfg.Summary())
	tick := time.NewTicker(d.cfg.ScanInterval)
	defer tick.Stop()
	statusTick := time.NewTicker(250 * time.Millisecond)
	defer statusTick.Stop()
	d.poke()
	for {
		select {
		case <-ctx.Done():
			<-guiDone
			// Claimed but never started: back to the queue, as they were.
			for drained := false; !drained; {
				select {
				case e := <-d.jobs:
					d.postpone(e, time.Time{}, errors.New("daemon stopping"))
				default:
					drained = true
				}
			}
			d.wg.Wait()
			d.setAll("stopped")
			d.writeStatus(false)
			if err := d.dl.Timings.Save(); err != nil {
				d.log.Warn("timings not saved", "err", err)
			}
			d.log.Info("daemon stopped")
			return nil
		case <-d.wake:
		case <-tick.C:
			if n, err := d.sp.SweepTmp(TmpMaxAge, d.now()); err == nil && n > 0 {
				d.log.Info("removed abandoned tmp files", "count", n)
			}
		case <-statusTick.C:
			d.evaluateAlerts(false)
			d.writeStatus(true)
			continue
		}
		d.schedule()
	}
}

// poke asks the main loop for a scan; extra pokes coalesce.
func (d *Daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Daemon) agent(name string) *agentState {
	st := d.agents[name]
	if st == nil {
		st = newAgentState(nil, "unknown agent")
		d.agents[name] = st
	}
	return st
}
