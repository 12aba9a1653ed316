package deliver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
)

// desk lays out three agent windows side by side.
func desk(t *testing.T) *fakedesktop.Desk {
	t.Helper()
	d := fakedesktop.New()
	d.AddWindow("Agent-1", 101, 0, 0, 100, 100)
	d.AddWindow("Agent-2", 102, 100, 0, 100, 100)
	d.AddWindow("Editor", 103, 200, 0, 100, 100)
	return d
}

func target(name string, x int) deliver.Target {
	return deliver.Target{
		Agent: name, X: x, Y: 50, Window: `"` + name + `"`,
		Match:  func(title string) bool { return title == name },
		Submit: []string{"enter"}, Undo: []string{"ctrl", "z"},
	}
}

func deliverer(d deliver.Desktop) *deliver.Deliverer {
	return &deliver.Deliverer{Desktop: d, Timings: deliver.NewTimings(time.Millisecond, 200*time.Millisecond)}
}

// nothingLanded asserts no window holds or submitted anything.
func nothingLanded(t *testing.T, d *fakedesktop.Desk) {
	t.Helper()
	for _, name := range []string{"Agent-1", "Agent-2", "Editor"} {
		w := d.Window(name)
		if w.Input != "" || len(w.Submits) != 0 {
			t.Errorf("%s: input %q, submits %q; want nothing", name, w.Input, w.Submits)
		}
	}
}

func TestDeliverHappyPathRestoresClipboard(t *testing.T) {
	d := desk(t)
	if err := d.SetClipboard([]byte("the person's clipboard")); err != nil {
		t.Fatal(err)
	}
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-2", 150), "hello\nworld ✓")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-2").Submits; len(got) != 1 || got[0] != "hello\nworld ✓" {
		t.Fatalf("Agent-2 submits = %q", got)
	}
	if w := d.Window("Agent-1"); len(w.Submits) != 0 || w.Input != "" {
		t.Fatalf("Agent-1 got %q / %q", w.Submits, w.Input)
	}
	if clip, _ := d.Clipboard(); string(clip) != "the person's clipboard" {
		t.Fatalf("clipboard after = %q", clip)
	}
	if !rep.Pasted || !rep.Submitted || rep.Landing != "read" || rep.PasteReads != 1 || rep.Fetch <= 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestFocusStolenAfterEveryClickPastesNothing(t *testing.T) {
	d := desk(t)
	d.AfterClick = func(d *fakedesktop.Desk, x, y int) { d.Focus("Editor") }
	_, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "secret")
	w, ok := deliver.IsFocusMismatch(err)
	if !ok {
		t.Fatalf("err = %v, want a focus mismatch", err)
	}
	if w.Title != "Editor" {
		t.Fatalf("mismatch names %q, want Editor", w.Title)
	}
	if !deliver.IsTemporary(err) {
		t.Fatal("a focus mismatch should be temporary")
	}
	nothingLanded(t, d)
	for _, k := range d.Keys() {
		t.Errorf("key %v tapped although focus never matched", k)
	}
}

func TestFocusStolenBeforePasteAndBeforeSubmitIsWonBack(t *testing.T) {
	for _, key := range []string{"ctrl+v", "enter"} {
		t.Run(key, func(t *testing.T) {
			d := desk(t)
			var stolen atomic.Bool
			d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
				if strings.Join(combo, "+") == key && !stolen.Swap(true) {
					d.Focus("Agent-2")
				}
			}
			rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "for one")
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "for one" {
				t.Fatalf("Agent-1 submits %q", got)
			}
			if w := d.Window("Agent-2"); w.Input != "" || len(w.Submits) != 0 {
				t.Fatalf("Agent-2 (the thief) got input %q submits %q", w.Input, w.Submits)
			}
			if rep.Refocus == 0 {
				t.Fatal("report shows no re-focus")
			}
		})
	}
}

