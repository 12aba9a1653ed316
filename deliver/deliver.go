package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
}

// DraftKeys read what an input holds: select all, copy, then put the caret
// back (which also drops the selection).
type DraftKeys struct {
	SelectAll, Copy, Caret []string
}

func (t Target) matches(w Window) bool {
	if t.PID != 0 && w.PID != t.PID {
		return false
	}
	return t.Match != nil && t.Match(w.Title)
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
	Release  time.Duration // keyboard let go, held keys replayed
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
	// QuietWait is how long it waited for a person to stop typing.
	QuietWait time.Duration
	// Forced: an urgent message went after QuietMaxWait while a person
	// was still at the desk (their keys held back and replayed).
	Forced bool
	// CheckFrom and CheckTo bracket the quiet check that let the delivery
	// go: input a person made before CheckFrom was seen by it.
	CheckFrom, CheckTo time.Time
	// KeptKeys is how many of a person's key events were held back during
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
}

// Deliverer runs deliveries, one at a time per desktop lock.
type Deliverer struct {
	Desktop Desktop
	Lock    *DesktopLock // nil: no cross-process lock (single-process tests)
	Timings *Timings
	Log     *slog.Logger
	// Poll is the interval between checks of a condition; default 1 ms.
	Poll time.Duration
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
	// unknown: agents whose input may hold what a disturbed paste left
	// (it could not be seen); their next delivery looks first.
	unknown map[string]bool
}

// ownStale: a tick of our own input older than this is not compared with
// the desktop's clock (which wraps after 49.7 days); input after it counts
// as a person's, long past.
const ownStale = 24 * time.Hour

var pasteKey = []string{"ctrl", "v"}

// Deliver types text into t's window and submits it. On error the message
// was not submitted (see Report.Pasted for whether text is left behind);
// IsTemporary tells whether another attempt may succeed.
func (d *Deliverer) Deliver(ctx context.Context, t Target, text string) (rep Report, err error) {
	d.ready()
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

// ownInput is the tick of any agentspool process's last input on this
// desktop: ours, or what the last lock holder wrote beside the lock.
func (d *Deliverer) ownInput() (Input, bool) {
	own, ok := d.Desktop.OwnInput()
	if d.Lock != nil {
		var tick uint32
		var at int64
		if b, err := d.Lock.ReadSidecar("input"); err == nil {
			if _, err := fmt.Sscanf(string(b), "%d %d", &tick, &at); err == nil {
				if other := (Input{Tick: Tick(tick), At: time.Unix(0, at)}); time.Since(other.At) < ownStale && (!ok || other.Tick.After(own.Tick)) {
					own, ok = other, true
				}
			}
		}
	}
	if ok && time.Since(own.At) >= ownStale {
		ok = false
	}
	return own, ok
}

// sawPerson notes evidence of a person at the desk now.
func (d *Deliverer) sawPerson() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.personSeen = time.Now()
	d.personGen++
}

// personInput looks at the desktop's last input: if its tick is later than
// any agentspool input's, a person made it. It returns when a person was
// last seen (zero if never) and the evidence count.
func (d *Deliverer) personInput() (time.Time, uint64) {
	// A key down between our deliveries is a person mid-keystroke: their
	// input is now, whatever the idle time says.
	if down, err := d.Desktop.KeysDown(); err == nil && down {
		d.sawPerson()
	}
	last, err := d.Desktop.LastInput()
	own, haveOwn := d.ownInput()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if !d.noIdle {
			d.noIdle = true
			d.Log.Warn("cannot see whether a person is typing; delivering without waiting for a quiet desk", "err", err)
		}
		return d.personSeen, d.personGen
	}
	if (!haveOwn || last.Tick.After(own.Tick)) && (!d.havePerson || last.Tick != d.person.Tick) {
		d.person, d.havePerson = last, true
		if last.At.After(d.personSeen) {
			d.personSeen = last.At
		}
		d.personGen++
	}
	return d.personSeen, d.personGen
}

// quiet is what the quiet check saw: the person-evidence count (a change
// of it later is a person's new input), and whether an urgent message goes
// in spite of a person at the desk (after QuietMaxWait).
type quiet struct {
	gen    uint64
	forced bool
}

