package proof

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// Minimal reproductions of two deliver bugs the proof found, kept as
// regression tests: they failed every time before the fix.
//
// Both use a window that is slow to take a paste (PasteDelay: the fixture
// blocks in its ctrl+v handler before it asks for the CLIPBOARD, as a busy
// app's UI thread does), which makes the race windows wide and the outcome
// deterministic.

func reproDesktop(t *testing.T) (*desktoptest.Desktop, *deliver.Deliverer, deliver.Target) {
	t.Helper()
	desk := desktoptest.StartT(t, desktoptest.Options{
		Agents: 1, Dir: t.TempDir(),
		Fixture: desktoptest.FixtureOptions{PasteDelay: time.Second},
	})
	t.Setenv("DISPLAY", desk.Display)
	x, err := deliver.NewX11()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	a := desk.Agents[0]
	tg := deliver.Target{
		Agent: a.Name, X: a.X, Y: a.Y, PID: a.PID, Window: `"` + a.Name + `"`,
		Match:  func(title string) bool { return title == a.Name },
		Submit: []string{"enter"}, Undo: []string{"ctrl", "z"},
	}
	dl := &deliver.Deliverer{Desktop: x, Timings: deliver.NewTimings(5*time.Millisecond, 5*time.Second)}
	return desk, dl, tg
}

// Bug 1: the person copies something after ctrl+v but before the window
// fetched the paste. Deliver used to see its offer lost and press Undo at
// once, before the window had pasted: the undo ran first (nothing to take
// back), then the window pasted the person's text, which stayed in the
// input and was submitted glued to the next message. Now the message is
// offered again at once (the window, not having asked yet, gets ours), and
// the person's copy is given back at the end.
func TestCopyDuringASlowPasteIsNotPasted(t *testing.T) {
	desk, dl, tg := reproDesktop(t)
	ctx := context.Background()
	go func() {
		// Focus and offer take a few ms; ctrl+v follows; the window then
		// sleeps 1 s in its paste handler. Copy in the middle of that,
		// without reading the clipboard (a read would be bug 2).
		time.Sleep(300 * time.Millisecond)
		copyWithoutReading(t, desk, "the person's copy")
	}()
	rep, err := dl.Deliver(ctx, tg, "[agentspool id=one from=- to=Agent-1]\nfirst")
	t.Logf("first delivery: err=%v pasted=%v submitted=%v undone=%v", err, rep.Pasted, rep.Submitted, rep.Undone)
	time.Sleep(1500 * time.Millisecond) // the window wakes up and pastes
	second := "[agentspool id=two from=- to=Agent-1]\nsecond"
	if _, err := dl.Deliver(ctx, tg, second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	subs, _ := desk.Submits(tg.Agent)
	for i, s := range subs {
		if s != second && s != "[agentspool id=one from=- to=Agent-1]\nfirst" || (i == 1 && s != second) {
			t.Fatalf("the window received %q: want the two messages, whole, in order (or only the second)", subs)
		}
	}
	if len(subs) == 0 || subs[len(subs)-1] != second {
		t.Fatalf("the window received %q", subs)
	}
	if clip, err := desk.Clipboard(); err != nil || clip != "the person's copy" {
		t.Fatalf("clipboard %q (%v), want the person's copy", clip, err)
	}
}

// Bug 2: any client that read the CLIPBOARD while a paste was pending (a
// clipboard manager does, and so does a person's paste elsewhere) counted
// as "the window fetched the message"; Deliver pressed Enter before the
// window had the text: an empty submit, then the text left in the input.
// Now the offer serves only the agent's window once the read-back is done.
func TestClipboardReaderIsNotTakenForThePaste(t *testing.T) {
	desk, dl, tg := reproDesktop(t)
	ctx := context.Background()
	text := "[agentspool id=one from=- to=Agent-1]\nthe message"
	go func() {
		if os.Getenv("REPRO_NO_MANAGER") != "" {
			return
		}
		time.Sleep(300 * time.Millisecond)
		got, err := desk.Clipboard() // a clipboard manager looking
		t.Logf("the clipboard manager read %q (%v)", got, err)
	}()
	rep, err := dl.Deliver(ctx, tg, text)
	t.Logf("delivery: err=%v pasted=%v submitted=%v fetch=%v", err, rep.Pasted, rep.Submitted, rep.Fetch)
	time.Sleep(2 * time.Second)
	subs, _ := desk.Submits(tg.Agent)
	if err != nil || len(subs) != 1 || subs[0] != text {
		t.Fatalf("Deliver: %v; the window received %q, want [%q]", err, subs, text)
	}
}

// copyWithoutReading makes an xclip own the CLIPBOARD with text and waits
// until it does by asking the server who owns it, not by converting it.
func copyWithoutReading(t *testing.T, desk *desktoptest.Desktop, text string) {
	c, err := xgb.NewConnDisplay(desk.Display)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	atom, err := xproto.InternAtom(c, false, 9, "CLIPBOARD").Reply()
	if err != nil {
		t.Error(err)
		return
	}
	owner := func() xproto.Window {
		r, err := xproto.GetSelectionOwner(c, atom.Atom).Reply()
		if err != nil {
			return 0
		}
		return r.Owner
	}
	before := owner()
	cmd := exec.Command("xclip", "-quiet", "-selection", "clipboard", "-in")
	cmd.Env = desk.Env()
	cmd.Stdin = strings.NewReader(text)
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for end := time.Now().Add(5 * time.Second); owner() == before && time.Now().Before(end); {
		time.Sleep(2 * time.Millisecond)
	}
}
