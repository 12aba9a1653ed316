package deliver_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
)

func quietDeliverer(d deliver.Desktop, quietFor, maxWait time.Duration) *deliver.Deliverer {
	dl := deliverer(d)
	dl.QuietFor, dl.QuietMaxWait = quietFor, maxWait
	return dl
}

// Keys a person types while a delivery runs are kept back and replayed to
// their own window; the delivery stops before pasting, and the focus and
// pointer go back where they were.
func TestPersonTypingDuringDeliveryStopsItAndKeepsTheirKeys(t *testing.T) {
	d := desk(t)
	d.Click(250, 50) // the person works in the editor
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "ctrl+v" {
			d.PersonTypes("hello")
		}
	}
	rep, err := quietDeliverer(d, 50*time.Millisecond, time.Second).Deliver(context.Background(), target("Agent-1", 50), "msg")
	if err == nil || !deliver.IsTemporary(err) || !deliver.IsPersonActive(err) {
		t.Fatalf("err = %v, want a temporary stop for the person", err)
	}
	if w := d.Window("Agent-1"); w.Input != "" || len(w.Submits) != 0 {
		t.Fatalf("Agent-1 got input %q submits %q", w.Input, w.Submits)
	}
	// PersonTypes came before the guarded ctrl+v could run, so nothing was
	// pasted; their keys went to the editor, where they were typing.
	if w := d.Window("Editor"); w.Input != "hello" {
		t.Fatalf("editor input %q, want the person's %q", w.Input, "hello")
	}
	if title, x, y := d.State(); title != "Editor" || x != 250 || y != 50 {
		t.Fatalf("focus %q pointer (%d,%d), want Editor at (250,50)", title, x, y)
	}
	if rep.KeptKeys != 1 || !rep.GaveBack {
		t.Fatalf("report %+v", rep)
	}
}

func TestPersonBeforeSubmitUndoesThePaste(t *testing.T) {
	d := desk(t)
	d.Click(250, 50)
	// The person types right after the window fetched the paste, while
	// it settles.
	dl := quietDeliverer(&typeAfterFetch{Desktop: d, d: d}, 50*time.Millisecond, time.Second)
	rep, err := dl.Deliver(context.Background(), target("Agent-1", 50), "msg")
	if err == nil || !strings.Contains(err.Error(), "before the submit") {
		t.Fatalf("err = %v", err)
	}
	if !rep.Undone || rep.Submitted {
		t.Fatalf("report %+v: want the paste undone and nothing submitted", rep)
	}
	if a := d.Window("Agent-1"); a.Input != "" || len(a.Submits) != 0 {
		t.Fatalf("Agent-1 input %q submits %q", a.Input, a.Submits)
	}
	if e := d.Window("Editor"); e.Input != "typed" {
		t.Fatalf("editor %q", e.Input)
	}
}

// typeAfterFetch makes the person type right after the window fetched the
// paste (before the submit).
type typeAfterFetch struct {
	deliver.Desktop
	d    *fakedesktop.Desk
	done bool
}

func (w *typeAfterFetch) GuardedKey(combo []string, ok func(deliver.Window) bool) (deliver.Window, bool, error) {
	win, tapped, err := w.Desktop.GuardedKey(combo, ok)
	if strings.Join(combo, "+") == "ctrl+v" && tapped && !w.done {
		w.done = true
		w.d.PersonTypes("typed")
	}
	return win, tapped, err
}

func TestDeliveryWaitsForAQuietDesk(t *testing.T) {
	d := desk(t)
	d.PersonTypes("just now")
	typed, _ := d.LastInput()
	var told atomic.Int32
	tg := target("Agent-1", 50)
	tg.QuietWait = func() { told.Add(1) }
	clicks := &clickTimes{Desktop: d}
	rep, err := quietDeliverer(clicks, 150*time.Millisecond, 5*time.Second).Deliver(context.Background(), tg, "after the pause")
	if err != nil {
		t.Fatal(err)
	}
	// Measured from the person's input, not from the call: on a loaded
	// machine the call itself may start late, and the wait is shorter.
	if len(clicks.at) == 0 || clicks.at[0].Sub(typed.At) < 150*time.Millisecond || rep.QuietWait <= 0 {
		t.Fatalf("clicked at %v after the person's input (report's wait %v), want ≥ quiet_for", clicks.first(typed.At), rep.QuietWait)
	}
	if told.Load() != 1 {
		t.Fatalf("QuietWait called %d times, want once", told.Load())
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 {
		t.Fatalf("submits %q", got)
	}
}

func TestBusyDeskOnlyUrgentGoesAfterMaxWait(t *testing.T) {
	d := desk(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				d.PersonMovesMouse()
			}
		}
	}()
	d.PersonMovesMouse()
	dl := quietDeliverer(d, 100*time.Millisecond, 200*time.Millisecond)
	_, err := dl.Deliver(context.Background(), target("Agent-1", 50), "normal")
	if !deliver.IsNotQuiet(err) {
		t.Fatalf("normal message: err = %v, want not-quiet", err)
	}
	urgent := target("Agent-1", 50)
	urgent.Urgent = true
	// After the longest wait an urgent message goes, the mouse moving on
	// during its GUI steps.
	rep, err := dl.Deliver(context.Background(), urgent, "urgent")
	if err != nil {
		t.Fatalf("urgent message: %v", err)
	}
	if !rep.Forced {
		t.Errorf("report %+v: not marked forced", rep)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "urgent" {
		t.Fatalf("submits %q", got)
	}
}

