package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Submit is the key combination that sends the input (e.g. enter).
	Submit []string
	// Undo takes a paste back out of the input (e.g. ctrl+z); empty means
	// the app has none, and a paste that went wrong is left for a person.
	Undo []string
	// Submitted, when set, is called the moment the submit key went to the
	// window, still under the lock: the caller records it before anything
	// else can happen (a crash right after must not paste it again).
	Submitted func()
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
	Refocus  int           // clicks it took again because focus moved
	Focused  Window        // the window that had focus, on a mismatch
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
}

var pasteKey = []string{"ctrl", "v"}

// Deliver types text into t's window and submits it. On error the message
// was not submitted (see Report.Pasted for whether text is left behind);
// IsTemporary tells whether another attempt may succeed.
func (d *Deliverer) Deliver(ctx context.Context, t Target, text string) (rep Report, err error) {
	if d.Timings == nil {
		d.Timings = NewTimings(5*time.Millisecond, 5*time.Second)
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Lock != nil {
		rep.LockWait, err = d.Lock.Lock(ctx)
		if err != nil {
			return rep, err
		}
		defer d.Lock.Unlock()
	}
	start := time.Now()
	defer func() { rep.GUI = time.Since(start) }()
	err = d.gui(ctx, t, []byte(text), &rep)
	return rep, err
}

func (d *Deliverer) gui(ctx context.Context, t Target, text []byte, rep *Report) error {
	if err := d.focus(ctx, t, rep); err != nil {
		return err
	}

	saved, _ := d.Desktop.Clipboard()
	offer, err := d.offer(ctx, text, rep)
	if err != nil {
		return err
	}
	restored := false
	defer func() {
		if !restored {
			d.restore(offer, saved)
		}
	}()

	if err := d.paste(ctx, t, offer, rep); err != nil {
		return err
	}

	// No signal tells us the window has inserted what it fetched (an
	// Electron app hands it between processes), so give it the settle time
	// learned from how fast it fetches: slow desktop, longer settle.
	settle := d.Timings.Settle(StepFetch)
	rep.Settle = settle
	if err := sleep(ctx, settle); err != nil {
		return d.undo(t, rep, err)
	}
	if err := d.guardedKey(ctx, t, t.Submit, rep); err != nil {
		return d.undo(t, rep, err)
	}
	rep.Submitted = true
	if t.Submitted != nil {
		t.Submitted()
	}
	// The submit is in the window's queue behind the paste; let it digest
	// before the clipboard changes and the lock goes to the next delivery.
	if err := sleep(ctx, settle); err != nil {
		d.Log.Debug("settle after submit cut short", "agent", t.Agent, "err", err)
	}
	restored = true
	if err := d.restore(offer, saved); err != nil {
		d.Log.Warn("clipboard not restored", "agent", t.Agent, "err", err)
	}
	return nil
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
func (d *Deliverer) offer(ctx context.Context, text []byte, rep *Report) (Offer, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		start := time.Now()
		o, err := d.Desktop.Offer(text)
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
			got, _ := d.Desktop.Clipboard()
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
			lastErr = fmt.Errorf("another client took the clipboard before the paste")
		}
	}
	return nil, temporary("clipboard", lastErr)
}

var errLost = errors.New("clipboard taken by another client")

// paste taps ctrl+v into the agent's window and waits until the window has
// fetched our text. If another client took the CLIPBOARD first, the window
// pasted their text: take it back out with Undo.
func (d *Deliverer) paste(ctx context.Context, t Target, o Offer, rep *Report) error {
	if err := d.guardedKey(ctx, t, pasteKey, rep); err != nil {
		return err
	}
	start := time.Now()
	deadline := d.Timings.Deadline(StepFetch)
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case <-o.Fetched():
	case <-o.Lost():
		// The owner reports a fetch before a later loss, so a fetch that
		// came first is already waiting here.
		select {
		case <-o.Fetched():
		default:
			return d.undo(t, rep, temporary("paste", errors.New("another client took the clipboard before the window fetched the message")))
		}
	case <-timer.C:
		// Counted as a slow fetch, so the next deadline is longer. The
		// window may still act on the ctrl+v later; the undo queued behind
		// it takes back whatever it then pastes.
		d.Timings.Observe(StepFetch, deadline)
		return d.undo(t, rep, temporary("paste", fmt.Errorf("the window did not fetch the clipboard within %v", deadline)))
	case <-ctx.Done():
		return ctx.Err()
	}
	rep.Pasted = true
	rep.Fetch = time.Since(start)
	d.Timings.Observe(StepFetch, rep.Fetch)
	return nil
}

// guardedKey taps combo into the agent's window; if the focus has moved,
// it clicks the input again and retries, up to Tries times.
func (d *Deliverer) guardedKey(ctx context.Context, t Target, combo []string, rep *Report) error {
	tries := d.tries()
	for try := 0; ; try++ {
		w, ok, err := d.Desktop.GuardedKey(combo, t.matches)
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
		if err := d.focus(ctx, t, rep); err != nil {
			return err
		}
	}
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
// their copy.
func (d *Deliverer) restore(o Offer, saved []byte) error {
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
	if d.Timings == nil {
		d.Timings = NewTimings(5*time.Millisecond, 5*time.Second)
	}
	if d.Lock != nil {
		if _, err := d.Lock.Lock(ctx); err != nil {
			return err
		}
		defer d.Lock.Unlock()
	}
	var rep Report
	if err := d.focus(ctx, t, &rep); err != nil {
		return err
	}
	return d.guardedKey(ctx, t, t.Undo, &rep)
}