// lockQuiet takes the desktop lock at a moment no person has used the
// keyboard or mouse for QuietFor. The check is made holding the lock, so
// another agentspool process's own typing is never taken for a person's.
func (d *Deliverer) lockQuiet(ctx context.Context, t Target, rep *Report) (quiet, error) {
	begin := time.Now()
	told := false
	for {
		w, err := d.lock(ctx)
		rep.LockWait += w
		if err != nil {
			return quiet{}, err
		}
		from := time.Now()
		if d.QuietFor <= 0 {
			rep.CheckFrom, rep.CheckTo = from, from
			return quiet{}, nil
		}
		seen, gen := d.personInput()
		now := time.Now()
		quietAt := seen.Add(d.QuietFor)
		waited := now.Sub(begin)
		if told {
			rep.QuietWait = waited
		}
		if !now.Before(quietAt) || (t.Urgent && waited >= d.QuietMaxWait) {
			rep.CheckFrom, rep.CheckTo = from, now
			// Urgent, after the longest wait: it goes even while the person
			// types on (their keys are held back and replayed meanwhile).
			rep.Forced = now.Before(quietAt)
			return quiet{gen: gen, forced: rep.Forced}, nil
		}
		rep.QuietWait = waited
		d.unlock()
		if waited >= d.QuietMaxWait {
			return quiet{}, &quietError{waited: waited}
		}
		if !told && t.QuietWait != nil {
			told = true
			t.QuietWait()
		}
		pause := min(time.Until(quietAt), d.QuietMaxWait-waited) + time.Millisecond
		if err := sleep(ctx, pause); err != nil {
			return quiet{}, err
		}
	}
}

// personActive: a person typed (keys held back) or used the mouse since
// the quiet check q. A forced delivery does not ask.
func (d *Deliverer) personActive(q quiet) bool {
	if d.QuietFor <= 0 || q.forced {
		return false
	}
	if d.Desktop.HeldKeys() > 0 {
		return true
	}
	_, now := d.personInput()
	return now != q.gen
}

