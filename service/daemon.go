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
	"math"
	"os"
	"path/filepath"
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
	dl      *deliver.Deliverer
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
	needsUndo  bool   // a delivery may have left a paste in the input (crash)
	hookNote   string // the last deliver_when decision logged (ready.go)
	merged     int    // submits the agent's hook saw merged with other text
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
	Waiter    confirm.Waiter
	Log       *slog.Logger
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
		cfg: o.Config, sp: o.Spool, dl: o.Deliverer, waiter: o.Waiter, log: o.Log,
		now:      time.Now,
		wake:     make(chan struct{}, 1),
		jobs:     make(chan spool.Entry, 1024),
		agents:   map[string]*agentState{},
		notifier: o.Notifier,
		notes:    make(chan alertNote, 64),
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
	if !ok {
		pid, _ := os.ReadFile(filepath.Join(d.sp.Root, ".daemon.pid"))
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

// schedule claims the next message of every agent that has none in flight.
func (d *Daemon) schedule() {
	names, err := d.sp.Agents()
	if err != nil {
		d.log.Error("scan agents", "err", err)
		return
	}
	now := d.now()
	var soonest time.Time
	for _, name := range names {
		d.mu.Lock()
		st := d.agent(name)
		busy, draftUntil := st.busy, st.draftUntil
		d.mu.Unlock()
		if busy {
			continue
		}
		if now.Before(draftUntil) {
			if soonest.IsZero() || draftUntil.Before(soonest) {
				soonest = draftUntil
			}
			d.setState(name, "waiting for the input to be cleared", "it holds a draft; looked at again "+draftUntil.Format(time.TimeOnly))
			continue
		}
		if reason, held := d.sp.AgentHeld(name); held {
			d.setState(name, "held", reason)
			continue
		}
		e, ok, wake, err := d.sp.Next(name, now)
		if err != nil {
			d.log.Error("scan", "agent", name, "err", err)
			continue
		}
		if !ok {
			if !wake.IsZero() && (soonest.IsZero() || wake.Before(soonest)) {
				soonest = wake
			}
			d.setState(name, "idle", "")
			continue
		}
		if st.cfg == nil {
			d.fail(e, fmt.Sprintf("unknown agent %q: it is not in %s (agents: %s)", name, d.cfg.Path, strings.Join(d.cfg.Names(), ", ")))
			d.poke()
			continue
		}
		if settled, at := d.sp.Settled(e, SettleWindow, now); !settled {
			// Still being written in place: wait until it rests.
			if soonest.IsZero() || at.Before(soonest) {
				soonest = at
			}
			d.setState(name, "waiting for a file still being written", e.Name)
			continue
		}
		if ok, at, why := d.readyFor(st, e, now, true); !ok {
			if soonest.IsZero() || at.Before(soonest) {
				soonest = at
			}
			d.setState(name, "waiting for the agent to be ready", why)
			continue
		}
		if d.refuseSameID(e) {
			d.poke()
			continue
		}
		c, err := d.sp.Claim(e)
		if err != nil {
			if !spool.IsGone(err) {
				d.log.Error("claim", "id", e.ID, "agent", name, "err", err)
			}
			continue
		}
		if c.OrigName != "" && e.OrigName == "" {
			// The claim named it: the journal keeps the sender's name
			// beside the daemon's, as names/ does.
			d.journal.Renamed(c)
			d.log.Debug("named at claim", "agent", name, "name", c.Name, "original", c.OrigName)
		}
		d.logMove(c, spool.StateNew, spool.StateCur, nil)
		d.mu.Lock()
		st.busy = true
		d.mu.Unlock()
		d.setState(name, "queued for the desktop", c.ID)
		d.jobs <- c
	}
	if !soonest.IsZero() {
		time.AfterFunc(time.Until(soonest)+time.Millisecond, d.poke)
	}
}

// refuseSameID keeps one message per id live for an agent. An ack names
// only the id, so of two live messages with one id (two drops of
// status.md, two files with the same id:, two concurrent send --id X)
// either one's ack would confirm the other. Of the messages of e's agent
// in new/ and cur/ with e's id, the one in cur/ (in flight), else the one
// that entered first (then by name), is delivered; every other is failed
// at the claim, with a reason that says to send it again with another
// id. It reports whether e itself was refused. (A message whose id was
// used by one already done or failed is no duplicate: its acks count
// only from its own submit.)
func (d *Daemon) refuseSameID(e spool.Entry) bool {
	var same []spool.Entry
	for _, st := range []spool.State{spool.StateCur, spool.StateNew} {
		es, err := d.sp.Scan(st, e.Agent)
		if err != nil {
			d.log.Warn("scan for messages with the same id", "agent", e.Agent, "err", err)
			return false
		}
		for _, o := range es {
			if o.ID == e.ID && !(o.State == e.State && o.Name == e.Name) {
				same = append(same, o)
			}
		}
	}
	if len(same) == 0 {
		return false
	}
	before := func(a, b spool.Entry) bool {
		if a.State != b.State {
			return a.State == spool.StateCur
		}
		if ta, tb := a.EnteredAt(), b.EnteredAt(); !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return a.Name < b.Name
	}
	keep := e
	for _, o := range same {
		if before(o, keep) {
			keep = o
		}
	}
	name := func(x spool.Entry) string {
		if x.OrigName != "" {
			return x.OrigName
		}
		return x.Name
	}
	refused := false
	for _, o := range append(same, e) {
		if o.State != spool.StateNew || (o.State == keep.State && o.Name == keep.Name) {
			continue
		}
		reason := fmt.Sprintf("another message with id %s for %s is queued or in flight (%s, in %s/): an ack names only the id, so one could confirm the other; send this one again with another id",
			e.ID, e.Agent, name(keep), keep.State)
		d.fail(o, reason)
		if o.Name == e.Name {
			refused = true
		}
	}
	return refused
}

// recover handles what a previous run left in cur/: acked → done; submitted
// and still inside its ack window → wait for the ack; anything else →
// delivered again, after taking back a paste it may have left in the input.
func (d *Daemon) recover() error {
	es, err := d.sp.Scan(spool.StateCur, "")
	if err != nil {
		return err
	}
	for _, e := range es {
		d.mu.Lock()
		st := d.agent(e.Agent)
		d.mu.Unlock()
		if st.cfg == nil {
			d.fail(e, fmt.Sprintf("unknown agent %q: it is not in %s", e.Agent, d.cfg.Path))
			continue
		}
		if st.busy {
			// Two claimed messages for one agent (an operator moved files):
			// keep one in flight, queue the other again.
			if p, err := d.sp.Postpone(e, time.Time{}); err == nil {
				d.logMove(p, spool.StateCur, spool.StateNew, nil)
			}
			continue
		}
		d.mu.Lock()
		st.busy = true
		d.mu.Unlock()
		if d.acked(e, st.cfg, nil) {
			const why = "recovered: acked before the restart"
			if d.done(e, why) {
				d.mu.Lock()
				st.busy = false
				d.mu.Unlock()
			} else {
				// Still in cur/: its agent stays busy until the move works.
				d.stuck(e, func() bool { return d.done(e, why) })
			}
			continue
		}
		if !e.Submitted.IsZero() {
			d.log.Info("recovered: waiting for ack", "id", e.ID, "agent", e.Agent, "attempt", e.Attempt)
			left := e.Submitted.Add(st.cfg.AckTimeout).Sub(d.now())
			d.awaitAck(e, st.cfg, max(left, 0))
			continue
		}
		if e.Pasting {
			d.mu.Lock()
			st.needsUndo = true
			d.mu.Unlock()
		}
		d.log.Info("recovered: delivering again", "id", e.ID, "agent", e.Agent, "attempt", e.Attempt)
		d.jobs <- e
	}
	return nil
}

// guiWorker runs deliveries one at a time; the desktop lock serialises
// them with other processes too.
func (d *Daemon) guiWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-d.jobs:
			d.deliverOne(e)
		}
	}
}