func TestClipboardClobberedAfterWriteIsOfferedAgain(t *testing.T) {
	d := desk(t)
	var n atomic.Int32
	d.AfterOffer = func(d *fakedesktop.Desk) {
		if n.Add(1) == 1 {
			d.Clobber("CLOBBER")
		}
	}
	if _, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "mine"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "mine" {
		t.Fatalf("submits %q", got)
	}
}

func TestClipboardAlwaysClobberedFailsWithoutPasting(t *testing.T) {
	d := desk(t)
	d.AfterOffer = func(d *fakedesktop.Desk) { d.Clobber("CLOBBER") }
	_, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "mine")
	if err == nil || !deliver.IsTemporary(err) {
		t.Fatalf("err = %v, want temporary", err)
	}
	nothingLanded(t, d)
}

// A person copying before every paste key: the key goes only while the
// message owns the clipboard, so it is never tapped and nothing lands; the
// message is offered again twice, then the attempt fails for another try.
// (A copy after the key, before the window read: TestUndoWaitsForTheOtherOwnersPaste.)
func TestClobberBeforeEveryPasteKeyPastesNothing(t *testing.T) {
	d := desk(t)
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "ctrl+v" {
			d.Clobber("CLOBBER")
		}
	}
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "mine")
	if err == nil || !deliver.IsTemporary(err) {
		t.Fatalf("err = %v, want temporary", err)
	}
	if rep.Reoffered != 2 || rep.Submitted || rep.Pasted {
		t.Fatalf("report %+v: want reoffered twice, nothing pasted or submitted", rep)
	}
	for _, k := range d.Keys() {
		if strings.Join(k, "+") == "ctrl+v" {
			t.Fatal("ctrl+v was tapped while another client owned the clipboard")
		}
	}
	nothingLanded(t, d)
}

func TestSlowPasteIsWaitedFor(t *testing.T) {
	d := desk(t)
	d.FetchDelay = 40 * time.Millisecond
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "slow but whole")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "slow but whole" {
		t.Fatalf("submits %q (an empty submit means Enter overtook the paste)", got)
	}
	if rep.Fetch < 40*time.Millisecond {
		t.Fatalf("fetch measured %v, want ≥ the 40ms delay", rep.Fetch)
	}
}

func TestWindowThatNeverFetchesIsNotSubmitted(t *testing.T) {
	d := desk(t)
	d.NeverFetch = true
	_, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "lost?")
	if err == nil || !deliver.IsTemporary(err) {
		t.Fatalf("err = %v", err)
	}
	for _, k := range d.Keys() {
		if strings.Join(k, "+") == "enter" {
			t.Fatal("submitted although the paste never landed")
		}
	}
	nothingLanded(t, d)
}

func TestXErrorOnFocusQueryIsAnErrorNotACrash(t *testing.T) {
	d := desk(t)
	d.FocusErr = fakedesktop.ErrVanished
	_, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "x")
	if err == nil {
		t.Fatal("want an error")
	}
	nothingLanded(t, d)
}

func TestPIDMustMatchWhenConfigured(t *testing.T) {
	d := desk(t)
	tg := target("Agent-1", 50)
	tg.PID = 999 // the window says 101
	_, err := deliverer(d).Deliver(context.Background(), tg, "x")
	if _, ok := deliver.IsFocusMismatch(err); !ok {
		t.Fatalf("err = %v, want focus mismatch", err)
	}
	nothingLanded(t, d)
}

