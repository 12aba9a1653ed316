// The step sequence of one delivery (platform-neutral): the Deliverer,
// Deliver and its GUI phase, from the desktop lock to the give-back, and
// the poll that every wait is made of.

package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Deliverer runs deliveries, one at a time per desktop lock.
type Deliverer struct {
	Desktop Desktop
	Lock    *DesktopLock // nil: no cross-process lock (single-process tests)
	Timings *Timings
	Log     *slog.Logger
	// Poll is the interval between checks of a condition; default 1 ms.
	Poll time.Duration
	// Inspect finds what runs behind a window; nil: Inspect (the window's
	// class and the process table). Tests script it.
	Inspect func(Window) Program
	// Tries is how often one delivery clicks again when the focus is not
	// the agent's; default 3.
	Tries int
	// QuietFor: deliver only when no person touched keyboard or mouse for
	// this long (0: do not wait). QuietMaxWait: after that long, urgent
	// messages go anyway and others give up this attempt (IsNotQuiet).
	QuietFor, QuietMaxWait time.Duration
	// AfterStep, if set, is called as each GUI step ends, with its name
	// (Report.Steps: "focused", "offered", "pasted", "submitted", ...),
	// the desktop lock held. The daemon's crash tests kill the process
	// there (CrashAfter in service).
	AfterStep func(step string)

	mu sync.Mutex
	// person is the last input known to be a person's; personSeen when
	// (on this machine's clock; keys held down or kept back count as now).
	// personGen counts new evidence of a person: a delivery that sees it
	// change after its quiet check stops.
	person     Input
	havePerson bool
	personSeen time.Time
	personGen  uint64
	noIdle     bool // the desktop cannot tell idle time: said once
	// clicks are our clicks of the last multiClickTime (see click.go).
	clicks      []click
	wroteClicks bool
	// left: agents whose input an earlier delivery may have left text
	// in (a disturbed paste that could not be seen, a paste undone
	// without a look, a crashed delivery's); their next delivery looks
	// first (see lookFirst).
	left map[string]leftover
	// gaps: the gap between paste and submit learned per agent (see
	// learnGap), over its CLI's own; tappedAgain: the agent's submit was
	// tapped again since its last delivery.
	gaps        map[string]time.Duration
	tappedAgain map[string]bool
	// slowLooks: never take an input for empty by its PRIMARY (the
	// draft check as it was before, for the benchmark's comparison).
	slowLooks bool
}

// Deliver types text into t's window and submits it. On error the message
// was not submitted (see Report.Pasted for whether text is left behind);
// IsTemporary tells whether another attempt may succeed.
func (d *Deliverer) Deliver(ctx context.Context, t Target, text string) (rep Report, err error) {
	d.ready()
	t = d.resolve(t, &rep)
	if t.terminal() {
		if text, err = forTerminal(text, "the agent's terminal"); err != nil {
			return rep, err
		}
	}
	t.PasteSettle = max(t.PasteSettle, d.learnedGap(t.Agent))
	if prof, ok := rep.Program.Profile(); ok && longPaste([]byte(text)) {
		t.PasteSettle = max(t.PasteSettle, prof.LongPasteGap)
	}
	q, err := d.lockQuiet(ctx, t, &rep)
	if err != nil {
		return rep, err
	}
	defer d.unlock()
	rep.started, rep.afterStep = time.Now(), d.AfterStep
	defer func() {
		rep.GUI = time.Since(rep.started)
		if rep.GUI > slowGUI {
			d.Log.Warn("slow GUI phase", append([]any{"agent", t.Agent, "gui", rep.GUI.Round(time.Millisecond), "err", err}, rep.Steps...)...)
		}
	}()
	err = d.gui(ctx, t, []byte(text), q, &rep)
	return rep, err
}

// slowGUI: a GUI phase this long is logged with its steps' times.
const slowGUI = 500 * time.Millisecond