// An urgent message forced through a busy desk does not stop for the keys
// the person types meanwhile: they are kept back and replayed to their
// window, none lands in the agent's.
func TestForcedUrgentKeepsTheTypistsKeys(t *testing.T) {
	d := desk(t)
	d.Click(250, 50) // the person works in the editor
	d.PersonTypes("a")
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "ctrl+v" {
			d.PersonTypes("bc")
		}
	}
	urgent := target("Agent-1", 50)
	urgent.Urgent = true
	rep, err := quietDeliverer(d, time.Hour, 50*time.Millisecond).Deliver(context.Background(), urgent, "urgent")
	if err != nil || !rep.Forced {
		t.Fatalf("err %v, forced %v", err, rep.Forced)
	}
	if w := d.Window("Agent-1"); len(w.Submits) != 1 || w.Submits[0] != "urgent" || w.Input != "" {
		t.Fatalf("Agent-1 submits %q input %q", w.Submits, w.Input)
	}
	if w := d.Window("Editor"); w.Input != "abc" {
		t.Fatalf("editor input %q, want the person's %q", w.Input, "abc")
	}
	if rep.KeptKeys != 1 || !rep.GaveBack {
		t.Fatalf("report %+v", rep)
	}
	// A normal message in the same spot stops for the person.
	if _, err := quietDeliverer(d, time.Hour, 50*time.Millisecond).Deliver(context.Background(), target("Agent-1", 50), "normal"); !deliver.IsNotQuiet(err) {
		t.Fatalf("normal message: %v, want not-quiet", err)
	}
}

// Another agentspool process's typing is not a person's: it records when it
// last typed beside the desktop lock.
func TestOtherProcessInputIsNotAPerson(t *testing.T) {
	d := desk(t)
	lockPath := filepath.Join(t.TempDir(), "desktop.lock")
	lockA, _ := deliver.NewDesktopLock(lockPath)
	lockB, _ := deliver.NewDesktopLock(lockPath)
	a := quietDeliverer(d, time.Second, 2*time.Second)
	a.Lock = lockA
	if _, err := a.Deliver(context.Background(), target("Agent-1", 50), "from A"); err != nil {
		t.Fatal(err)
	}
	// B's desktop does not know A's input (another process).
	b := quietDeliverer(&amnesiac{Desktop: d}, time.Second, 2*time.Second)
	b.Lock = lockB
	start := time.Now()
	if _, err := b.Deliver(context.Background(), target("Agent-2", 150), "from B"); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Fatalf("B waited %v for a quiet desk: it took A's typing for a person's", waited)
	}
}

// amnesiac is another process's view of the same desk: it knows only the
// input it made itself.
type amnesiac struct {
	deliver.Desktop
	mu   sync.Mutex
	own  deliver.Input
	have bool
}

// mark notes the input just made (the desk's latest) as its own.
func (a *amnesiac) mark() {
	in, _ := a.Desktop.LastInput()
	a.mu.Lock()
	a.own, a.have = in, true
	a.mu.Unlock()
}

func (a *amnesiac) OwnInput() (deliver.Input, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.own, a.have
}

func (a *amnesiac) Click(x, y int) error {
	defer a.mark()
	return a.Desktop.Click(x, y)
}

func (a *amnesiac) MovePointer(x, y int) error {
	defer a.mark()
	return a.Desktop.MovePointer(x, y)
}

func (a *amnesiac) GuardedKey(combo []string, ok func(deliver.Window) bool) (deliver.Window, bool, error) {
	defer a.mark()
	return a.Desktop.GuardedKey(combo, ok)
}

func TestDraftIsLeftAloneAndNotPastedInto(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("person's clipboard"))
	d.Click(50, 50)
	d.PersonTypes("DRAFT-not-sent")
	tg := target("Agent-1", 50)
	tg.Draft = &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	_, err := deliverer(d).Deliver(context.Background(), tg, "msg")
	if !deliver.IsDraft(err) {
		t.Fatalf("err = %v, want a draft error", err)
	}
	if w := d.Window("Agent-1"); w.Input != "DRAFT-not-sent" || len(w.Submits) != 0 {
		t.Fatalf("input %q submits %q", w.Input, w.Submits)
	}
	if clip, _ := d.Clipboard(); string(clip) != "person's clipboard" {
		t.Fatalf("clipboard %q", clip)
	}
	// An empty input passes the check.
	tg2 := target("Agent-2", 150)
	tg2.Draft = tg.Draft
	if _, err := deliverer(d).Deliver(context.Background(), tg2, "msg2"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-2").Submits; len(got) != 1 || got[0] != "msg2" {
		t.Fatalf("submits %q", got)
	}
}

// A key held down when a delivery would start is a person mid-keystroke,
// even when the idle time is hidden by our own later input.
func TestKeyHeldDownMeansThePersonIsTyping(t *testing.T) {
	d := desk(t)
	d.PersonKeyDown(true)
	d.Click(250, 50) // our own input after the person's: the idle time hides it
	go func() {
		time.Sleep(100 * time.Millisecond)
		d.PersonKeyDown(false)
	}()
	start := time.Now()
	rep, err := quietDeliverer(d, 150*time.Millisecond, 5*time.Second).Deliver(context.Background(), target("Agent-1", 50), "after the key")
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond || rep.QuietWait == 0 {
		t.Fatalf("delivered after %v (quiet wait %v): want a wait until quiet_for after the key came up", waited, rep.QuietWait)
	}
}

// clickTimes records when each Click came.
type clickTimes struct {
	deliver.Desktop
	at []time.Time
}

func (c *clickTimes) Click(x, y int) error {
	c.at = append(c.at, time.Now())
	return c.Desktop.Click(x, y)
}

func (c *clickTimes) first(since time.Time) any {
	if len(c.at) == 0 {
		return "never"
	}
	return c.at[0].Sub(since)
}