func (d *Daemon) deliverOne(e spool.Entry) {
	d.mu.Lock()
	st := d.agents[e.Agent]
	a := st.cfg
	needsUndo := st.needsUndo
	d.mu.Unlock()

	if e.Submitted.IsZero() && !needsUndo {
		// Deliveries queue for the desktop: the agent may have turned busy
		// since the claim (a person's prompt). Back to new/, in its place.
		if ok, _, why := d.readyFor(st, e, d.now(), false); !ok && d.postpone(e, time.Time{}, errors.New("the agent turned busy before the paste: "+why)) {
			d.release(e.Agent)
			return
		}
	}
	msg, err := d.sp.Read(e)
	if err != nil {
		mc := d.countsOf(e)
		mc.ReadFails++
		d.setCounts(e, mc)
		s := readOutcome(err, mc.ReadFails)
		if s.Kind == stepFail {
			if e.OrigName != "" && !strings.Contains(s.Reason, e.OrigName) {
				s.Reason += " (original file name: " + e.OrigName + ")"
			}
		}
		d.apply(e, s, a)
		return
	}
	if mc := d.countsOf(e); mc.ReadFails > 0 {
		mc.ReadFails = 0
		d.setCounts(e, mc)
	}
	if _, submitted := e.AckSince(); submitted {
		// Submitted before (a retry, a release): its ack may have come
		// meanwhile. Never submitted: no ack can be about it.
		if d.acked(e, a, msg) {
			d.apply(e, step{Kind: stepDone, Reason: "acked before the retry"}, a)
			return
		}
	}
	text, err := d.render(e, msg, a)
	if err != nil {
		d.apply(e, step{Kind: stepFail, Reason: err.Error()}, a)
		return
	}
	t := d.target(a, msg.Priority == spool.PriorityUrgent)
	// A retry after no ack: the submit may have been dropped, the paste
	// still in the input; deliver looks before pasting again.
	t.Resubmit = e.Attempt > 0
	t.QuietWait = func() { d.setState(e.Agent, "waiting for a quiet desk", e.ID) }
	// The GUI sequence is never cut in the middle: a stop waits for it.
	gctx := context.WithoutCancel(d.ctx)
	if needsUndo {
		prog := d.dl.ProgramOf(t)
		if prof, ok := prog.Profile(); ok && prof.EmptySubmitIgnored {
			// An agent CLI in a terminal: the crashed delivery's paste, if
			// it landed, waits whole in the input (a terminal pastes in one
			// piece). An Enter submits it, and the CLI's hook acks it; an
			// Enter into an empty input does nothing. No undo, no look:
			// neither is safe in a terminal.
			// Acks count from this submit: the crashed one never happened.
			tapped := d.now()
			if _, err := d.dl.SubmitAgain(gctx, t, false); err != nil {
				d.apply(e, step{Kind: stepHold, HoldAgent: true, Reason: "a paste may be left in the input of " + prog.String() + " after a crash, and its submit could not be tapped: " + err.Error()}, a)
				return
			}
			if ok, _ := d.waiter.Wait(d.ctx, confirm.Ack{Inbox: a.Inbox, ID: e.ID, Since: tapped, Pattern: a.AckPattern, Body: msg.Body}, SubmitAgainAfter); ok {
				d.mu.Lock()
				st.needsUndo = false
				d.mu.Unlock()
				d.journal.Event(e, "submit_again", "after a restart: the crashed delivery's paste was in the input")
				d.apply(e, step{Kind: stepDone, Reason: "acked: the crashed delivery's paste, submitted after the restart"}, a)
				return
			}
		} else if prog.IsTerminal() {
			if err := d.dl.Undo(gctx, t); err != nil {
				d.apply(e, step{Kind: stepHold, HoldAgent: true, Reason: "a paste may be left in the input after a crash and could not be taken back: " + err.Error()}, a)
				return
			}
		} else if t.Read != nil {
			// Look, do not undo: the crashed delivery may not have pasted
			// at all (a message is marked pasting before it waits for the
			// desk), and an undo in an input without our paste takes back
			// another edit; in Lexical it brought back the last message
			// submitted.
			d.dl.MayHaveLeft(a.Name, []byte(text))
		} else if err := d.dl.Undo(gctx, t); err != nil {
			d.apply(e, step{Kind: stepHold, HoldAgent: true, Reason: "a paste may be left in the input after a crash and could not be taken back: " + err.Error()}, a)
			return
		}
		d.mu.Lock()
		st.needsUndo = false
		d.mu.Unlock()
	}
	// No paste without its mark on disk (issue "Nothing silent, nothing
	// false" item 7): a crash after a paste the spool does not know of
	// would paste again without a look. The message waits, counted, and
	// the daemon shows itself degraded meanwhile.
	m, err := d.sp.Mark(e, true, time.Time{})
	if err != nil {
		d.degrade("pasting mark", fmt.Errorf("%s: %w", e.Name, err))
		mc := d.countsOf(e)
		mc.GUIFails++
		d.setCounts(e, mc)
		s := step{Kind: stepPostpone, Delay: time.Second, Cause: fmt.Errorf("the pasting mark could not be written, so nothing is pasted: %w", err)}
		if mc.GUIFails >= guiFailuresToFail {
			s = step{Kind: stepFail, Reason: fmt.Sprintf("the pasting mark could not be written %d times: %v", mc.GUIFails, err)}
		}
		d.log.Error("the pasting mark could not be written; not pasting", "id", e.ID, "agent", e.Agent, "err", err)
		d.apply(e, s, a)
		return
	}
	d.clearDegraded("pasting mark")
	e = m
	d.setState(e.Agent, "delivering", e.ID)
	t.Submitted = func() {
		// Recorded before the lock is released: a crash from here on
		// finds the message marked and waits for its ack.
		at := d.now()
		if m, err := d.sp.Mark(e, false, at); err == nil {
			e = m
		} else {
			// Its ack still counts from this submit (AckSince).
			d.log.Error("mark submitted", "id", e.ID, "err", err)
			e.Submitted = at
			if e.FirstSubmit.IsZero() {
				e.FirstSubmit = at
			}
		}
	}
	rep, err := d.dl.Deliver(gctx, t, text)
	d.journal.Attempt(e, rep, err)

	d.mu.Lock()
	st.again, st.terminal = nil, rep.Program.IsTerminal()
	if prof, ok := rep.Program.Profile(); ok && prof.EmptySubmitIgnored && err == nil {
		st.again = &t
	}
	mc := d.counts[msgKey(e)]
	c := counters{Fails: st.fails, GUIFails: mc.GUIFails, Drafts: mc.Drafts, QuietNoted: mc.QuietNoted}
	d.mu.Unlock()
	if _, ok := deliver.IsFocusMismatch(err); ok {
		// Is the agent's window still where it was? A closed terminal is
		// "gone", not a coords.yaml to fix (asked after the delivery, as
		// resolve asks before it).
		if at, absent, aerr := d.dl.AgentAbsent(t); aerr == nil && absent {
			err = &absentError{at: at, err: err}
		}
	}
	s := outcome(err, rep, msg, e, a, c)
	d.mu.Lock()
	st.fails = s.Counters.Fails
	st.draftUntil = time.Time{}
	if deliver.IsDraft(err) && s.Kind == stepPostpone {
		st.draftUntil = d.now().Add(s.Delay)
	}
	mc.GUIFails, mc.Drafts, mc.QuietNoted = s.Counters.GUIFails, s.Counters.Drafts, s.Counters.QuietNoted
	d.mu.Unlock()
	d.setCounts(e, mc)
	switch {
	case s.Kind == stepAwaitAck:
		d.log.Info("submitted", "id", e.ID, "agent", e.Agent, "attempt", e.Attempt+1,
			"lock_wait", rep.LockWait, "gui", rep.GUI, "focus", rep.Focus, "fetch", rep.Fetch, "settle", rep.Settle)
	case s.LogQuiet:
		d.log.Info("a person is using the desktop; the message waits for a quiet desk", "id", e.ID, "agent", e.Agent, "waited", rep.QuietWait)
	case s.LogMismatchHold:
		w, _ := deliver.IsFocusMismatch(err)
		var ae *absentError
		gone := errors.As(err, &ae)
		d.log.Error("focus mismatch: parking the agent's queue", "agent", e.Agent, "id", e.ID,
			"mismatches", MismatchesToHold, "focused_title", w.Title, "focused_pid", w.PID, "want", a.Window, "window_gone", gone)
	case s.Kind == stepHold && s.HoldAgent:
		d.log.Error("parking the agent's queue", "agent", e.Agent, "id", e.ID, "reason", s.Reason)
	}
	if deliver.IsNotQuiet(err) {
		d.setState(e.Agent, "waiting for a quiet desk", e.ID)
	}
	d.apply(e, s, a)
}

