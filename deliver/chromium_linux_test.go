package deliver

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// Deliveries into real Chromium windows (Debian's chromium on Xvfb): a
// textarea, a contenteditable, a Monaco and a Lexical editor, two windows
// per browser process. Each test plays one way a paste into Chromium went
// wrong on main 6a42ef1 (an empty submit while the delivery reported
// success, or another text submitted), and holds the window's own record of
// what it got: every submit, every paste, every click count.

func startChromium(t testing.TB, kinds ...string) *desktoptest.Desktop {
	t.Helper()
	d := desktoptest.StartT(t, desktoptest.Options{Agents: len(kinds), Kinds: kinds, Dir: t.TempDir()})
	t.Setenv("DISPLAY", d.Display)
	if d.XAuthority != "" {
		t.Setenv("XAUTHORITY", d.XAuthority)
	}
	return d
}

// deliverRetrying delivers text as the daemon would: an attempt that fails
// for a temporary reason is tried again (up to 8 times). It returns the
// attempts that failed.
func deliverRetrying(t *testing.T, dl *Deliverer, tg Target, text string) int {
	t.Helper()
	for failed := 0; failed < 8; failed++ {
		_, err := dl.Deliver(context.Background(), tg, text)
		if err == nil {
			return failed
		}
		if !IsTemporary(err) {
			t.Fatalf("deliver to %s: %v", tg.Agent, err)
		}
		t.Logf("deliver to %s: attempt %d: %v", tg.Agent, failed+1, err)
	}
	t.Fatalf("deliver to %s: 8 attempts failed", tg.Agent)
	return 0
}

// windowGot asserts that the window's submits are exactly want, in order,
// and that it saw no empty submit and no double or triple click; with
// undisturbed, also that no paste inserted nothing beyond the seen attempts
// the delivery itself saw fail.
func windowGot(t *testing.T, d *desktoptest.Desktop, a *desktoptest.AgentWindow, want []string, undisturbed bool, seen int) {
	t.Helper()
	// The page reports a submit to the harness a moment after it.
	var got []string
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s, err := d.Submits(a.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got = s; len(got) >= len(want) || time.Now().After(end) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s (%s): %d submits, want %d:\n got %q\nwant %q", a.Name, a.Kind, len(got), len(want), got, want)
	}
	st, err := d.Stats(a.Name)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("AS_DEBUG") != "" {
		evs, _ := d.Events(a.Name)
		for _, e := range evs {
			t.Logf("%s %s %s detail=%d data=%.40q text=%.40q len=%d landed=%v type=%s", a.Name, e.Received.Format("05.000000"), e.Type, e.Detail, e.Data, e.Text, e.Len, e.Landed, e.InputType)
		}
	}
	// Undisturbed, a paste that inserted nothing is allowed only as one of
	// the attempts the delivery itself saw fail (and tried again): now and
	// then Chromium drops a paste on its own, and the delivery must see it.
	if st.EmptySubmits != 0 || st.MultiClicks != 0 || (undisturbed && st.PastesInsertedNothing > seen) {
		t.Errorf("%s (%s): %d empty submits, %d multi-clicks, %d pastes that inserted nothing (%d attempts seen to fail); want none (%+v)",
			a.Name, a.Kind, st.EmptySubmits, st.MultiClicks, st.PastesInsertedNothing, seen, st)
	}
}

// chromiumTarget is the agent's target as the daemon builds it by default:
// the keys that read a Chromium input (coords.yaml's select_all, copy,
// caret) and verify_paste on.
func chromiumTarget(a *desktoptest.AgentWindow) Target {
	t := targetOf(a)
	t.Read = &DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	t.Verify = true
	return t
}

// deliverAll delivers one message to d.Agents[k] for each k of order,
// retrying as the daemon would, then asserts that every window got
// exactly its messages (see windowGot). It returns the attempts that
// failed.
func deliverAll(t *testing.T, d *desktoptest.Desktop, dl *Deliverer, order []int, undisturbed bool) int {
	t.Helper()
	want := map[string][]string{}
	retried := 0
	failedAt := map[string]int{}
	for i, k := range order {
		a := d.Agents[k]
		text := chromiumText(a, i)
		n := deliverRetrying(t, dl, chromiumTarget(a), text)
		retried += n
		failedAt[a.Name] += n
		want[a.Name] = append(want[a.Name], text)
	}
	for _, a := range d.Agents {
		windowGot(t, d, a, want[a.Name], undisturbed, failedAt[a.Name])
	}
	return retried
}

