package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// These tests run on a real X server that each starts itself (Xvfb +
// openbox + Tk agent windows). They fail, never skip, when the desktop
// tools are missing: `make test` installs them.

func startDesktop(t *testing.T, agents int) *desktoptest.Desktop {
	t.Helper()
	d := desktoptest.StartT(t, desktoptest.Options{Agents: agents, Dir: t.TempDir()})
	t.Setenv("DISPLAY", d.Display)
	if d.XAuthority != "" {
		t.Setenv("XAUTHORITY", d.XAuthority)
	}
	return d
}

func newX11(t *testing.T) *x11Desktop {
	t.Helper()
	desk, err := NewX11()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { desk.Close() })
	return desk.(*x11Desktop)
}

func targetOf(w *desktoptest.AgentWindow) Target {
	name := w.Name
	return Target{
		Agent: name, X: w.X, Y: w.Y, PID: w.PID, Window: strconv.Quote(name),
		Match:  func(title string) bool { return title == name },
		Submit: []string{"enter"}, Undo: []string{"ctrl", "z"},
	}
}

func TestX11WithoutDisplayIsAClearError(t *testing.T) {
	t.Setenv("DISPLAY", "")
	_, err := NewX11()
	if err == nil || !IsNoDisplay(err) || !strings.Contains(err.Error(), "DISPLAY is not set") {
		t.Fatalf("err = %v, want a no-display error that names DISPLAY", err)
	}
}

func TestX11UnreachableDisplayIsAClearError(t *testing.T) {
	t.Setenv("DISPLAY", ":4077") // nothing listens there
	_, err := NewX11()
	if err == nil || !IsNoDisplay(err) || !strings.Contains(err.Error(), ":4077") {
		t.Fatalf("err = %v, want a no-display error naming :4077", err)
	}
}

// An X protocol error (here BadWindow: asking about windows that do not
// exist, or that closed a moment ago) must come back as an error value.
// With robotgo's cgo backend Xlib's default handler would exit the process.
func TestX11ErrorIsAnErrorNotAnExit(t *testing.T) {
	d := startDesktop(t, 2)
	x := newX11(t)
	for _, id := range []uint32{0x1fffff0, 0x3ffffff} {
		if _, err := x.describe(xwin(id)); err == nil {
			t.Fatalf("describe(0x%x) of a window that does not exist: no error", id)
		}
	}
	// Focus a window, kill its owner, keep asking: errors or an empty
	// answer, never a crash.
	a := d.Agents[0]
	if err := d.Activate(a.Name); err != nil {
		t.Fatal(err)
	}
	if err := syscallKill(a.PID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		x.Focused()
	}
	if _, _, err := x.Pointer(); err != nil {
		t.Fatalf("connection unusable after X errors: %v", err)
	}
}

// One X connection for the life of the desktop: asking for the focus a
// thousand times opens no new ones (robotgo.GetActive leaks one per call
// until its atom cache is loaded).
func TestX11FocusQueriesDoNotLeakConnections(t *testing.T) {
	startDesktop(t, 1)
	x := newX11(t)
	x.Focused()
	before := openFDs(t)
	for i := 0; i < 1000; i++ {
		if _, err := x.Focused(); err != nil {
			t.Fatal(err)
		}
	}
	if after := openFDs(t); after > before+2 {
		t.Fatalf("open file descriptors grew from %d to %d over 1000 focus queries", before, after)
	}
}

func TestX11ReleasesStuckModifiersAtStart(t *testing.T) {
	d := startDesktop(t, 1)
	cmd := exec.Command("xdotool", "keydown", "ctrl", "keydown", "shift")
	cmd.Env = d.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xdotool: %v %s", err, out)
	}
	x := newX11(t)
	down, err := x.PressedModifiers()
	if err != nil {
		t.Fatal(err)
	}
	if len(down) != 0 {
		t.Fatalf("modifier keycodes still down after NewX11: %v", down)
	}
}