// acked reports whether e's ack is in a's inbox (ackOf). A message never
// submitted is never acked.
func (d *Daemon) acked(e spool.Entry, a *config.Agent, msg *spool.Message) bool {
	ack, ok := d.ackOf(e, a, msg)
	if !ok {
		return false
	}
	found, _ := confirm.Find(ack)
	return found
}

// ackOf is how e's ack is found: in a's inbox, written since e was first
// submitted (spool.Entry.AckSince: never from its entry, or the ack of an
// earlier message with the same id, written after this one entered, would
// count), and by a's ack pattern if it has one. ok is false for a message
// never submitted: no file makes it done. With a pattern, a file that
// holds the message's body is a copy of it, not its ack: the body is msg's,
// or read here (unreadable: only <id>.ack counts).
func (d *Daemon) ackOf(e spool.Entry, a *config.Agent, msg *spool.Message) (confirm.Ack, bool) {
	since, ok := e.AckSince()
	if !ok {
		return confirm.Ack{}, false
	}
	ack := confirm.Ack{Inbox: a.Inbox, ID: e.ID, Since: since, Pattern: a.AckPattern}
	if a.AckPattern == nil {
		return ack, true
	}
	if msg == nil {
		m, err := d.sp.Read(e)
		if err != nil {
			return ack, true
		}
		msg = m
	}
	ack.Body = msg.Body
	return ack, true
}

