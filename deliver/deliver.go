// The step sequence of one delivery (platform-neutral): Target, Report,
// Deliverer.Deliver and its GUI phase, from the desktop lock to the give-back.

package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Target is where one message goes: the agent's input box and how to
// recognise its window.
type Target struct {
	Agent string
	X, Y  int
	// Match reports whether a window title is the agent's.
	Match func(title string) bool
	// Window describes the matcher for messages, e.g. `"Agent-1"`.
	Window string
	// PID, when not 0, must equal the focused window's _NET_WM_PID.
	PID int
	// Class, when set, must equal the window's WM_CLASS instance or class
	// (on Windows: its executable or window class), case aside: what a
	// terminal is started with (xterm -name, --class) and an agent CLI,
	// which rewrites its title, cannot change. With Class or PID set, a
	// nil Match takes any title.
	Class string
	// Kind is the agent's configured kind: "" (as its window is found: a
	// terminal is known by its class, see Inspect), KindChat or
	// KindTerminal (a terminal even if its class is not a known one).
	Kind string
	// LookInTerminal: the config wrote a look (draft check, verifying
	// look) with a terminal's own keys for this agent; otherwise a
	// terminal's input is never looked into (its select-all and copy
	// keys mean line-start and interrupt).
	LookInTerminal bool
	// PasteKey, when set, is the key that pastes (else ctrl+v, or the
	// terminal's own: see Program.PasteKey).
	PasteKey []string
	// Submit is the key combination that sends the input (e.g. enter).
	Submit []string
	// Undo takes a paste back out of the input (e.g. ctrl+z); empty means
	// the app has none, and a paste that went wrong is left for a person.
	Undo []string
	// Submitted, when set, is called the moment the submit key went to the
	// window, still under the lock: the caller records it before anything
	// else can happen (a crash right after must not paste it again).
	Submitted func()
	// Urgent messages go after QuietMaxWait even if the desk is not quiet.
	Urgent bool
	// QuietWait, when set, is called once when the delivery starts waiting
	// for a person to stop typing.
	QuietWait func()
	// Draft, when set, is checked before pasting: the input must be empty.
	Draft *DraftKeys
	// Read, when set, is how to read what the input holds (select all,
	// copy, caret back). After a paste that another client's copy
	// disturbed, it shows what the paste left: an undo only if something
	// is there. (An undo when the paste inserted nothing takes back the
	// edit before it: Lexical's clearing of the last message, which then
	// comes back.) nil: undo without looking.
	Read *DraftKeys
	// Resubmit: an earlier attempt submitted this message and no ack came.
	// If the input still holds exactly the message (the window dropped the
	// submit key), it is submitted as it is, not pasted again (with Read;
	// a paste on top would make the input hold it twice).
	Resubmit bool
	// Verify: after every paste, read the input (with Read) and submit only
	// if it holds the message. Without it, only a burst shorter than the
	// agent's usual is checked so.
	Verify bool
	// PasteSettle is waited after a paste has landed as far as the desktop
	// can see (the window's last read of the clipboard), before the
	// submit: for editors that insert a paste later, from their own event
	// loop (Monaco, VS Code's chat input: 8–27 ms after the paste event),
	// and cancel the insert if a key comes first. Nothing on the desktop
	// marks when their text is in; 0: none.
	PasteSettle time.Duration

	// program is what was found behind the agent's window (fitTo).
	program Program
}

// DraftKeys read what an input holds: select all, copy, then put the caret
// back (which also drops the selection).
type DraftKeys struct {
	SelectAll, Copy, Caret []string
}

// The kinds of agent input (Target.Kind).
const (
	KindChat     = "chat"
	KindTerminal = "terminal"
)

func (t Target) matches(w Window) bool {
	if t.PID != 0 && w.PID != t.PID {
		return false
	}
	if t.Class != "" && !strings.EqualFold(w.Instance, t.Class) && !strings.EqualFold(w.Class, t.Class) {
		return false
	}
	if t.Match == nil {
		return t.Class != "" || t.PID != 0
	}
	return t.Match(w.Title)
}

// terminal reports whether t goes into a terminal: as configured, or as
// its window was found.
func (t Target) terminal() bool { return t.Kind == KindTerminal || t.program.IsTerminal() }

// pasteKey is the key that pastes into t's window.
func (t Target) pasteKey() []string {
	if len(t.PasteKey) > 0 {
		return t.PasteKey
	}
	if t.terminal() {
		p := t.program
		if !p.IsTerminal() {
			p.Terminal = "terminal" // configured, not recognised: the common key
		}
		return p.PasteKey()
	}
	return pasteKey
}

// fitTo fits the delivery to what runs behind the agent's window: in a
// terminal, no look unless one was written for it, the CLI's own undo in
// place of one that would harm it, and the gap the CLI wants between the
// paste and the submit.
func (t Target) fitTo(p Program) Target {
	t.program = p
	if !t.terminal() {
		return t
	}
	if !t.LookInTerminal {
		t.Read, t.Draft, t.Verify = nil, nil, false
	}
	if !p.IsTerminal() {
		p.Terminal = "terminal"
	}
	prof, _ := p.Profile()
	if len(t.Undo) == 0 || Harmful(t.Undo) {
		t.Undo = prof.Undo
	}
	t.PasteSettle = max(t.PasteSettle, prof.SubmitGap)
	return t
}

