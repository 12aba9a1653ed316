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
	Fetch    time.Duration // ctrl+v → the window fetched the text
	Settle   time.Duration // each settle wait (after paste, after submit)
	Restore  time.Duration // the person's clipboard put back
	GiveBack time.Duration // focus and pointer given back
	Release  time.Duration // keyboard let go, held keys replayed
	Refocus  int           // times it took the focus back because it moved
	Focused  Window        // the window that had focus, on a mismatch
	// AgentWindow is the agent's window as found after the click.
	AgentWindow Window
	// Reoffered: another client took the clipboard between the ctrl+v and
	// the window's fetch, and the message was offered again.
	Reoffered bool
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
	if offer, err = d.paste(ctx, t, offer, []byte(text), &saved, rep); err != nil {
		return err
	}
	rep.step("pasted")

	// No signal tells us the window has inserted what it fetched (an
	// Electron app hands it between processes), so give it the settle time
	// learned from how fast it fetches: slow desktop, longer settle.
	settle := d.Timings.Settle(StepFetch)
	rep.Settle = settle
	if err := sleep(ctx, settle); err != nil {
		return d.undo(t, rep, err)
	}
	rep.step("settled_paste")
	if d.personActive(q) {
		return d.undo(t, rep, errPerson("before the submit"))
	}
	rep.step("quiet_before_submit")
	if err := d.guardedKey(ctx, t, t.Submit, rep); err != nil {
		return d.undo(t, rep, err)
	}
	rep.step("submitted")
	rep.Submitted = true
	if t.Submitted != nil {
		t.Submitted()
	}
	// The submit is in the window's queue behind the paste; let it digest
	// before the clipboard changes and the lock goes to the next delivery.
	if err := sleep(ctx, settle); err != nil {
		d.Log.Debug("settle after submit cut short", "agent", t.Agent, "err", err)
	}
	rep.step("settled_submit")
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

// draftCheck looks whether the agent's input holds a draft: it offers a
// token on the CLIPBOARD, selects all and copies. A window that copies
// something takes the CLIPBOARD from the token; an empty input leaves it.
// Then the caret goes back and, if the window copied, the person's
// clipboard is put back.
func (d *Deliverer) draftCheck(ctx context.Context, t Target, saved []byte, rep *Report) error {
	var tok [8]byte
	rand.Read(tok[:])
	o, err := d.offer(ctx, []byte("agentspool-draft-check-"+hex.EncodeToString(tok[:])), nil, rep)
	if err != nil {
		return err
	}
	defer o.Close()
	for _, k := range [][]string{t.Draft.SelectAll, t.Draft.Copy} {
		if err := d.guardedKey(ctx, t, k, rep); err != nil {
			return err
		}
	}
	copied := false
	timer := time.NewTimer(d.Timings.Deadline(StepFetch))
	select {
	case <-o.Lost():
		copied = true
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	if err := d.guardedKey(ctx, t, t.Draft.Caret, rep); err != nil {
		return err
	}
	if !copied {
		return nil
	}
	draft, _ := d.Desktop.Clipboard()
	if saved != nil {
		d.Desktop.SetClipboard(saved)
	}
	if len(bytes.TrimSpace(draft)) == 0 {
		return nil
	}
	return &draftError{chars: utf8.RuneCount(draft)}
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
// and the pointer is where we clicked.
func (d *Deliverer) focus(ctx context.Context, t Target, rep *Report) error {
	var last Window
	for try := 0; try < d.tries(); try++ {
		if try > 0 {
			rep.Refocus++
		}
		start := time.Now()
		if err := d.Desktop.Click(t.X, t.Y); err != nil {
			return err
		}
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
			return err == nil && x == t.X && y == t.Y, nil
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

// saveErr: the person's clipboard could not be read to be saved. Temporary
// whatever the Desktop says: its owner may answer next time.
func saveErr(err error) error {
	if IsTemporary(err) {
		return err
	}
	return temporary("save the person's clipboard", err)
}

// paste taps ctrl+v into the agent's window and waits until that window —
// the agent's X client, no other reader — has fetched our text. It returns
// the offer that is on the CLIPBOARD now.
//
// If another client takes the CLIPBOARD first (a person copies), the window
// has not asked yet or asked them: the person's new copy is kept (to be
// given back at the end) and the message is offered again, so a window that
// has not asked yet gets ours. If no fetch comes, the window pasted the
// other client's text or nothing; once it has had the time it usually
// needs to fetch, the undo key takes that back.
func (d *Deliverer) paste(ctx context.Context, t Target, o Offer, text []byte, saved *[]byte, rep *Report) (Offer, error) {
	if err := d.guardedKey(ctx, t, pasteKey, rep); err != nil {
		return o, err
	}
	want := rep.AgentWindow.Client
	start := time.Now()
	deadline := d.Timings.Deadline(StepFetch)
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	lost, graced, foreign := o.Lost(), false, false
	for {
		select {
		case f := <-o.Fetched():
			if f.Client != want {
				continue // our own read-back, late
			}
			rep.Pasted = true
			rep.Fetch = time.Since(start)
			d.Timings.Observe(StepFetch, rep.Fetch)
			return o, nil
		case <-lost:
			lost = nil
			// A fetch that came before the loss is queued already.
			if fetchedBy(o, want) {
				rep.Pasted = true
				rep.Fetch = time.Since(start)
				return o, nil
			}
			if rep.Reoffered {
				foreign = true // taken twice: give up on this attempt
				continue
			}
			if c, _ := d.Desktop.Clipboard(); c != nil {
				*saved = c
			}
			o.Close()
			no, err := d.Desktop.Offer(text)
			if err != nil {
				foreign = true
				continue
			}
			no.Restrict(want)
			o, lost, rep.Reoffered = no, no.Lost(), true
		case <-timer.C:
			if !graced && !foreign {
				// Slow, not necessarily lost: wait as long again, and
				// learn from it.
				graced = true
				d.Timings.Observe(StepFetch, deadline)
				timer.Reset(deadline)
				continue
			}
			why := fmt.Errorf("the window did not fetch the clipboard within %v", 2*deadline)
			if foreign || rep.Reoffered {
				why = errors.New("another client took the clipboard before the window fetched the message")
			}
			return o, d.undo(t, rep, temporary("paste", why))
		case <-ctx.Done():
			return o, ctx.Err()
		}
	}
}

// fetchedBy drains o's queued fetches and reports whether one was client's.
func fetchedBy(o Offer, client uint32) bool {
	for {
		select {
		case f := <-o.Fetched():
			if f.Client == client {
				return true
			}
		default:
			return false
		}
	}
}

// guardedKey taps combo into the agent's window; if the focus has moved,
// it clicks the input again and retries, up to Tries times.
func (d *Deliverer) guardedKey(ctx context.Context, t Target, combo []string, rep *Report) error {
	tries := d.tries()
	for try := 0; ; try++ {
		w, ok, err := d.Desktop.GuardedKey(combo, t.matches)
		if errors.Is(err, errModifierDown) {
			// A person holds Shift or Ctrl: wait a moment for the key to
			// come up rather than tap a different combination.
			up, perr := d.poll(context.WithoutCancel(ctx), d.Timings.Deadline(StepFocus), func() (bool, error) {
				w, ok, err = d.Desktop.GuardedKey(combo, t.matches)
				return !errors.Is(err, errModifierDown), nil
			})
			if perr != nil || !up {
				return errPerson("holding a modifier key before " + strings.Join(combo, "+"))
			}
		}
		if err == nil && ok {
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
	if saved == nil {
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
