// Focus policy (platform-neutral): the click, the focus verified, keys
// tapped only into the agent's window, refocus, and undo.

package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

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
	if t.terminal() {
		return d.activate(ctx, t, rep)
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
		ok, err := d.awaitFocus(ctx, t, start, &last, rep, func(Window) bool {
			x, y, err := d.Desktop.Pointer()
			return err == nil && x == p.x && y == p.y
		})
		if ok || err != nil {
			return err
		}
	}
	rep.Focused = last
	return &focusError{step: "after click", want: t.Window, got: last}
}

// activate gives a terminal agent's window the focus without a click: a
// click into a TUI moves its caret to the pointer (Claude Code, Codex and
// Qwen Code do), and the paste would land in the middle of what the input
// holds. The window is the one under the agent's point, if it is the
// agent's; its caret stays where the program left it.
func (d *Deliverer) activate(ctx context.Context, t Target, rep *Report) error {
	var last Window
	for try := 0; try < d.tries(); try++ {
		if try > 0 {
			rep.Refocus++
		}
		w, err := d.Desktop.WindowAt(t.X, t.Y)
		if err != nil {
			return err
		}
		if w.ID == 0 || !t.matches(w) {
			last = w
			break // not the agent's window under its point: no activation mends that
		}
		start := time.Now()
		if f, err := d.Desktop.Focused(); err != nil || f.ID != w.ID {
			if err := d.Desktop.Activate(w); err != nil {
				return err
			}
		}
		ok, err := d.awaitFocus(ctx, t, start, &last, rep, func(f Window) bool { return f.ID == w.ID })
		if ok || err != nil {
			return err
		}
	}
	rep.Focused = last
	return &focusError{step: "after activating the terminal", want: t.Window, got: last}
}

// awaitFocus polls until the focused window is the agent's and also
// satisfies and (the pointer where we clicked, the window we activated),
// noting the focus time learned since start; last is the window seen.
func (d *Deliverer) awaitFocus(ctx context.Context, t Target, start time.Time, last *Window, rep *Report, and func(Window) bool) (bool, error) {
	ok, err := d.poll(ctx, d.Timings.Deadline(StepFocus), func() (bool, error) {
		w, err := d.Desktop.Focused()
		if err != nil {
			return false, nil // a window vanished mid-question: ask again
		}
		*last = w
		if !t.matches(w) {
			return false, nil
		}
		rep.AgentWindow = w
		return and(w), nil
	})
	if ok {
		d.Timings.Observe(StepFocus, time.Since(start))
		rep.Focus = time.Since(start)
	}
	return ok, err
}

// ProgramOf is what runs behind t's window now (the window under its
// point, if it is the agent's): a terminal, the agent CLI in it.
func (d *Deliverer) ProgramOf(t Target) Program {
	var rep Report
	d.resolve(t, &rep)
	return rep.Program
}

// resolve finds out what runs behind the agent's window (the window under
// its point, when it is the agent's) and fits t to it (Target.fitTo).
func (d *Deliverer) resolve(t Target, rep *Report) Target {
	var p Program
	if w, err := d.Desktop.WindowAt(t.X, t.Y); err == nil && w.ID != 0 && t.matches(w) {
		inspect := d.Inspect
		if inspect == nil {
			inspect = Inspect
		}
		p = inspect(w)
	}
	rep.Program = p
	return t.fitTo(p)
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
	var harms *unsafeKeyError
	harmful := Harmful(combo)
	ok := func(w Window) bool {
		// Whatever the config says: a terminal is known by its class too,
		// even where the delivery did not find it before.
		// Only the agent's own window: a terminal that took the focus
		// from it (a person's, another agent's) is a focus moved, which
		// a click mends, not a config to fix.
		if harmful && t.matches(w) && (t.terminal() || terminalOf(w.Instance, w.Class) != "") {
			harms = &unsafeKeyError{combo: combo, win: w, why: "set this agent's keys to ones its program takes safely (undo, submit), or leave them out"}
			return false
		}
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
		if harms != nil {
			return harms
		}
		if errors.Is(err, errKeyUncertain) {
			return err // tapped once already: never again
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

// blindUndo is undo for a paste that landed (or may have), when nothing
// looks at what the undo leaves. An undo can miss: a CI run of the Windows
// proof found an input still holding the whole paste after a delivery
// stopped for a person tapped its undo (cause not known: the key may have
// gone to another window while the focus moved, as Windows has no server
// grab), and in an editor whose undo takes back the last edit, a person's
// key that reached the input after the paste is what it takes back. The
// agent's next delivery looks first, and erases text as ours only if it is
// exactly this paste (see lookFirst, clearInput).
func (d *Deliverer) blindUndo(t Target, text []byte, rep *Report, cause error) error {
	err := d.undo(t, rep, cause)
	if t.Read != nil {
		d.mayHaveLeft(t.Agent, leftover{text: text, undone: true})
	}
	return err
}

// Undo focuses t's input and taps its undo key, under the desktop lock: it
// takes back a paste a crashed delivery may have left in the input.
func (d *Deliverer) Undo(ctx context.Context, t Target) error {
	d.ready()
	var found Report
	t = d.resolve(t, &found)
	if len(t.Undo) == 0 {
		if t.terminal() {
			return fmt.Errorf("deliver: %s has no undo that is safe to tap into a terminal (ctrl+z would suspend or undo unseen, ctrl+c interrupt)", found.Program)
		}
		return errors.New("deliver: the agent has no undo key")
	}
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