// awaitAck waits for e's ack outside the desktop lock, so other agents get
// their deliveries meanwhile.
func (d *Daemon) awaitAck(e spool.Entry, a *config.Agent, timeout time.Duration) {
	d.setState(e.Agent, "waiting for ack", e.ID)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ack, submitted := d.ackOf(e, a, nil)
		if !submitted {
			// Only a submitted message waits for its ack; nothing
			// submitted it, so none can come: count it as none.
			d.log.Error("waiting for the ack of a message never submitted", "id", e.ID, "agent", e.Agent)
			ack.Inbox, ack.ID, ack.Since = a.Inbox, e.ID, d.now()
		}
		d.mu.Lock()
		again := d.agent(e.Agent).again
		d.mu.Unlock()
		first := timeout
		if again != nil {
			first = min(timeout, SubmitAgainAfter)
		}
		ok, err := d.waiter.Wait(d.ctx, ack, first)
		if again != nil && !ok && err == nil && timeout > first {
			// No hook saw the submit: the CLI may have taken the Enter
			// for a newline, the message waiting in its input.
			_, serr := d.dl.SubmitAgain(d.ctx, *again, true)
			why := "no ack " + first.String() + " after the submit: tapped it again"
			if serr != nil {
				why = "no ack " + first.String() + " after the submit; tapping it again failed: " + serr.Error()
			}
			d.log.Warn("submit again", "id", e.ID, "agent", e.Agent, "why", why)
			d.journal.Event(e, "submit_again", why)
			ok, err = d.waiter.Wait(d.ctx, ack, timeout-first)
		}
		if err != nil && d.ctx.Err() != nil {
			return // stopping: it stays in cur/, marked submitted
		}
		if err != nil {
			d.log.Warn("ack wait failed; counting it as no ack", "id", e.ID, "agent", e.Agent, "inbox", a.Inbox, "err", err)
		}
		var s step
		attempt := e.Attempt + 1
		switch {
		case ok:
			s = step{Kind: stepDone, Reason: "acked"}
			d.noteSubmit(e, a)
		case attempt >= a.MaxAttempts:
			s = step{Kind: stepFail, Reason: fmt.Sprintf("no ack from %s within %v, after %d attempts", e.Agent, a.AckTimeout, attempt)}
		}
		if s.Kind != 0 {
			d.apply(e, s, a)
			return
		}
		// The submit may have been dropped with the paste left in the
		// input: whatever goes to this agent next looks first.
		d.dl.LookFirst(e.Agent)
		// A terminal's CLI gets more time between paste and submit.
		d.mu.Lock()
		terminal := d.agent(e.Agent).terminal
		d.mu.Unlock()
		if terminal {
			d.dl.NoAck(e.Agent)
		}
		backoff := doubled(a.Backoff, attempt, math.MaxInt64)
		at := d.now().Add(backoff)
		cause := fmt.Errorf("no ack within %v; retry in %v", timeout, backoff)
		if !d.retry(e, at, cause) {
			d.stuck(e, func() bool { return d.retry(e, at, cause) })
			return
		}
		d.release(e.Agent)
	}()
}