// ready fills in the defaults of the optional fields.
func (d *Deliverer) ready() {
	if d.Timings == nil {
		d.Timings = NewTimings(5*time.Millisecond, 5*time.Second)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
}

func (d *Deliverer) lock(ctx context.Context) (time.Duration, error) {
	if d.Lock == nil {
		return 0, nil
	}
	return d.Lock.Lock(ctx)
}

// unlock notes this process's last own input beside the lock, for the
// other processes' quiet checks, and releases the desktop lock.
func (d *Deliverer) unlock() {
	if d.Lock == nil {
		return
	}
	if own, ok := d.Desktop.OwnInput(); ok {
		d.Lock.WriteSidecar("input", fmt.Appendf(nil, "%d %d\n", own.Tick, own.At.UnixNano()))
	}
	d.noteClicks()
	d.Lock.Unlock()
}

// gui runs the GUI steps. q is what the quiet check saw: any new input of a
// person's stops the delivery, unless it is forced.
func (d *Deliverer) gui(ctx context.Context, t Target, text []byte, q quiet, rep *Report) error {
	return d.atDesk(ctx, t, q, rep, func() error { return d.pasteAndSubmit(ctx, t, text, q, rep) })
}

// atDesk runs body with a person's keys kept back (replayed to their window
// after) and the agent's window focused, and gives the focus and the
// pointer back at the end, whatever happens.
func (d *Deliverer) atDesk(ctx context.Context, t Target, q quiet, rep *Report, body func() error) error {
	// Where the person was: given back at the end, whatever happens.
	prev, _ := d.Desktop.Focused()
	px, py, perr := d.Desktop.Pointer()
	rep.step("looked")
	// A person's keys typed from here on are kept back, not typed into
	// the agent's input, and replayed to their window at the end.
	if err := d.Desktop.GrabKeys(); err != nil {
		return &tempError{msg: "a person is busy with the desktop", err: err, person: true}
	}
	rep.step("grabbed")
	defer func() {
		at := time.Now()
		rep.GaveBack = d.giveBack(ctx, t, prev, px, py, perr == nil, rep)
		rep.GiveBack = time.Since(at)
		rep.step("gave_back")
		at = time.Now()
		n, kerr := d.Desktop.ReleaseKeys()
		rep.Release = time.Since(at)
		rep.step("released")
		rep.KeptKeys = n
		if n > 0 {
			// The keys we kept back and replayed were a person's.
			d.sawPerson()
		}
		if kerr != nil {
			d.Log.Error("keys typed during a delivery could not be replayed", "agent", t.Agent, "err", kerr)
		}
	}()

	// Checked before our click: the idle time shows only the latest input,
	// and our click would hide a key the person pressed just before it.
	if d.personActive(q) {
		return errPerson("before the click")
	}
	rep.step("quiet_before_click")
	if err := d.focus(ctx, t, rep); err != nil {
		return err
	}
	rep.step("focused")
	return body()
}

// pasteAndSubmit is the body of a delivery, the agent's window focused.
func (d *Deliverer) pasteAndSubmit(ctx context.Context, t Target, text []byte, q quiet, rep *Report) (err error) {
	// The message itself, whole and alone in the input (an earlier
	// attempt's paste, left there): submit it.
	submitLeft := func() error {
		rep.Landing = "left"
		if d.personActive(q) {
			return errPerson("before the submit")
		}
		t.submitting()
		if err := d.guardedKey(ctx, t, t.Submit, rep); err != nil {
			return err
		}
		rep.step("submitted")
		rep.Submitted = true
		d.clearLeft(t.Agent)
		return nil
	}
	left, err := d.stillThere(ctx, t, text, rep)
	if err == nil && !left {
		left, err = d.lookFirst(ctx, t, text, rep)
	}
	if err != nil {
		return err
	}
	if left {
		return submitLeft()
	}
	var saved []byte // the person's clipboard; offer reads it
	if t.Draft != nil {
		// The draft check's copy replaces the clipboard: it puts this back.
		if saved, err = d.Desktop.Clipboard(); err != nil {
			return saveErr(err)
		}
		left, err := d.draftCheck(ctx, t, text, saved, rep)
		if err != nil {
			return err
		}
		if left {
			return submitLeft()
		}
		rep.step("draft_checked")
	}
	offer, err := d.offer(ctx, text, &saved, rep)
	if err != nil {
		return err
	}
	rep.step("offered")
	restored := false
	defer func() {
		if !restored {
			d.restore(offer, saved, rep)
		}
	}()

	if d.personActive(q) {
		return errPerson("before the paste")
	}
	rep.step("quiet_before_paste")
	for try := 0; ; try++ {
		offer, err = d.paste(ctx, t, offer, text, &saved, rep)
		if err == nil || !errors.Is(err, errNotOurs) || rep.PasteRequests > 0 || try == 2 {
			break
		}
		// A person copied before the ctrl+v: nothing was pasted. Their
		// copy is what they get back; the message is offered again.
		offer.Close()
		next, oerr := d.offer(ctx, text, &saved, rep)
		if oerr != nil {
			// The closed offer stays for the deferred restore, which
			// finds it lost and keeps the person's copy (a nil one
			// there took the Windows daemon down under Wine).
			return oerr
		}
		offer = next
		rep.Reoffered++
	}
	if err != nil {
		return err
	}
	rep.step("pasted")
	if t.PasteSettle > 0 {
		rep.Settle = t.PasteSettle
		if err := sleep(ctx, t.PasteSettle); err != nil {
			return d.blindUndo(t, text, rep, err)
		}
		rep.step("settled_paste")
	}
	if d.personActive(q) {
		if !t.terminal() || len(t.Undo) > 0 {
			return d.blindUndo(t, text, rep, errPerson("before the submit"))
		}
		// A terminal whose program has no safe undo: the paste is whole
		// in its input (a terminal pastes in one piece, and the person's
		// keys are kept back, not typed there), so the submit goes on
		// rather than leave the paste for the next message to merge with.
		rep.KeptOn = true
	}
	rep.step("quiet_before_submit")
	// The submit goes only while the message still owns the CLIPBOARD,
	// checked under the same server grab as the key: then every read of
	// the paste got our text (an offer is never taken back once lost).
	// A terminal is the exception once its read was served: it converts a
	// paste once and inserts that, so a person's copy after the burst
	// ended (in the gap its CLI needs before the Enter) changes nothing in
	// its input; refusing the Enter there left the paste unsubmitted and
	// the agent held (the proof's clipboard clobber, into Codex CLI).
	owned := d.owns(offer)
	readWhole := terminalHasIt(t, rep)
	stillOurs := func() bool {
		return rep.verified || readWhole || owned() // verified: the input was seen to hold the message
	}
	t.submitting()
	if err := d.guardedKeyIf(ctx, t, t.Submit, stillOurs, rep); err != nil {
		if !errors.Is(err, errKeyUncertain) || !d.submittedAfterAll(ctx, t, saved, rep) {
			return d.blindUndo(t, text, rep, err)
		}
		rep.SubmitUncertain = true
	}
	rep.step("submitted")
	rep.Submitted = true
	// A request after the burst was taken for ended: the quiet learned was
	// too short (learn from it), and the paste may not be whole.
	if gap, late := lateRequest(offer, rep.AgentWindow.Client, rep.lastRequest); late {
		rep.LateRead = true
		d.Timings.Observe(StepReadGap, gap)
		d.Log.Warn("the agent's window read the clipboard again after its paste was taken for landed; the paste may not be whole", "agent", t.Agent, "gap", gap)
	}
	restored = true
	if err := d.restore(offer, saved, rep); err != nil {
		d.Log.Warn("clipboard not restored", "agent", t.Agent, "err", err)
	}
	rep.step("restored")
	return nil
}

// submittedAfterAll: the submit key went while the focus moved (no server
// grab), so whether the agent's window got it is unknown; look. An empty
// input took it: the message was submitted, and its ack will say so. An
// input that still holds the message did not (the key went elsewhere):
// the caller takes the paste back. Without a way to look, not submitted.
func (d *Deliverer) submittedAfterAll(ctx context.Context, t Target, saved []byte, rep *Report) bool {
	if t.Read == nil {
		return false
	}
	left, err := d.inputText(ctx, t, *t.Read, saved, rep, false)
	return err == nil && len(bytes.TrimSpace(left)) == 0
}

// giveBack returns the focus to the window that had it before the click
// (unless that was the agent's own, or it is gone) and the pointer to where
// it was.
func (d *Deliverer) giveBack(ctx context.Context, t Target, prev Window, px, py int, havePointer bool, rep *Report) bool {
	ok := true
	// Someone moved the focus during our steps, to a window that is neither
	// the agent's nor where it was (a person clicked into their editor, an
	// app came up): it stays where they put it, and the keys kept back
	// meanwhile are replayed there. So does the pointer, unless it is still
	// where our click left it.
	if cur, err := d.Desktop.Focused(); err == nil && cur.ID != 0 && cur.ID != prev.ID && !t.matches(cur) {
		rep.FocusMovedByOthers = true
		if x, y, err := d.Desktop.Pointer(); havePointer && err == nil && x == rep.ClickX && y == rep.ClickY {
			d.Desktop.MovePointer(px, py)
		}
		return true
	}
	if prev.ID != 0 && !t.matches(prev) {
		if err := d.Desktop.Activate(prev); err != nil {
			ok = false
		} else {
			back, _ := d.poll(context.WithoutCancel(ctx), d.Timings.Deadline(StepFocus), func() (bool, error) {
				w, err := d.Desktop.Focused()
				return err == nil && w.ID == prev.ID, nil
			})
			ok = back
		}
	}
	if havePointer {
		if err := d.Desktop.MovePointer(px, py); err != nil {
			ok = false
		}
	}
	return ok
}

// poll checks cond every Poll until it holds, returns an error, deadline
// passes (false, nil) or ctx ends.
func (d *Deliverer) poll(ctx context.Context, deadline time.Duration, cond func() (bool, error)) (bool, error) {
	every := d.Poll
	if every <= 0 {
		every = time.Millisecond
	}
	return pollEvery(ctx, every, deadline, cond)
}

// pollEvery checks cond every interval until it holds, returns an error,
// limit has passed (false, nil) or ctx ends.
func pollEvery(ctx context.Context, every, limit time.Duration, cond func() (bool, error)) (bool, error) {
	end := time.Now().Add(limit)
	for {
		ok, err := cond()
		if ok || err != nil {
			return ok, err
		}
		if time.Now().After(end) {
			return false, nil
		}
		if err := sleep(ctx, every); err != nil {
			return false, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