// Two deliverers (as two processes would) share one lock file: their GUI
// steps never overlap, and every message lands whole at its own window.
func TestDesktopLockSerialisesDeliverers(t *testing.T) {
	d := desk(t)
	// A person's clipboard, so every delivery ends with a restore: the
	// last GUI step inside the lock.
	d.SetClipboard([]byte("keep"))
	path := filepath.Join(t.TempDir(), "desktop.lock")
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for i, name := range []string{"Agent-1", "Agent-2"} {
		lock, err := deliver.NewDesktopLock(path)
		if err != nil {
			t.Fatal(err)
		}
		dl := deliverer(d)
		dl.Lock = lock
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 30; j++ {
				// The lock is taken inside Deliver; count from Click
				// to the end via a wrapper desk.
				dl.Desktop = &watch{Desktop: d, inside: &inside, overlaps: &overlaps}
				if _, err := dl.Deliver(context.Background(), target(name, 50+100*i), name+"-msg"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d overlapping GUI sequences", overlaps.Load())
	}
	for _, name := range []string{"Agent-1", "Agent-2"} {
		subs := d.Window(name).Submits
		if len(subs) != 30 {
			t.Fatalf("%s: %d submits", name, len(subs))
		}
		for _, s := range subs {
			if s != name+"-msg" {
				t.Fatalf("%s got %q", name, s)
			}
		}
	}
}

// watch counts how many deliveries are between their first click and their
// clipboard restore (SetClipboardIf; SetClipboard where a look put it back)
// at once.
type watch struct {
	deliver.Desktop
	inside, overlaps *atomic.Int32
	entered          bool
}

func (w *watch) Click(x, y int) error {
	if !w.entered {
		w.entered = true
		if w.inside.Add(1) > 1 {
			w.overlaps.Add(1)
		}
	}
	return w.Desktop.Click(x, y)
}

func (w *watch) SetClipboard(text []byte) error {
	w.inside.Add(-1)
	return w.Desktop.SetClipboard(text)
}

func (w *watch) SetClipboardIf(text []byte, owner uint32) (bool, error) {
	w.inside.Add(-1)
	return w.Desktop.SetClipboardIf(text, owner)
}

func TestTimingsLearnAndPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timings.json")
	tm, err := deliver.LoadTimings(path, 5*time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		tm.Observe(deliver.StepFetch, 2*time.Millisecond)
	}
	fast := tm.Settle(deliver.StepFetch)
	if fast != 5*time.Millisecond {
		t.Fatalf("settle on a fast desktop = %v, want the 5ms floor", fast)
	}
	for i := 0; i < 50; i++ {
		tm.Observe(deliver.StepFetch, 80*time.Millisecond)
	}
	slow := tm.Settle(deliver.StepFetch)
	if slow != 120*time.Millisecond {
		t.Fatalf("settle on a slow desktop = %v, want p95×1.5 = 120ms", slow)
	}
	if dl := tm.Deadline(deliver.StepFetch); dl != 320*time.Millisecond {
		t.Fatalf("deadline = %v, want p95×4 = 320ms", dl)
	}
	if err := tm.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := deliver.LoadTimings(path, 5*time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Settle(deliver.StepFetch); got != slow {
		t.Fatalf("after reload settle = %v, want %v", got, slow)
	}
	// Clamped by max.
	for i := 0; i < 200; i++ {
		tm.Observe(deliver.StepFetch, time.Minute)
	}
	if got := tm.Deadline(deliver.StepFetch); got != 5*time.Second {
		t.Fatalf("deadline = %v, want max 5s", got)
	}
}

// Before anything was measured: a focus wait starts at 1 s (a wrong point
// must not keep the keyboard grabbed for the maximum), the other waits at the
// maximum.
func TestTimingsBeforeTheFirstMeasurement(t *testing.T) {
	tm := deliver.NewTimings(5*time.Millisecond, 5*time.Second)
	if got := tm.Deadline(deliver.StepFocus); got != time.Second {
		t.Errorf("focus deadline = %v, want 1s", got)
	}
	if got := tm.Deadline(deliver.StepFetch); got != 5*time.Second {
		t.Errorf("fetch deadline = %v, want the 5s max", got)
	}
	if got := deliver.NewTimings(5*time.Millisecond, 300*time.Millisecond).Deadline(deliver.StepFocus); got != 300*time.Millisecond {
		t.Errorf("focus deadline under a 300ms max = %v", got)
	}
	tm.Observe(deliver.StepFocus, 500*time.Millisecond)
	if got := tm.Deadline(deliver.StepFocus); got != 2*time.Second {
		t.Errorf("focus deadline after one slow focus = %v, want p95×4 = 2s", got)
	}
}

func TestCorruptTimingsFileStartsFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timings.json")
	if err := writeFile(path, "{nope"); err != nil {
		t.Fatal(err)
	}
	tm, err := deliver.LoadTimings(path, time.Millisecond, time.Second)
	if err == nil {
		t.Fatal("want an error naming the corrupt file")
	}
	if tm == nil || tm.Deadline(deliver.StepFocus) != time.Second {
		t.Fatal("want usable fresh timings")
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }

// A person who copies while a delivery runs keeps what they copied. A copy
// after the paste, right before the submit, is seen under the submit's
// guard: the message no longer owns the clipboard, so which text the
// window read cannot be vouched for; the paste is taken back and the next
// attempt delivers.
func TestCopyDuringDeliveryIsNotOverwrittenByTheRestore(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("old copy"))
	var copied atomic.Bool
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "enter" && !copied.Swap(true) {
			d.Clobber("new copy")
		}
	}
	dl := deliverer(d)
	rep, err := dl.Deliver(context.Background(), target("Agent-1", 50), "msg")
	if err == nil || !deliver.IsTemporary(err) || rep.Submitted || !rep.Undone {
		t.Fatalf("err %v, report %+v: want a temporary error, the paste undone, no submit", err, rep)
	}
	if clip, _ := d.Clipboard(); string(clip) != "new copy" {
		t.Fatalf("clipboard after the stopped attempt = %q, want the person's newer copy", clip)
	}
	if _, err := dl.Deliver(context.Background(), target("Agent-1", 50), "msg"); err != nil {
		t.Fatal(err)
	}
	if clip, _ := d.Clipboard(); string(clip) != "new copy" {
		t.Fatalf("clipboard = %q, want the person's newer copy", clip)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "msg" {
		t.Fatalf("submits %q", got)
	}
}

// A clipboard owner that does not answer: the person's clipboard cannot be
// saved, so it is not taken; the delivery stops at once, to try again later.
func TestUnansweredClipboardIsNotTaken(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("person's clipboard"))
	d.ClipboardErr = deliver.ErrClipboardSilent
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "msg")
	if err == nil || !deliver.IsTemporary(err) || !errors.Is(err, deliver.ErrClipboardSilent) {
		t.Fatalf("err = %v, want a temporary error naming the owner", err)
	}
	if rep.Pasted || rep.Submitted {
		t.Fatalf("report %+v", rep)
	}
	nothingLanded(t, d)
	d.ClipboardErr = nil
	if clip, _ := d.Clipboard(); string(clip) != "person's clipboard" {
		t.Fatalf("clipboard %q, want the person's untouched", clip)
	}
}