// SubmitAgainAfter is how long an agent CLI's hook has to see a submit
// before the submit key is tapped again (deliver.SubmitAgain). The hooks
// answer within a second on a loaded desk; the second tap into an input the
// first submit emptied does nothing.
const SubmitAgainAfter = 3 * time.Second

func (d *Daemon) target(a *config.Agent, urgent bool) deliver.Target {
	combo := func(s string) []string {
		keys, _ := config.ParseKeyCombo(s) // validated when the config loaded
		return keys
	}
	t := deliver.Target{
		Agent: a.Name, X: a.X, Y: a.Y, PID: a.PID, Class: a.Class, Urgent: urgent,
		Window: describeWindow(a),
		Submit: combo(a.SubmitFor(urgent)), Undo: combo(a.Undo),
		PasteSettle: a.PasteSettle, Verify: a.VerifyPaste,
		Kind: a.Kind, PasteKey: combo(a.PasteKey),
	}
	if a.Window != "" {
		// The focus check refuses a title that several agents' windows
		// match (issue 11 item 14): nothing is pasted.
		t.Match = d.cfg.Matcher(a, ambiguousOnce(d.log, a.Name))
	}
	keys := &deliver.DraftKeys{SelectAll: combo(a.SelectAll), Copy: combo(a.Copy), Caret: combo(a.Caret)}
	// A terminal is never looked into unless a look was written for it
	// (config then refuses ctrl+c as its copy key): its select-all and
	// copy keys mean line-start and interrupt. An agent of kind auto whose
	// window turns out to be a terminal loses its look in deliver.
	if a.Kind != config.KindTerminal || a.DraftCheck || a.VerifyPaste {
		t.Read = keys
	}
	t.LookInTerminal = a.Kind == config.KindTerminal && (a.DraftCheck || a.VerifyPaste)
	if a.DraftCheck {
		t.Draft = keys
	}
	return t
}