// Report is what one delivery measured.
type Report struct {
	LockWait time.Duration // waiting for the desktop lock
	GUI      time.Duration // lock taken → submit settled (the GUI phase)
	Focus    time.Duration // click → focus verified
	Readback time.Duration // offer → read back equal
	Fetch    time.Duration // ctrl+v → the window's last read of the paste
	Settle   time.Duration // the settle after the paste (Target.PasteSettle)
	Restore  time.Duration // the person's clipboard put back
	GiveBack time.Duration // focus and pointer given back
	Release  time.Duration // keyboard let go, kept keys replayed
	Refocus  int           // times it took the focus back because it moved
	Focused  Window        // the window that had focus, on a mismatch
	// AgentWindow is the agent's window as found after the click.
	AgentWindow Window
	// Reoffered counts the times a person's copy came before the ctrl+v
	// and the message was offered again (nothing had been pasted).
	Reoffered int
	// PasteReads and PasteRequests count the agent's client's reads of the
	// text, and all its requests (TARGETS too), in the paste's burst.
	PasteReads, PasteRequests int
	// Click is where the input was clicked (the agent's point, or a few
	// pixels aside of it so as not to make a double click).
	ClickX, ClickY int
	// FocusMovedByOthers: at the end the focus was on a third window that
	// someone else chose during the delivery; it was left there.
	FocusMovedByOthers bool
	// SubmitUncertain: the focus moved while the submit key was tapped,
	// and a look found the input empty afterwards: taken for submitted
	// (the ack confirms it).
	SubmitUncertain bool
	// Landing says how far the paste is known to have landed: "read" (the
	// agent's window read the message, and only ours, to the end of a
	// burst as long as its pastes usually are; that the text is in the
	// input nothing on the desktop shows), "seen" (a look at the input
	// found the message there, after a burst shorter than the agent's
	// usual), or "" (not pasted).
	Landing string
	// LateRead: the agent's window asked for the clipboard again after its
	// burst had been taken for ended (before the clipboard was given
	// back): the learned quiet was too short, and the paste may not have
	// landed whole.
	LateRead bool
	// QuickLooks counts the looks that took an input for empty because
	// its window did not take PRIMARY on the select-all in time (see
	// inputText), rather than by waiting out the copy deadline.
	QuickLooks int
	// Merged: the verifying look found the message merged with text that
	// was in the input before (a draft the draft check did not see); the
	// paste was taken back and the rest left as it was.
	Merged bool
	// QuietWait is how long it waited for a person to stop typing.
	QuietWait time.Duration
	// Forced: an urgent message went after QuietMaxWait while a person
	// was still at the desk (their keys kept back and replayed).
	Forced bool
	// CheckFrom and CheckTo bracket the quiet check that let the delivery
	// go: input a person made before CheckFrom was seen by it.
	CheckFrom, CheckTo time.Time
	// KeptKeys is how many of a person's key events were kept back during
	// the GUI steps and replayed to their window afterwards.
	KeptKeys int
	// GaveBack: the focus and pointer went back to the window and place
	// they were at before the click.
	GaveBack bool
	// Steps: when each GUI step ended, counted from the lock being taken
	// (step name, duration pairs; logged for a slow GUI phase).
	Steps   []any
	started time.Time
	// lastRequest is when the paste's last request came.
	lastRequest time.Time
	// verified: a look saw the message in the input (Landing "seen").
	verified bool
	// Pasted: the text reached the agent's input (the window fetched it).
	// Submitted: the submit key went to the agent's window. A delivery that
	// returns an error with Pasted && !Submitted left text in the input
	// that Undo could not take back: the caller should park the message.
	Pasted, Submitted, Undone bool
	// Erased: the input held an earlier paste of ours and nothing else,
	// which an undo had not taken back; it was selected and deleted.
	Erased bool
	// Program is what was found behind the agent's window: a terminal,
	// the agent CLI in it.
	Program Program
	// KeptOn: a person used the desk after the paste into a terminal
	// whose program has no safe undo; the submit went on (the guarded key
	// still checks the focus), as taking the paste back was not possible.
	KeptOn bool
}

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
	t.PasteSettle = max(t.PasteSettle, d.learnedGap(t.Agent))
	if prof, ok := rep.Program.Profile(); ok && longPaste([]byte(text)) {
		t.PasteSettle = max(t.PasteSettle, prof.LongPasteGap)
	}
	q, err := d.lockQuiet(ctx, t, &rep)
	if err != nil {
		return rep, err
	}
	defer d.unlock()
	rep.started = time.Now()
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