// A copy another client made just before the restore, whose loss the
// message's offer has not heard of yet, is the person's to keep: the
// restore checks and takes the CLIPBOARD in one step (SetClipboardIf).
func TestRestoreLeavesACopyItHasNotHeardOf(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("old copy"))
	d.AfterKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "enter" {
			d.CopyUnnoticed("new copy")
		}
	}
	if _, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "msg"); err != nil {
		t.Fatal(err)
	}
	if clip, _ := d.Clipboard(); string(clip) != "new copy" {
		t.Fatalf("clipboard = %q, want the person's newer copy", clip)
	}
}

// A message is served to nobody but our own read-back and the agent's
// window from the moment it owns the CLIPBOARD: a clipboard manager
// reading at once (it fetches on every change of owner) gets nothing, and
// the message still lands. Before, an offer served anyone until it was
// restricted after the read-back. (On a real X server:
// TestX11OfferIsRestrictedFromBirth.)
func TestAnOfferServesNoOtherClientFromItsFirstMoment(t *testing.T) {
	d := desk(t)
	var offers atomic.Int32
	d.AfterOffer = func(d *fakedesktop.Desk) {
		offers.Add(1)
		if got, ok := d.ForeignRead(); ok {
			t.Errorf("a clipboard manager read %q from offer %d", got, offers.Load())
		}
	}
	if _, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "secret"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "secret" {
		t.Fatalf("submits %q", got)
	}
	if offers.Load() == 0 {
		t.Fatal("no offer was made")
	}
}