// describeWindow names the agent's window for messages: its title
// matcher, class and pid, as configured.
func describeWindow(a *config.Agent) string {
	var parts []string
	if a.Window != "" {
		parts = append(parts, fmt.Sprintf("%q", a.Window))
	}
	if a.Class != "" {
		parts = append(parts, "class "+a.Class)
	}
	if a.PID != 0 {
		parts = append(parts, fmt.Sprintf("pid %d", a.PID))
	}
	return strings.Join(parts, " ")
}

// render builds the pasted text: the envelope line, then the body, or in
// pointer mode (and for long messages) a line naming a copy of the message.
func (d *Daemon) render(e spool.Entry, m *spool.Message, a *config.Agent) (string, error) {
	from := m.From
	if from == "" {
		from = "-"
	}
	env, err := d.cfg.RenderEnvelope(config.EnvelopeFields{ID: e.ID, From: from, To: e.Agent, Priority: m.Priority.String(), Attempt: e.Attempt + 1})
	if err != nil {
		return "", err
	}
	body := strings.TrimRight(m.Body, "\r\n")
	if a.Paste != config.PastePointer && len(env)+1+len(body) <= MaxPasteBytes {
		return env + "\n" + body, nil
	}
	// The copy is not written into the inbox itself: a file there whose
	// name holds the id is an ack.
	// Private, as the inbox: another user who could write here could
	// swap the copy before the agent reads it.
	dir := filepath.Join(filepath.Dir(a.Inbox), "messages")
	if err := safeio.MkdirPrivate(dir); err != nil {
		return "", fmt.Errorf("pointer copy: %w", err)
	}
	path := filepath.Join(dir, e.ID+".md")
	if err := safeio.WriteFile(path, m.Raw, 0o600); safeio.IsSyncDirError(err) {
		d.syncedDir(dir, err)
	} else if err != nil {
		return "", fmt.Errorf("pointer copy: %w", err)
	}
	return env + "\n" + "The message is in " + path + " (read it, then ack " + e.ID + ")", nil
}