// step notes that the named GUI step has ended.
func (r *Report) step(name string) {
	r.Steps = append(r.Steps, name, time.Since(r.started).Round(100*time.Microsecond))
}

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
		if err := d.guardedKey(ctx, t, t.Submit, rep); err != nil {
			return err
		}
		rep.step("submitted")
		rep.Submitted = true
		d.clearLeft(t.Agent)
		if t.Submitted != nil {
			t.Submitted()
		}
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

	// From here on only the agent's window may take the text.
	offer.Restrict(rep.AgentWindow.Client)
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
		if offer, err = d.offer(ctx, text, &saved, rep); err != nil {
			return err
		}
		offer.Restrict(rep.AgentWindow.Client)
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
	owned := d.owns(offer)
	stillOurs := func() bool {
		return rep.verified || owned() // verified: the input was seen to hold the message
	}
	if err := d.guardedKeyIf(ctx, t, t.Submit, stillOurs, rep); err != nil {
		if !errors.Is(err, errKeyUncertain) || !d.submittedAfterAll(ctx, t, saved, rep) {
			return d.blindUndo(t, text, rep, err)
		}
		rep.SubmitUncertain = true
	}
	rep.step("submitted")
	rep.Submitted = true
	if t.Submitted != nil {
		t.Submitted()
	}
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

// SubmitAgain taps the submit key once more into a terminal agent's input,
// without a paste, under the desktop lock, on a quiet desk: for an agent
// CLI whose hook did not see the first submit. Gemini CLI and Qwen Code
// take an Enter that comes soon after a paste for a newline (its React
// state clears only when it renders again, later the more loaded the
// machine: 250 ms was seen not to be enough), and the message then waits
// in the input. Only into a CLI known to ignore an Enter into an empty
// input (CLIProfile.EmptySubmitIgnored), so a first submit that did go
// through, its hook only slow, makes no second prompt.
//
// afterEnter: a submit key went after the paste already (the ack wait);
// without it (a restart after a crash before the submit) the input holds
// the paste as it landed, with no newline to take out.
func (d *Deliverer) SubmitAgain(ctx context.Context, t Target, afterEnter bool) (rep Report, err error) {
	d.ready()
	t = d.resolve(t, &rep)
	prof, ok := rep.Program.Profile()
	if !ok || !prof.EmptySubmitIgnored {
		return rep, fmt.Errorf("deliver: not submitting again into %s: not a CLI known to ignore an empty submit", rep.Program)
	}
	if afterEnter {
		d.tapAgain(t.Agent, prof)
	}
	q, err := d.lockQuiet(ctx, t, &rep)
	if err != nil {
		return rep, err
	}
	defer d.unlock()
	rep.started = time.Now()
	err = d.atDesk(ctx, t, q, &rep, func() error {
		if d.personActive(q) {
			return errPerson("before the submit")
		}
		if afterEnter && prof.NewlineAfterPaste {
			// The first Enter became a newline at the end of the input:
			// take it out, or Qwen Code sends a long paste's placeholder
			// ("[Pasted Content 2046 chars]") instead of its text, as
			// seen. In an empty input (the first submit went through)
			// a backspace does nothing.
			if err := d.guardedKey(ctx, t, []string{"backspace"}, &rep); err != nil {
				return err
			}
		}
		if err := d.guardedKey(ctx, t, t.Submit, &rep); err != nil {
			return err
		}
		rep.Submitted = true
		return nil
	})
	return rep, err
}

// maxGap bounds the learned gap between a paste and the submit.
const maxGap = 2 * time.Second

// learnedGap is the gap the agent's submit needs after a paste, as
// learned from the submits that had to be tapped again: doubled (from its
// CLI's own) each time, and a tenth less after each delivery that needed
// no second tap. Gemini CLI's and Qwen Code's newline window lasts until
// they render again, which takes longer the more loaded the machine.
func (d *Deliverer) learnedGap(agent string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.gaps[agent]
	if !d.tappedAgain[agent] {
		g = g * 9 / 10
	}
	if d.gaps == nil {
		d.gaps, d.tappedAgain = map[string]time.Duration{}, map[string]bool{}
	}
	d.gaps[agent], d.tappedAgain[agent] = g, false
	return g
}

// tapAgain notes that agent's last submit had to be tapped again.
func (d *Deliverer) tapAgain(agent string, prof CLIProfile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gaps == nil {
		d.gaps, d.tappedAgain = map[string]time.Duration{}, map[string]bool{}
	}
	d.gaps[agent] = min(2*max(d.gaps[agent], prof.SubmitGap), maxGap)
	d.tappedAgain[agent] = true
}

// NoAck tells the Deliverer that the agent's last submit, into a
// terminal, was never acked: the agent's gap between paste and submit
// grows as after a second tap (a CLI that read the Enter before it had
// taken in the paste: Qwen Code sent a long paste's placeholder to its
// model on a loaded desk, after 1.5 s).
func (d *Deliverer) NoAck(agent string) {
	d.tapAgain(agent, CLIProfile{SubmitGap: 500 * time.Millisecond})
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
	end := time.Now().Add(deadline)
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

func drain(c <-chan Fetch) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