// gui runs the GUI steps. q is what the quiet check saw: any new input of a
// person's stops the delivery, unless it is forced.
func (d *Deliverer) gui(ctx context.Context, t Target, text []byte, q quiet, rep *Report) (err error) {
	// Where the person was: given back at the end, whatever happens.
	prev, _ := d.Desktop.Focused()
	px, py, perr := d.Desktop.Pointer()
	rep.step("looked")
	// A person's keys typed from here on are held back, not typed into
	// the agent's input, and replayed to their window at the end.
	if err := d.Desktop.HoldKeys(); err != nil {
		return &tempError{msg: "a person is busy with the desktop", err: err, person: true}
	}
	rep.step("held")
	defer func() {
		at := time.Now()
		rep.GaveBack = d.giveBack(ctx, t, prev, px, py, perr == nil)
		rep.GiveBack = time.Since(at)
		rep.step("gave_back")
		at = time.Now()
		n, kerr := d.Desktop.ReleaseKeys()
		rep.Release = time.Since(at)
		rep.step("released")
		rep.KeptKeys = n
		if n > 0 {
			// The keys we held back and replayed were a person's.
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
	if err := d.lookFirst(ctx, t, rep); err != nil {
		return err
	}
	var saved []byte // the person's clipboard; offer reads it
	if t.Draft != nil {
		// The draft check's copy replaces the clipboard: it puts this back.
		if saved, err = d.Desktop.Clipboard(); err != nil {
			return saveErr(err)
		}
		if err := d.draftCheck(ctx, t, saved, rep); err != nil {
			return err
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
			return d.undo(t, rep, err)
		}
		rep.step("settled_paste")
	}
	if d.personActive(q) {
		return d.undo(t, rep, errPerson("before the submit"))
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
		return d.undo(t, rep, err)
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

func errPerson(when string) error {
	return &tempError{msg: "a person used the keyboard or mouse " + when + "; stopped, to try again when the desk is quiet", person: true}
}

// giveBack returns the focus to the window that had it before the click
// (unless that was the agent's own, or it is gone) and the pointer to where
// it was.
func (d *Deliverer) giveBack(ctx context.Context, t Target, prev Window, px, py int, havePointer bool) bool {
	ok := true
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

// draftCheck looks whether the agent's input holds a draft: the input must
// be empty (blank) before anything is pasted.
func (d *Deliverer) draftCheck(ctx context.Context, t Target, saved []byte, rep *Report) error {
	draft, err := d.inputText(ctx, t, *t.Draft, saved, rep)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(draft)) == 0 {
		return nil
	}
	return &draftError{chars: utf8.RuneCount(draft)}
}

// inputText reads what the agent's input holds: it offers a token on the
// CLIPBOARD, selects all and copies. A window that copies something takes
// the CLIPBOARD from the token; an empty input leaves it (nil). Only a copy
// by the agent's own client counts: another client's (a person copying
// meanwhile) makes the look inconclusive, and it looks again, up to three
// times. Then the caret goes back and, if the window copied, saved (the
// person's clipboard) is put back.
func (d *Deliverer) inputText(ctx context.Context, t Target, keys DraftKeys, saved []byte, rep *Report) ([]byte, error) {
	for try := 0; ; try++ {
		text, ours, err := d.lookOnce(ctx, t, keys, saved, rep)
		if err != nil || ours {
			return text, err
		}
		if try == 2 {
			return nil, temporary("read the input", errors.New("another client kept taking the clipboard while the input was read"))
		}
	}
}

func (d *Deliverer) lookOnce(ctx context.Context, t Target, keys DraftKeys, saved []byte, rep *Report) (text []byte, ours bool, err error) {
	var tok [8]byte
	rand.Read(tok[:])
	o, err := d.offer(ctx, []byte("agentspool-draft-check-"+hex.EncodeToString(tok[:])), nil, rep)
	if err != nil {
		return nil, false, err
	}
	defer o.Close()
	// The token took the person's clipboard: it goes back, unless another
	// client than the agent's window copied meanwhile (theirs to keep).
	// A person who had no clipboard gets none back: the window's copy
	// (the message, or a draft) must not stay on the CLIPBOARD for
	// anyone to paste, nor pass for the person's at the next delivery.
	putBack := func() {
		if saved != nil {
			d.Desktop.SetClipboard(saved)
			return
		}
		d.clearOwner(rep.AgentWindow.Client)
	}
	for _, k := range [][]string{keys.SelectAll, keys.Copy} {
		if err := d.guardedKey(ctx, t, k, rep); err != nil {
			putBack()
			return nil, false, err
		}
	}
	// The agent's window took the CLIPBOARD from the token: it copied.
	// Watched by asking who owns it rather than by the token's loss, since
	// a person's copy meanwhile takes it too (and a look at an empty
	// input, which copies nothing, waits its whole deadline).
	agent := rep.AgentWindow.Client
	start := time.Now()
	copied, err := d.poll(ctx, d.Timings.Deadline(StepCopy), func() (bool, error) {
		c, err := d.Desktop.ClipboardClient()
		return err == nil && c == agent, nil
	})
	if err != nil {
		putBack()
		return nil, false, err
	}
	text = nil
	if copied {
		d.Timings.Observe(StepCopy, time.Since(start))
		text, _ = d.Desktop.Clipboard()
	}
	if err := d.guardedKey(ctx, t, keys.Caret, rep); err != nil {
		putBack()
		return nil, false, err
	}
	if copied {
		// Still the window's after the read: the text is its own.
		if c, err := d.Desktop.ClipboardClient(); err != nil || c != agent {
			return nil, false, nil // a person copied meanwhile: theirs stays
		}
		putBack()
		return text, true, nil
	}
	// Nothing copied: an empty input (or a person copied in the very
	// millisecond after the window did: taken for empty). A person's copy
	// meanwhile is theirs to keep; else the token goes.
	if d.owns(o)() {
		putBack()
	}
	return nil, true, nil
}

// clearOwner leaves the CLIPBOARD without an owner if client (the
// agent's window, after a look's copy) owns it: taken only while that
// owner still holds it, and released at once. Another client's copy (a
// person's) is left alone. (Our own token needs nothing: closing its
// offer releases it.)
func (d *Deliverer) clearOwner(client uint32) {
	owner, err := d.Desktop.ClipboardOwner()
	if err != nil || owner == 0 {
		return
	}
	if c, err := d.Desktop.ClipboardClient(); err != nil || c != client {
		return
	}
	if o, ok, err := d.Desktop.OfferIf([]byte{}, owner); err == nil && ok {
		o.Close()
	}
}

// takeBack clears what a disturbed paste left in the input, and returns
// cause, or an error saying the input holds text it cannot clear. With
// t.Read it looks first, and undoes only what is there; when it cannot
// see, the agent's next delivery looks before it pastes. person is the
// person's clipboard, put back after each look (nil: they had none).
func (d *Deliverer) takeBack(ctx context.Context, t Target, person []byte, rep *Report, cause error) error {
	if t.Read == nil {
		return d.undo(t, rep, cause)
	}
	known, err := d.clearInput(ctx, t, person, cause, rep)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.unknown == nil {
		d.unknown = map[string]bool{}
	}
	d.unknown[t.Agent] = !known
	d.mu.Unlock()
	return cause
}

// clearInput looks what the input holds, undoes it if it is not empty, and
// looks again. known is false when it could not see (another client kept
// copying); an error says the input holds text the undo did not clear.
// person (the person's clipboard, nil: none) is put back after each look.
// It is never read from the CLIPBOARD here: while a paste is taken back
// the message's offer may still hold it, and the message would be put
// back for anyone to paste, and the person's clipboard lost.
func (d *Deliverer) clearInput(ctx context.Context, t Target, person []byte, cause error, rep *Report) (known bool, err error) {
	empties := 0
	for look := 0; ; {
		left, err := d.inputText(ctx, t, *t.Read, person, rep)
		if err != nil {
			d.Log.Warn("cannot see what the input holds", "agent", t.Agent, "err", err)
			return false, nil
		}
		if len(bytes.TrimSpace(left)) == 0 {
			// Empty is what a look sees when the window copied nothing,
			// and also when a person's copy came in the very moment after
			// the window's: believed when two looks in a row see it.
			if empties++; empties < 2 {
				continue
			}
			rep.Pasted = false
			return true, nil
		}
		empties = 0
		look++
		if look == 2 || len(t.Undo) == 0 {
			// Pasted and not undone: the caller parks the message for a
			// person to look at the input.
			rep.Pasted, rep.Undone = true, false
			return true, fmt.Errorf("deliver: the input holds %d characters after %v, and the undo key did not clear them", utf8.RuneCount(left), cause)
		}
		d.undo(t, rep, cause)
	}
}

// lookFirst: an earlier delivery to t's agent could not see what its
// disturbed paste left. Look (and clear) before pasting anything.
func (d *Deliverer) lookFirst(ctx context.Context, t Target, rep *Report) error {
	d.mu.Lock()
	unknown := d.unknown[t.Agent]
	d.mu.Unlock()
	if !unknown || t.Read == nil {
		return nil
	}
	// Before any offer: the CLIPBOARD is the person's.
	person, err := d.Desktop.Clipboard()
	if err != nil {
		return saveErr(err)
	}
	known, err := d.clearInput(ctx, t, person, errors.New("an earlier paste that another client's copy disturbed"), rep)
	if err != nil {
		return err
	}
	if !known {
		return temporary("read the input", errors.New("what an earlier disturbed paste left cannot be seen yet"))
	}
	d.mu.Lock()
	delete(d.unknown, t.Agent)
	d.mu.Unlock()
	return nil
}

// draftError: the agent's input held text, probably a person's draft.
type draftError struct{ chars int }

func (e *draftError) Error() string {
	return fmt.Sprintf("deliver: input not empty (%d characters, a draft?): not pasting into it", e.chars)
}

// IsDraft reports whether err says the agent's input held a draft.
func IsDraft(err error) bool {
	var de *draftError
	return errors.As(err, &de)
}

// quietError: the desk was not quiet for QuietMaxWait.
type quietError struct{ waited time.Duration }

func (e *quietError) Error() string {
	return fmt.Sprintf("deliver: a person kept using the desktop for %v; waiting for a quiet desk", e.waited.Round(time.Second))
}

// IsNotQuiet reports whether err means the delivery gave up waiting for a
// person to stop typing (it was not urgent).
func IsNotQuiet(err error) bool {
	var qe *quietError
	return errors.As(err, &qe)
}

func (d *Deliverer) tries() int {
	if d.Tries <= 0 {
		return 3
	}
	return d.Tries
}

// focus clicks the agent's input and polls until its window has the focus
// and the pointer is where we clicked. The click goes where it cannot make
// a double click (see click.go).
func (d *Deliverer) focus(ctx context.Context, t Target, rep *Report) error {
	// A person's click just before ours could make it a double click, at
	// a place we cannot know. With quiet_for shorter than a double-click
	// time (or an urgent message forced through), let it age first.
	d.mu.Lock()
	seen := d.personSeen
	d.mu.Unlock()
	if !seen.IsZero() {
		if wait := time.Until(seen.Add(multiClickTime)); wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	var last Window
	for try := 0; try < d.tries(); try++ {
		if try > 0 {
			rep.Refocus++
		}
		p, err := d.clickPoint(ctx, t)
		if err != nil {
			return err
		}
		start := time.Now()
		err = d.Desktop.Click(p.x, p.y)
		d.clicked(p)
		if err != nil {
			return err
		}
		rep.ClickX, rep.ClickY = p.x, p.y
		deadline := d.Timings.Deadline(StepFocus)
		ok, err := d.poll(ctx, deadline, func() (bool, error) {
			w, err := d.Desktop.Focused()
			if err != nil {
				return false, nil // a window vanished mid-question: ask again
			}
			last = w
			if !t.matches(w) {
				return false, nil
			}
			rep.AgentWindow = w
			x, y, err := d.Desktop.Pointer()
			return err == nil && x == p.x && y == p.y, nil
		})
		if err != nil {
			return err
		}
		if ok {
			d.Timings.Observe(StepFocus, time.Since(start))
			rep.Focus = time.Since(start)
			return nil
		}
	}
	rep.Focused = last
	return &focusError{step: "after click", want: t.Window, got: last}
}

// offer puts text on the CLIPBOARD and reads it back through the server
// until it equals text. A clobber before the paste costs nothing but a
// new offer.
//
// A person who copies meanwhile takes the clipboard from us: their copy
// becomes what saved holds, to be given back at the end.
func (d *Deliverer) offer(ctx context.Context, text []byte, saved *[]byte, rep *Report) (Offer, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		start := time.Now()
		var o Offer
		var err error
		if saved == nil {
			o, err = d.Desktop.Offer(text)
		} else {
			// Read the person's clipboard and take it only if nobody
			// copied in between, or their copy would be lost.
			owner, oerr := d.Desktop.ClipboardOwner()
			if oerr != nil {
				lastErr = oerr
				continue
			}
			got, rerr := d.Desktop.Clipboard()
			if rerr != nil {
				// Their clipboard cannot be saved now: taking it would
				// lose it. Not worth another try in this delivery.
				return nil, saveErr(rerr)
			}
			*saved = got
			var same bool
			o, same, err = d.Desktop.OfferIf(text, owner)
			if err == nil && !same {
				lastErr = errors.New("the clipboard changed while it was being saved")
				continue
			}
		}
		if err != nil {
			if !IsTemporary(err) {
				return nil, err
			}
			lastErr = err
			continue
		}
		ok, err := d.poll(ctx, d.Timings.Deadline(StepReadback), func() (bool, error) {
			select {
			case <-o.Lost():
				return false, errLost
			default:
			}
			got, err := d.Desktop.Clipboard()
			if errors.Is(err, ErrClipboardSilent) {
				// A second wait like this one will not be shorter.
				return false, err
			}
			return bytes.Equal(got, text), nil
		})
		if ok {
			d.Timings.Observe(StepReadback, time.Since(start))
			rep.Readback = time.Since(start)
			drain(o.Fetched())
			return o, nil
		}
		o.Close()
		if err != nil && !errors.Is(err, errLost) {
			return nil, err
		}
		lastErr = fmt.Errorf("clipboard read back differs from the message")
		if errors.Is(err, errLost) {
			// The person copied: the next try saves their copy.
			lastErr = fmt.Errorf("another client took the clipboard before the paste")
		}
	}
	return nil, temporary("clipboard", lastErr)
}

var errLost = errors.New("clipboard taken by another client")

// errNotOurs: a guarded key was not tapped because the message no longer
// owned the CLIPBOARD (a person copied).
var errNotOurs = errors.New("another client took the clipboard")

// saveErr: the person's clipboard could not be read to be saved. Temporary
// whatever the Desktop says: its owner may answer next time.
func saveErr(err error) error {
	if IsTemporary(err) {
		return err
	}
	return temporary("save the person's clipboard", err)
}

// paste taps ctrl+v into the agent's window and waits until that window —
// the agent's X client, no other reader — has read our text and then
// asked nothing more for the learned quiet (Timings.Quiet): a paste is a
// burst of requests (Chromium: TARGETS again and again, the text 2–3
// times, the insert at the end), and it has landed only when the burst is
// over. It returns the offer that is on the CLIPBOARD now.
//
// If another client takes the CLIPBOARD after the ctrl+v (a person
// copies), the window may have read their text, or part of a burst from
// each: their copy is kept (given back at the end), and the paste is taken
// back with the undo key and tried again. If the window does not read at
// all, it pasted nothing or another client's text; once it has had the
// time it usually needs, the undo key takes that back.
func (d *Deliverer) paste(ctx context.Context, t Target, o Offer, text []byte, saved *[]byte, rep *Report) (Offer, error) {
	drain(o.Fetched()) // read-backs and anything else before the ctrl+v
	start := time.Now()
	// The ctrl+v goes only while the message owns the CLIPBOARD (checked
	// under the key's server grab): a copy before it costs a new offer,
	// not a paste to take back.
	if err := d.guardedKeyIf(ctx, t, pasteKey, d.owns(o), rep); err != nil {
		return o, err
	}
	want := rep.AgentWindow.Client
	deadline := d.Timings.Deadline(StepFetch)
	quiet := d.Timings.Quiet()
	// Until the burst has as many requests as this agent's pastes
	// usually make, a quiet gap is not its end: wait on, up to the
	// deadline. Before any paste was counted, wait three quiets.
	typical, known := d.Timings.TypicalCount(PasteCount + t.Agent)
	quietFor := func() time.Duration {
		switch {
		case !known:
			return 3 * quiet
		case rep.PasteRequests < typical:
			return max(time.Until(start.Add(deadline)), quiet)
		}
		return quiet
	}
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	graced, failed, why, lost := false, false, "", o.Lost()
	for {
		select {
		case f := <-o.Fetched():
			if f.Client != want || failed {
				continue // our own read-back, late; or too late to count
			}
			if rep.PasteRequests > 0 {
				d.Timings.Observe(StepReadGap, f.At.Sub(rep.lastRequest))
			}
			rep.PasteRequests++
			rep.lastRequest = f.At
			if f.Data {
				rep.PasteReads++
			}
			if rep.PasteReads > 0 {
				resetTimer(timer, quietFor()-time.Since(f.At))
			}
		case <-timer.C:
			if failed {
				cause := temporary("paste", errors.New(why))
				if t.Read == nil {
					return o, d.undo(t, rep, cause)
				}
				// The window may have read all of it before the copy:
				// look, and submit what is there if it is the message
				// (an undo is the riskier cure: Lexical's merges edits of
				// the last 300 ms and can bring the last message back).
				// The person's copy is what they get back, unless it was the
				// window itself: a look's copy that came after the look
				// gave up on it (a lagging window), which the look's
				// deadline learns from, or the next look's copy would
				// disturb the next paste in turn.
				if c, err := d.Desktop.ClipboardClient(); err == nil && c == want {
					d.Timings.Observe(StepCopy, 2*d.Timings.Deadline(StepCopy))
					d.Log.Warn("the agent's window copied late, during the next paste: its input reads are waited for longer", "agent", t.Agent)
				} else if c, err := d.Desktop.Clipboard(); err == nil {
					*saved = c
				}
				return o, d.verify(ctx, t, text, *saved, rep, cause)
			}
			if rep.PasteReads > 0 {
				// The burst is over: every read so far was ours (the
				// offer was not lost), and the window asked nothing more.
				rep.Fetch = rep.lastRequest.Sub(start)
				d.Timings.Observe(StepFetch, rep.Fetch)
				d.Timings.ObserveCount(PasteCount+t.Agent, rep.PasteRequests)
				short := known && rep.PasteRequests < typical
				if t.Read == nil || (!t.Verify && !short) {
					rep.Pasted, rep.Landing = true, "read"
					return o, nil
				}
				// Verify, or a burst shorter than this agent's pastes
				// usually are (the window may have cut its reads short:
				// Chromium gives up on a read after a timeout, on a loaded
				// desktop, and pastes nothing): look at the input. Even a
				// whole burst does not show that the text is in: Chromium
				// may insert tens of ms after its last read on a loaded
				// desktop, and Monaco and Lexical insert from their own
				// event loop; a key that comes first can cancel it. The
				// look's keys queue behind the insert. (Without Verify,
				// not on an agent's first paste, before its bursts are
				// known: a select-all key that does not select all would
				// make a look see an empty input.)
				return o, d.verify(ctx, t, text, *saved, rep, nil)
			}
			if !graced {
				// Slow, not necessarily lost: wait as long again, and
				// learn from it.
				graced = true
				d.Timings.Observe(StepFetch, deadline)
				timer.Reset(deadline)
				continue
			}
			return o, d.takeBack(ctx, t, *saved, rep, temporary("paste", fmt.Errorf("the window did not read the clipboard within %v", 2*deadline)))
		case <-lost:
			// The person's copy is theirs to keep: restore sees the loss
			// and leaves it. The window may be reading from them now:
			// give it the time a paste usually takes to end before the
			// undo, or the undo could come before that paste's insert
			// (plain Tk takes keys while it waits for the owner) and
			// leave their text in the input.
			lost, failed = nil, true
			why = "another client took the clipboard before the window read the message"
			if rep.PasteRequests > 0 {
				why = "another client took the clipboard while the window was reading the paste"
			}
			resetTimer(timer, max(time.Until(start.Add(d.Timings.PasteEnd())), 2*quiet))
		case <-ctx.Done():
			return o, ctx.Err()
		}
	}
}

// PasteCount, with the agent's name after it, is the Timings count of the
// requests one paste into that agent's window makes (Chromium: 14 in a
// textarea, 27 in a contenteditable, one in Tk).
const PasteCount = "paste_requests:"

// verify reads the input after a paste the desktop cannot vouch for: the
// paste has landed if the input holds the message (and nothing else);
// else what is there is taken back and the attempt fails (with cause, if
// one is given).
func (d *Deliverer) verify(ctx context.Context, t Target, text, saved []byte, rep *Report, cause error) error {
	got, err := d.inputText(ctx, t, *t.Read, saved, rep)
	if err == nil && len(got) > 0 && strings.TrimSpace(string(got)) == strings.TrimSpace(string(text)) {
		// The look took the clipboard from the message: the submit's
		// clipboard check has nothing to check; the input is known.
		rep.Pasted, rep.Landing, rep.verified = true, "seen", true
		return nil
	}
	if cause == nil {
		cause = temporary("paste", fmt.Errorf("the window's paste is not in the input as sent (its reads ended after %d requests)", rep.PasteRequests))
		if err != nil {
			cause = temporary("paste", fmt.Errorf("the window's paste could not be seen in the input: %w", err))
		}
	}
	return d.takeBack(ctx, t, saved, rep, cause)
}

// owns returns a check of whether o still owns the CLIPBOARD (asked of
// the desktop, so it holds under a guarded key's server grab).
func (d *Deliverer) owns(o Offer) func() bool {
	owner := o.Owner()
	return func() bool {
		c, err := d.Desktop.ClipboardOwner()
		return err == nil && c == owner
	}
}

// resetTimer makes t fire after d (at once if d <= 0), whether or not it
// fired already.
func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(max(d, 0))
}

// lateRequest reports a request of client's that came after last (the
// burst's end), and how long after it.
func lateRequest(o Offer, client uint32, last time.Time) (time.Duration, bool) {
	for {
		select {
		case f := <-o.Fetched():
			if f.Client == client && f.At.After(last) {
				return f.At.Sub(last), true
			}
		default:
			return 0, false
		}
	}
}

// guardedKey taps combo into the agent's window; if the focus has moved,
// it clicks the input again and retries, up to Tries times.
func (d *Deliverer) guardedKey(ctx context.Context, t Target, combo []string, rep *Report) error {
	return d.guardedKeyIf(ctx, t, combo, nil, rep)
}

// guardedKeyIf is guardedKey that taps only if also cond holds, checked
// under the same guard as the focus (nil: always). A failed cond is an
// error at once: moving the focus back cannot mend it.
func (d *Deliverer) guardedKeyIf(ctx context.Context, t Target, combo []string, cond func() bool, rep *Report) error {
	tries := d.tries()
	failed := false
	ok := func(w Window) bool {
		if !t.matches(w) {
			return false
		}
		if cond != nil && !cond() {
			failed = true
			return false
		}
		return true
	}
	for try := 0; ; try++ {
		failed = false
		w, tapped, err := d.Desktop.GuardedKey(combo, ok)
		if errors.Is(err, errModifierDown) {
			// A person holds Shift or Ctrl: wait a moment for the key to
			// come up rather than tap a different combination.
			up, perr := d.poll(context.WithoutCancel(ctx), d.Timings.Deadline(StepFocus), func() (bool, error) {
				failed = false
				w, tapped, err = d.Desktop.GuardedKey(combo, ok)
				return !errors.Is(err, errModifierDown), nil
			})
			if perr != nil || !up {
				return errPerson("holding a modifier key before " + strings.Join(combo, "+"))
			}
		}
		if err == nil && failed {
			return temporary("key "+fmt.Sprint(combo), fmt.Errorf("%w before the key: the paste may not be ours", errNotOurs))
		}
		if err == nil && tapped {
			return nil
		}
		rep.Focused = w
		if try+1 >= tries {
			if err != nil {
				return temporary("key "+fmt.Sprint(combo), err)
			}
			return &focusError{step: "before " + fmt.Sprint(combo), want: t.Window, got: w}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.Refocus++
		if err := d.refocus(ctx, t, rep); err != nil {
			return err
		}
	}
}

// refocus gives the focus back to the agent's window after it moved: by
// activating the window (its input keeps the caret) rather than clicking
// again, since a second click at the same point soon after the first is a
// double click, which selects a word that the paste would replace.
func (d *Deliverer) refocus(ctx context.Context, t Target, rep *Report) error {
	aw := rep.AgentWindow
	if aw.ID != 0 && d.Desktop.Activate(aw) == nil {
		back, err := d.poll(ctx, d.Timings.Deadline(StepFocus), func() (bool, error) {
			w, err := d.Desktop.Focused()
			return err == nil && w.ID == aw.ID && t.matches(w), nil
		})
		if err != nil {
			return err
		}
		if back {
			return nil
		}
	}
	return d.focus(ctx, t, rep)
}

// undo takes a paste back out of the agent's input after a failure, if the
// agent has an undo key and its window can be focused; cause is returned.
func (d *Deliverer) undo(t Target, rep *Report, cause error) error {
	if len(t.Undo) == 0 {
		return cause
	}
	// A fresh context: the delivery's may be what ended.
	ctx, cancel := context.WithTimeout(context.Background(), d.Timings.Deadline(StepFocus)*2)
	defer cancel()
	if err := d.guardedKey(ctx, t, t.Undo, rep); err != nil {
		d.Log.Error("paste could not be taken back", "agent", t.Agent, "err", err)
		return cause
	}
	rep.Undone = true
	rep.Pasted = false
	return cause
}

// restore gives the person their clipboard back and ends our offer. If
// someone copied something while we delivered (our offer was taken), that
// newer content is theirs to keep: putting the old one back would undo
// their copy. rep.Restore is how long it took.
func (d *Deliverer) restore(o Offer, saved []byte, rep *Report) error {
	defer func(at time.Time) { rep.Restore = time.Since(at) }(time.Now())
	defer o.Close()
	select {
	case <-o.Lost():
		return nil
	default:
	}
	// A verifying look put the person's clipboard back already, and took
	// the CLIPBOARD from the message within our own client (so o saw no
	// loss): a copy the person made since is theirs to keep.
	if saved == nil || rep.verified {
		return nil
	}
	return d.Desktop.SetClipboard(saved)
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

// Undo focuses t's input and taps its undo key, under the desktop lock: it
// takes back a paste a crashed delivery may have left in the input.
func (d *Deliverer) Undo(ctx context.Context, t Target) error {
	if len(t.Undo) == 0 {
		return errors.New("deliver: the agent has no undo key")
	}
	d.ready()
	if _, err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	var rep Report
	if err := d.focus(ctx, t, &rep); err != nil {
		return err
	}
	return d.guardedKey(ctx, t, t.Undo, &rep)
}