// 200 messages to 4 real windows: each arrives exactly once, with exactly
// its text, at its own window; the person's clipboard is as it was.
func TestX11Deliver200(t *testing.T) {
	d := startDesktop(t, 4)
	const userClip = "the person's clipboard ✂"
	if err := d.SetClipboard(userClip); err != nil {
		t.Fatal(err)
	}
	lock, err := NewDesktopLock(filepath.Join(t.TempDir(), "desktop.lock"))
	if err != nil {
		t.Fatal(err)
	}
	x := newX11(t)
	dl := &Deliverer{Desktop: x, Lock: lock, Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	want := map[string][]string{}
	for i := 0; i < 200; i++ {
		a := d.Agents[i%len(d.Agents)]
		text := fmt.Sprintf("[agentspool id=m%03d from=test to=%s]\nmessage %d for %s\nsecond line: ünïcödé ✓", i, a.Name, i, a.Name)
		if _, err := dl.Deliver(context.Background(), targetOf(a), text); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want[a.Name] = append(want[a.Name], text)
	}
	for _, a := range d.Agents {
		assertSubmits(t, d, a.Name, want[a.Name])
	}
	if got, err := d.Clipboard(); err != nil || got != userClip {
		t.Fatalf("clipboard after the run = %q (%v), want %q", got, err, userClip)
	}
	// The person's clipboard is served by one offer: each restore's
	// offer went when the next delivery took the clipboard.
	x.offersMu.Lock()
	n := len(x.offers)
	x.offersMu.Unlock()
	if n != 1 {
		t.Errorf("%d offers open after 200 deliveries, want 1 (the person's clipboard)", n)
	}
}

// A second process delivers through the same desktop lock at the same
// time, to other windows: no message lands in the wrong window.
func TestX11SecondProcessSharesTheLock(t *testing.T) {
	d := startDesktop(t, 4)
	lockPath := filepath.Join(t.TempDir(), "desktop.lock")
	const n = 40
	// The child delivers to Agent-3 and Agent-4.
	child := exec.Command(os.Args[0], "-test.run=^TestHelperDeliverProcess$", "-test.v")
	child.Env = append(d.Env(), "DELIVER_HELPER=1", "DELIVER_LOCK="+lockPath, fmt.Sprintf("DELIVER_N=%d", n),
		fmt.Sprintf("DELIVER_TARGETS=%s", encodeTargets(d.Agents[2:])))
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lock, err := NewDesktopLock(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	dl := &Deliverer{Desktop: newX11(t), Lock: lock}
	want := map[string][]string{}
	for i := 0; i < n; i++ {
		a := d.Agents[i%2]
		text := fmt.Sprintf("parent %d → %s", i, a.Name)
		if _, err := dl.Deliver(context.Background(), targetOf(a), text); err != nil {
			t.Fatalf("parent message %d: %v", i, err)
		}
		want[a.Name] = append(want[a.Name], text)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	for i := 0; i < n; i++ {
		a := d.Agents[2+i%2]
		want[a.Name] = append(want[a.Name], fmt.Sprintf("child %d → %s", i, a.Name))
	}
	for _, a := range d.Agents {
		assertSubmits(t, d, a.Name, want[a.Name])
	}
}

// TestHelperDeliverProcess is the second process of
// TestX11SecondProcessSharesTheLock; it does nothing when run on its own.
func TestHelperDeliverProcess(t *testing.T) {
	if os.Getenv("DELIVER_HELPER") != "1" {
		return
	}
	lock, err := NewDesktopLock(os.Getenv("DELIVER_LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(os.Getenv("DELIVER_N"))
	targets := decodeTargets(os.Getenv("DELIVER_TARGETS"))
	dl := &Deliverer{Desktop: newX11(t), Lock: lock}
	for i := 0; i < n; i++ {
		tg := targets[i%len(targets)]
		if _, err := dl.Deliver(context.Background(), tg, fmt.Sprintf("child %d → %s", i, tg.Agent)); err != nil {
			t.Fatalf("child message %d: %v", i, err)
		}
	}
}

func encodeTargets(ws []*desktoptest.AgentWindow) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s,%d,%d,%d", w.Name, w.X, w.Y, w.PID))
	}
	return strings.Join(parts, ";")
}

func decodeTargets(s string) []Target {
	var out []Target
	for _, p := range strings.Split(s, ";") {
		f := strings.Split(p, ",")
		x, _ := strconv.Atoi(f[1])
		y, _ := strconv.Atoi(f[2])
		pid, _ := strconv.Atoi(f[3])
		out = append(out, targetOf(&desktoptest.AgentWindow{Name: f[0], X: x, Y: y, PID: pid}))
	}
	return out
}

// assertSubmits waits (polling, with a deadline) until agent's window has
// recorded as many submits as wanted, then compares them exactly.
func assertSubmits(t *testing.T, d *desktoptest.Desktop, agent string, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		got, err = d.Submits(agent)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d submits, want %d\ngot:  %q\nwant: %q", agent, len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s submit %d = %q, want %q", agent, i, got[i], want[i])
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func xwin(id uint32) xproto.Window { return xproto.Window(id) }

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

type desktoptestDesktop = desktoptest.Desktop

func desktoptestStartT(tb testing.TB, agents int) *desktoptest.Desktop {
	return desktoptest.StartT(tb, desktoptest.Options{Agents: agents, Dir: tb.TempDir()})
}

// Keys a person types while a delivery grabs the keyboard are kept and
// replayed, in order, to the window that has the focus afterwards.
func TestX11KeptKeysAreReplayed(t *testing.T) {
	d := startDesktop(t, 1)
	ed, err := d.StartEditor("Editor")
	if err != nil {
		t.Fatal(err)
	}
	x := newX11(t)
	if err := x.Click(ed.X, ed.Y); err != nil {
		t.Fatal(err)
	}
	if err := x.GrabKeys(); err != nil {
		t.Fatal(err)
	}
	xdo := exec.Command("xdotool", "type", "--delay", "10", "Hello held World")
	xdo.Env = d.Env()
	if out, err := xdo.CombinedOutput(); err != nil {
		t.Fatalf("xdotool: %v %s", err, out)
	}
	// Our own key taps pass through the grab meanwhile.
	if err := x.Key([]string{"x"}); err != nil {
		t.Fatal(err)
	}
	n, err := x.ReleaseKeys()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %d key events", n)
	// The replay is the person's typing, late: to any process's quiet
	// check it is a person's input, not ours.
	in, err := x.LastInput()
	if err != nil {
		t.Fatal(err)
	}
	if own, _ := x.OwnInput(); n == 0 || !in.Tick.After(own.Tick) {
		t.Errorf("after replaying %d keys the last input (tick %d) passes for ours (tick %d)", n, in.Tick, own.Tick)
	}
	if err := x.Key([]string{"enter"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		subs, _ := d.Submits("Editor")
		if len(subs) > 0 {
			if subs[0] != "xHello held World" {
				t.Fatalf("editor got %q, want %q", subs[0], "xHello held World")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no submit")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A person types into their editor without pause while deliveries run: no
// key of theirs lands in an agent's window, none is lost, and each delivery
// gives the focus back to the editor.
func TestX11PersonTypingThroughDeliveries(t *testing.T) {
	d := startDesktop(t, 2)
	ed, err := d.StartEditor("Editor")
	if err != nil {
		t.Fatal(err)
	}
	x := newX11(t)
	x.Click(ed.X, ed.Y)
	const typed = "the person keeps typing through every delivery"
	person := exec.Command("xdotool", "type", "--delay", "30", typed)
	person.Env = d.Env()
	if err := person.Start(); err != nil {
		t.Fatal(err)
	}
	dl := &Deliverer{Desktop: x}
	want := map[string][]string{}
	for i := 0; i < 30; i++ {
		a := d.Agents[i%2]
		text := fmt.Sprintf("[agentspool id=p%d from=t to=%s]\nwhile typing %d", i, a.Name, i)
		rep, err := dl.Deliver(context.Background(), targetOf(a), text)
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if !rep.GaveBack {
			t.Errorf("delivery %d did not give the focus back", i)
		}
		want[a.Name] = append(want[a.Name], text)
	}
	if err := person.Wait(); err != nil {
		t.Fatal(err)
	}
	x.Click(ed.X, ed.Y)
	x.Key([]string{"enter"})
	for _, a := range d.Agents {
		assertSubmits(t, d, a.Name, want[a.Name])
	}
	assertSubmits(t, d, "Editor", []string{typed})
}

// A person's held Shift would turn our Enter into Shift+Enter (a newline,
// not a submit): the guarded key refuses while it is down.
func TestX11GuardedKeyWaitsOutAPersonsModifier(t *testing.T) {
	d := startDesktop(t, 1)
	x := newX11(t)
	a := d.Agents[0]
	xdo := func(args ...string) {
		cmd := exec.Command("xdotool", args...)
		cmd.Env = d.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v %s", args, err, out)
		}
	}
	dl := &Deliverer{Desktop: x, Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	tg := targetOf(a)
	var rep Report
	if err := dl.focus(context.Background(), tg, &rep); err != nil {
		t.Fatal(err)
	}
	xdo("keydown", "shift")
	_, tapped, err := x.GuardedKey([]string{"enter"}, tg.matches)
	if tapped || !errors.Is(err, errModifierDown) {
		t.Fatalf("tapped=%v err=%v with Shift held, want refused", tapped, err)
	}
	if w, _ := d.Submits(a.Name); len(w) != 0 {
		t.Fatalf("submitted with Shift held: %q", w)
	}
	xdo("keyup", "shift")
	if err := dl.guardedKey(context.Background(), tg, []string{"enter"}, &rep); err != nil {
		t.Fatalf("after Shift came up: %v", err)
	}
	assertSubmits(t, d, a.Name, []string{""})
}

// A person's key pressed the moment a delivery lets go of the keyboard is
// told from the delivery's own input, and our own input is never taken for
// a person's: the two are compared on the X server's clock, exactly.
func TestX11TellsAPersonsKeyFromOursAtOnce(t *testing.T) {
	d := startDesktop(t, 1)
	ed, err := d.StartEditor("Editor")
	if err != nil {
		t.Fatal(err)
	}
	x := newX11(t)
	typist, err := d.Typist()
	if err != nil {
		t.Fatal(err)
	}
	defer typist.Close()
	missed, false_ := 0, 0
	const rounds = 200
	for i := 0; i < rounds; i++ {
		if err := x.GrabKeys(); err != nil {
			t.Fatal(err)
		}
		if err := x.Click(ed.X, ed.Y); err != nil {
			t.Fatal(err)
		}
		if _, err := x.ReleaseKeys(); err != nil {
			t.Fatal(err)
		}
		person := i%2 == 0
		if person { // right away: within a millisecond or two
			if _, err := typist.Type("a", 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		in, err := x.LastInput()
		if err != nil {
			t.Fatal(err)
		}
		own, ok := x.OwnInput()
		if !ok {
			t.Fatal("no own input noted after a click")
		}
		switch theirs := in.Tick.After(own.Tick); {
		case person && !theirs:
			missed++
		case !person && theirs:
			false_++
		}
	}
	if missed > 0 || false_ > 0 {
		t.Fatalf("of %d rounds: %d keys of the person's passed for ours, %d of our clicks passed for a person's", rounds, missed, false_)
	}
}

// An app that owns the CLIPBOARD and hangs: the delivery gives up within
// about ClipboardReadLimit (not golang.design's 5 s) without pasting, lets
// go of the keyboard, and leaves the clipboard with its owner.
func TestX11HungClipboardOwner(t *testing.T) {
	d := startDesktop(t, 1)
	hung, win, clip := otherClient(t, d.Display)
	root := xproto.Setup(hung).DefaultScreen(hung).Root
	xproto.SetSelectionOwner(hung, win, clip.Atom, xproto.TimeCurrentTime)
	hung.Sync() // and from now on it never reads its events

	x := newX11(t)
	start := time.Now()
	rep, err := (&Deliverer{Desktop: x}).Deliver(context.Background(), targetOf(d.Agents[0]), "never pasted")
	took := time.Since(start)
	if err == nil || !IsTemporary(err) || !errors.Is(err, ErrClipboardSilent) {
		t.Fatalf("err = %v, want a temporary error: the owner did not answer", err)
	}
	t.Logf("gave up after %v: %v", took, err)
	if took > ClipboardReadLimit+time.Second {
		t.Errorf("took %v, want about %v", took, ClipboardReadLimit)
	}
	if rep.Pasted || rep.Submitted {
		t.Errorf("report %+v", rep)
	}
	if subs, _ := d.Submits(d.Agents[0].Name); len(subs) != 0 {
		t.Errorf("agent got %q", subs)
	}
	if owner, _ := xproto.GetSelectionOwner(hung, clip.Atom).Reply(); owner == nil || owner.Owner != win {
		t.Errorf("clipboard owner %v, want the hung app's window 0x%x", owner, win)
	}
	// The keyboard is free: another client can grab it.
	g, err := xproto.GrabKeyboard(hung, false, root, xproto.TimeCurrentTime, xproto.GrabModeAsync, xproto.GrabModeAsync).Reply()
	if err != nil || g.Status != xproto.GrabStatusSuccess {
		t.Errorf("keyboard still grabbed after the delivery gave up: %v %v", g, err)
	}
	xproto.UngrabKeyboard(hung, xproto.TimeCurrentTime)

	// golang.design's read of the hung owner still waits (its 5 s), and
	// holds that package's lock: putting a clipboard back must not wait
	// for it.
	start = time.Now()
	if err := x.SetClipboard([]byte("put back")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("restoring a clipboard took %v: it waited for the stuck read", took)
	}
	if got, err := d.Clipboard(); err != nil || got != "put back" {
		t.Errorf("clipboard %q (%v), want %q", got, err, "put back")
	}
}

// On a desktop whose person has no clipboard, verified deliveries (each
// looks at the input: select-all and copy in the agent's window) leave
// none: the window's copy of the message is not left on the CLIPBOARD
// for any window to paste, nor saved as the person's by the next one.
func TestX11VerifiedDeliveryLeavesNoClipboard(t *testing.T) {
	d := startDesktop(t, 2)
	x := newX11(t)
	if o, err := x.ClipboardOwner(); err != nil || o != 0 {
		t.Fatalf("fresh desktop: clipboard owner 0x%x (%v), want none", o, err)
	}
	dl := &Deliverer{Desktop: x, Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	want := map[string][]string{}
	for i := 0; i < 6; i++ {
		a := d.Agents[i%len(d.Agents)]
		tg := targetOf(a)
		tg.Read = &DraftKeys{SelectAll: []string{"ctrl", "slash"}, Copy: []string{"ctrl", "c"}, Caret: []string{"ctrl", "End"}}
		tg.Verify = true
		text := fmt.Sprintf("[agentspool id=v%03d from=test to=%s]\nverified %d ✓", i, a.Name, i)
		rep, err := dl.Deliver(context.Background(), tg, text)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want[a.Name] = append(want[a.Name], text)
		if rep.Landing != "seen" && i > 0 {
			t.Fatalf("message %d: landing %q, want seen (the look ran)", i, rep.Landing)
		}
		if o, err := x.ClipboardOwner(); err != nil || o != 0 {
			got, _ := x.Clipboard()
			t.Fatalf("after message %d the clipboard has owner 0x%x (%v) serving %q; want none, as the person had", i, o, err, got)
		}
	}
	for _, a := range d.Agents {
		assertSubmits(t, d, a.Name, want[a.Name])
	}
}

// The person's clipboard goes back only while our offer still owns the
// CLIPBOARD, compared and taken in one step: a copy another client made a
// moment before (its SelectionClear not yet read by us) stays. Without
// the check, a restore right after the person's last copy put an older one
// back (the X11 proof: "person's copy #840" over "#841").
func TestX11SetClipboardIfLeavesACopyMadeMeanwhile(t *testing.T) {
	d := startDesktop(t, 1)
	x := newX11(t)
	other, win, clip := otherClient(t, d.Display)

	o, err := x.Offer([]byte("the message"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if ok, err := x.SetClipboardIf([]byte("put back"), o.Owner()); !ok || err != nil {
		t.Fatalf("SetClipboardIf while our offer owns the CLIPBOARD = %v, %v", ok, err)
	}
	if got, _ := x.Clipboard(); string(got) != "put back" {
		t.Fatalf("clipboard %q, want what was put back", got)
	}
	owner, _ := x.ClipboardOwner()
	xproto.SetSelectionOwner(other, win, clip.Atom, xproto.TimeCurrentTime)
	other.Sync()
	if ok, err := x.SetClipboardIf([]byte("older"), owner); ok || err != nil {
		t.Fatalf("SetClipboardIf after another client copied = %v, %v; want false", ok, err)
	}
	if cur, _ := xproto.GetSelectionOwner(other, clip.Atom).Reply(); cur == nil || cur.Owner != win {
		t.Fatalf("CLIPBOARD owner %v, want the other client's window 0x%x", cur, win)
	}
}

// otherClient is another X client on display, with a window that can own a
// selection, and the CLIPBOARD atom; closed at the end of the test.
func otherClient(t *testing.T, display string) (*xgb.Conn, xproto.Window, *xproto.InternAtomReply) {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	win, _ := xproto.NewWindowId(c)
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.CreateWindowChecked(c, 0, win, root, 0, 0, 1, 1, 0, xproto.WindowClassInputOnly, 0, 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	clip, err := xproto.InternAtom(c, false, 9, "CLIPBOARD").Reply()
	if err != nil {
		t.Fatal(err)
	}
	return c, win, clip
}