// roundRobin is n deliveries over agents windows in turn.
func roundRobin(n, agents int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i % agents
	}
	return order
}

func chromiumText(a *desktoptest.AgentWindow, i int) string {
	return fmt.Sprintf("[agentspool id=c%d-%s from=test to=%s]\nmessage %d for %s ✓ 日本語\n\tindented\nlast line", i, a.Name, a.Name, i, a.Kind)
}

// Back-to-back deliveries to one window, and to two windows of one browser
// at the same place in each: on main the clicks became double and triple
// clicks, which leave the caret outside an empty contenteditable (and a
// Lexical editor lose it on a double click): ctrl+v inserted nothing and
// Enter submitted an empty input.
func TestChromiumClicksNeverMultiClick(t *testing.T) {
	d := startChromium(t, desktoptest.KindContentEditable, desktoptest.KindLexical)
	dl := &Deliverer{Desktop: newX11(t), Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	deliverAll(t, d, dl, []int{0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1}, true)
}

// A person copies while Chromium is between its reads of one paste: the
// window inserts their text or nothing. On main the delivery watched only
// up to the first read, and submitted whatever the window had.
func TestChromiumCopyBetweenReads(t *testing.T) {
	d := startChromium(t, desktoptest.KindTextarea, desktoptest.KindContentEditable, desktoptest.KindLexical, desktoptest.KindMonaco)
	person := newX11(t) // another app's connection: the person's copies
	inner := newX11(t)
	// The person copies 1–15 ms after each ctrl+v: inside Chromium's burst
	// of reads (15–27 ms), at a different point each time.
	var mu sync.Mutex
	var copies []string
	var pastes int
	desk := &afterPaste{Desktop: inner, after: func() {
		mu.Lock()
		pastes++
		n := pastes
		mu.Unlock()
		if n%2 == 0 {
			return // every other attempt goes undisturbed
		}
		time.Sleep(time.Duration(1+n%15) * time.Millisecond)
		text := fmt.Sprintf("PERSON COPY %d", n)
		if person.SetClipboard([]byte(text)) == nil {
			mu.Lock()
			copies = append(copies, text)
			mu.Unlock()
		}
	}}
	dl := &Deliverer{Desktop: desk, Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	retried := deliverAll(t, d, dl, roundRobin(16, len(d.Agents)), false)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d pastes, %d copies by the person, %d attempts tried again", pastes, len(copies), retried)
	if len(copies) == 0 {
		t.Fatal("the person never copied: the test tested nothing")
	}
	if clip, err := inner.Clipboard(); err != nil || string(clip) != copies[len(copies)-1] {
		t.Errorf("clipboard at the end %q (err %v), want the person's last copy %q", clip, err, copies[len(copies)-1])
	}
}

// afterPaste runs after in a goroutine each time ctrl+v is tapped.
type afterPaste struct {
	Desktop
	after func()
}

func (a *afterPaste) GuardedKey(combo []string, ok func(Window) bool) (Window, bool, error) {
	w, tapped, err := a.Desktop.GuardedKey(combo, ok)
	if tapped && strings.Join(combo, "+") == "ctrl+v" {
		go a.after()
	}
	return w, tapped, err
}

// The person's clipboard is given back while Chromium still reads: on main
// the restore came a learned 5–40 ms after the first read, and the window
// inserted nothing (or the person's text), and Enter submitted it.
func TestChromiumRestoreAfterTheReads(t *testing.T) {
	d := startChromium(t, desktoptest.KindTextarea, desktoptest.KindContentEditable)
	person := newX11(t)
	if err := person.SetClipboard([]byte("the person's clipboard")); err != nil {
		t.Fatal(err)
	}
	x := newX11(t)
	dl := &Deliverer{Desktop: x, Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	deliverAll(t, d, dl, roundRobin(16, len(d.Agents)), true)
	if clip, err := x.Clipboard(); err != nil || string(clip) != "the person's clipboard" {
		t.Errorf("clipboard at the end %q (err %v)", clip, err)
	}
}

// Monaco (VS Code's chat input) inserts a paste from its own event loop,
// 8–27 ms after the paste event, and drops the insert when a key comes
// first: on main Enter came 6–11 ms after the paste event and submitted an
// empty input. The submit now waits for the end of the window's reads
// (and the agent's paste_settle).
func TestChromiumEnterAfterMonacosInsert(t *testing.T) {
	d := startChromium(t, desktoptest.KindMonaco, desktoptest.KindMonaco)
	dl := &Deliverer{Desktop: newX11(t), Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	deliverAll(t, d, dl, roundRobin(12, len(d.Agents)), true)
}
