package desktoptest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A real Xvfb and real Chromium, as the other tests: a missing tool or a
// missing npm install fails, never skips.

// body is what a daemon pastes after its envelope line: everything a
// careless path through a shell, HTML or a clipboard converter would change.
const body = "Ελληνικά, 日本語 ✓ → done\n" +
	"\ttabbed\tcolumns\t\n" +
	"quotes \"double\" 'single' `back` and back\\slash \\n not a newline\n" +
	"<tag attr=\"x\">a&b &amp; &lt;</tag> $HOME ${PATH} %s %%\n" +
	"\n" +
	"  indented after a blank line\n" +
	"last line"

// chromiumDesktop is one desktop for the Chromium tests: one window of each
// Chromium kind (instance 1: textarea + contenteditable, instance 2: monaco
// + lexical) and a Tk window.
func chromiumDesktop(t *testing.T) *Desktop {
	t.Helper()
	return StartT(t, Options{
		Agents:  5,
		Dir:     t.TempDir(),
		Kinds:   []string{KindTextarea, KindContentEditable, KindMonaco, KindLexical, KindTk},
		Fixture: FixtureOptions{AckDelay: 20 * time.Millisecond, OrderedKeys: true},
	})
}

func TestChromium(t *testing.T) {
	d := chromiumDesktop(t)
	c := &clicker{d: d}

	t.Run("windows", func(t *testing.T) {
		wantInstance := []int{1, 1, 2, 2, 0}
		for i, a := range d.Agents {
			if a.Instance != wantInstance[i] {
				t.Errorf("%s (%s): instance %d, want %d", a.Name, a.Kind, a.Instance, wantInstance[i])
			}
			wid := "0x" + strconv.FormatUint(uint64(a.WindowID), 16)
			title, err := d.xprop(wid, "WM_NAME")
			if err != nil || title != strconv.Quote(a.Name) {
				t.Errorf("%s: WM_NAME %s (%v)", a.Name, title, err)
			}
			pid, err := d.xprop(wid, "_NET_WM_PID")
			if err != nil || a.PID == 0 || pid != strconv.Itoa(a.PID) {
				t.Errorf("%s: _NET_WM_PID %s (%v), want %d", a.Name, pid, err, a.PID)
			}
			out, err := d.x("xdotool", "search", "--name", "^"+a.Name+"$")
			if err != nil || strings.TrimSpace(out) != strconv.FormatUint(uint64(a.WindowID), 10) {
				t.Errorf("%s: xdotool search --name gives %q (%v), want %d", a.Name, out, err, a.WindowID)
			}
		}
		if d.Agents[0].PID != d.Agents[1].PID || d.Agents[2].PID != d.Agents[3].PID || d.Agents[0].PID == d.Agents[2].PID {
			t.Errorf("browser pids %d %d %d %d: want one per instance", d.Agents[0].PID, d.Agents[1].PID, d.Agents[2].PID, d.Agents[3].PID)
		}
	})

	t.Run("paste and submit", func(t *testing.T) {
		long := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzÆØÅ→", 60) // a 2,400-character line
		for round, b := range []string{body, long + "\n" + body} {
			for _, a := range d.Agents {
				id := fmt.Sprintf("r%d-%s", round, a.Name)
				text := "[agentspool id=" + id + " from=Agent-6 to=" + a.Name + "]\n" + b
				pasteAndSubmit(t, d, c, a, text)
				waitFile(t, filepath.Join(a.Inbox, id+".ack"))
			}
		}
		for _, a := range d.Agents[:4] {
			st, err := d.Stats(a.Name)
			if err != nil {
				t.Fatal(err)
			}
			want := WindowStats{Kind: a.Kind, Events: st.Events, Submits: 2, MouseDowns: 2, Pastes: 2}
			if st != want {
				t.Errorf("%s stats %+v, want %+v", a.Name, st, want)
			}
		}
	})

	t.Run("empty submit", func(t *testing.T) {
		a := d.Agents[2] // monaco
		before, _ := d.Submits(a.Name)
		c.click(t, a)
		key(t, d, "Return")
		got := waitSubmitCount(t, d, a.Name, len(before)+1)
		if got[len(got)-1] != "" {
			t.Fatalf("empty submit recorded as %q", got[len(got)-1])
		}
		data, err := os.ReadFile(filepath.Join(a.Record, fmt.Sprintf("%06d.txt", len(got))))
		if err != nil || len(data) != 0 {
			t.Fatalf("record of an empty submit: %q, %v", data, err)
		}
		st, err := d.Stats(a.Name)
		if err != nil || st.EmptySubmits != 1 {
			t.Fatalf("stats %+v (%v), want 1 empty submit", st, err)
		}
	})

	t.Run("shift+enter and undo", func(t *testing.T) {
		for _, a := range d.Agents[:4] {
			before := mustSubmits(t, d, a.Name)
			c.click(t, a)
			typeText(t, d, "one")
			key(t, d, "shift+Return")
			typeText(t, d, "two")
			// The editors merge quick changes into one undo step: the paste
			// must be a step of its own.
			time.Sleep(500 * time.Millisecond)
			n := len(events(t, d, a.Name))
			if err := d.SetClipboard(" wrong"); err != nil {
				t.Fatal(err)
			}
			key(t, d, "ctrl+v")
			waitLanded(t, d, a.Name, n)
			key(t, d, "ctrl+z")
			waitEvent(t, d, a.Name, n, "the undo", func(ev WindowEvent) bool { return ev.Type == "input" && ev.Len == len("one\ntwo") })
			key(t, d, "Return")
			got := waitSubmitCount(t, d, a.Name, len(before)+1)
			if last := got[len(got)-1]; last != "one\ntwo" {
				t.Errorf("%s (%s): submitted %q, want %q", a.Name, a.Kind, last, "one\ntwo")
			}
		}
	})

	// A text that ends in a newline is exact everywhere but in the
	// contenteditable: Chromium pastes the last, empty line as a
	// <div><br></div> after the text's "\n", and innerText reads that as
	// two more newlines. A chat app that reads innerText gets them too.
	t.Run("trailing newline", func(t *testing.T) {
		text := "[agentspool id=nl from=Agent-6 to=X]\nends in a newline\n"
		for _, a := range d.Agents {
			want := text
			if a.Kind == KindContentEditable {
				want = text + "\n\n"
			}
			if last, _ := clickPasteEnter(t, d, c, a, text); last != want {
				t.Errorf("%s (%s) recorded %q, want %q", a.Name, a.Kind, last, want)
			}
		}
	})

	// Chromium counts a click as a double or triple click when it comes
	// within its double-click time (500 ms) at the same point of a window
	// (a window-local point, within 2 px): the counter is the browser's,
	// shared by every window of the instance. A deliverer that clicks the
	// same spot twice quickly, in one window or in two windows with the
	// same layout, gets a double click (a word selected, or worse).
	t.Run("multi-click", func(t *testing.T) {
		a, b := d.Agents[0], d.Agents[1] // one instance, the input at the same window-local point
		for _, seq := range [][]*AgentWindow{{a, a, a}, {a, b, a}} {
			c.wait()
			since := map[string]int{a.Name: len(events(t, d, a.Name)), b.Name: len(events(t, d, b.Name))}
			// One xdotool for the three clicks: on a loaded machine, the
			// start-up of a process per click can take longer than the
			// double-click time.
			argv := []string{"xdotool"}
			for i, w := range seq {
				if i > 0 {
					argv = append(argv, "sleep", "0.1")
				}
				argv = append(argv, "mousemove", strconv.Itoa(w.X), strconv.Itoa(w.Y), "click", "1")
			}
			if _, err := d.x(argv...); err != nil {
				t.Fatal(err)
			}
			c.last = time.Now()
			var details []int
			var names []string
			var at []time.Time
			for _, w := range seq {
				ev := waitEvent(t, d, w.Name, since[w.Name], "mousedown", func(ev WindowEvent) bool { return ev.Type == "mousedown" })
				since[w.Name] = ev.Seq
				details = append(details, ev.Detail)
				names = append(names, w.Name)
				at = append(at, ev.Received)
			}
			if fmt.Sprint(details) != "[1 2 3]" {
				t.Errorf("clicks 100 ms apart in %v: event.detail %v, want [1 2 3] (received %v and %v apart)",
					names, details, at[1].Sub(at[0]).Round(time.Millisecond), at[2].Sub(at[1]).Round(time.Millisecond))
			}
		}
		st, err := d.Stats(b.Name)
		if err != nil || st.MultiClicks != 1 {
			t.Errorf("%s: stats %+v (%v), want 1 multi-click", b.Name, st, err)
		}
	})

	t.Run("stop ends every chromium process", func(t *testing.T) {
		var groups []int
		var strays []func() []int
		d.mu.Lock()
		for _, p := range d.procs {
			if p.group {
				groups = append(groups, p.PID)
			}
			if p.strays != nil {
				strays = append(strays, p.strays)
			}
		}
		d.mu.Unlock()
		// Each browser's crashpad handlers, outside its group.
		for _, f := range strays {
			if len(f()) == 0 {
				t.Errorf("a browser has no crashpad handler: has Chromium stopped starting them, or moved their --database?")
			}
		}
		// Two browsers, and the two launches that handed a window over.
		if len(groups) != 4 {
			t.Fatalf("%d chromium process groups, want 4", len(groups))
		}
		for _, a := range []*AgentWindow{d.Agents[0], d.Agents[2]} {
			// The browser, its zygotes, renderers, GPU and network processes.
			if n := len(groupMembers(a.PID)); n < 4 {
				t.Errorf("browser %d: %d processes in its group, want its helpers too", a.PID, n)
			}
		}
		if err := d.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			if left := groupMembers(g); len(left) > 0 {
				t.Errorf("process group %d: %v left after Stop", g, left)
			}
			if err := syscall.Kill(-g, 0); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.EPERM) {
				t.Errorf("kill -%d: %v", g, err)
			}
		}
		for _, f := range strays {
			if left := f(); len(left) > 0 {
				t.Errorf("crashpad handlers %v left after Stop", left)
			}
		}
	})
}

// pasteAndSubmit delivers text as a careful daemon would: click the input,
// paste, wait until the paste has landed, Enter. It checks the record is
// exactly the text, and that the window saw one plain click and one paste.
func pasteAndSubmit(t *testing.T, d *Desktop, c *clicker, a *AgentWindow, text string) {
	t.Helper()
	last, n := clickPasteEnter(t, d, c, a, text)
	if last != text {
		t.Fatalf("%s (%s) recorded\n%q\nwant\n%q", a.Name, a.Kind, last, text)
	}
	if a.Kind == KindTk {
		return
	}
	evs := events(t, d, a.Name)[n:]
	var clicks, pastes []WindowEvent
	for _, ev := range evs {
		switch ev.Type {
		case "mousedown":
			clicks = append(clicks, ev)
		case "paste":
			pastes = append(pastes, ev)
		case "submit":
			if ev.Text == "" {
				t.Errorf("%s: an empty submit", a.Name)
			}
		}
	}
	if len(clicks) != 1 || clicks[0].Detail != 1 || !clicks[0].OnInput {
		t.Errorf("%s: mousedowns %+v, want one with detail 1 on the input", a.Name, clicks)
	}
	if len(pastes) != 1 || pastes[0].Data != text || !pastes[0].OnInput {
		t.Errorf("%s: pastes %+v, want one with the text, on the input", a.Name, pastes)
	}
}

// clickPasteEnter puts text on the clipboard, clicks a's input, pastes,
// waits until the paste has landed (in a Chromium window), presses Enter
// and waits for the submit. It returns what the submit recorded, and how
// many events a Chromium window had reported before the click.
func clickPasteEnter(t *testing.T, d *Desktop, c *clicker, a *AgentWindow, text string) (last string, seen int) {
	t.Helper()
	before := mustSubmits(t, d, a.Name)
	if err := d.SetClipboard(text); err != nil {
		t.Fatal(err)
	}
	if a.Kind != KindTk {
		seen = len(events(t, d, a.Name))
	}
	c.click(t, a)
	key(t, d, "ctrl+v")
	if a.Kind != KindTk {
		waitLanded(t, d, a.Name, seen)
	}
	key(t, d, "Return")
	got := waitSubmitCount(t, d, a.Name, len(before)+1)
	return got[len(got)-1], seen
}

// clicker clicks agent windows at their inputs, never two within
// Chromium's double-click time of each other, so a click is a plain click
// unless a test means it otherwise.
type clicker struct {
	d    *Desktop
	last time.Time
}

const doubleClickTime = 500 * time.Millisecond

func (c *clicker) wait() {
	time.Sleep(time.Until(c.last.Add(doubleClickTime + 100*time.Millisecond)))
}

func (c *clicker) click(t *testing.T, a *AgentWindow) {
	t.Helper()
	c.wait()
	c.clickNoWait(t, a)
	err := waitFor(5*time.Second, a.Name+" active after a click", func() (bool, error) {
		id, err := c.d.ActiveWindow()
		return err == nil && id == a.WindowID, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *clicker) clickNoWait(t *testing.T, a *AgentWindow) {
	t.Helper()
	if _, err := c.d.x("xdotool", "mousemove", strconv.Itoa(a.X), strconv.Itoa(a.Y), "click", "1"); err != nil {
		t.Fatal(err)
	}
	c.last = time.Now()
}

func key(t *testing.T, d *Desktop, keys ...string) {
	t.Helper()
	if _, err := d.x(append([]string{"xdotool", "key", "--clearmodifiers"}, keys...)...); err != nil {
		t.Fatal(err)
	}
}

func typeText(t *testing.T, d *Desktop, s string) {
	t.Helper()
	if _, err := d.x("xdotool", "type", s); err != nil {
		t.Fatal(err)
	}
}

func events(t *testing.T, d *Desktop, name string) []WindowEvent {
	t.Helper()
	evs, err := d.Events(name)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func mustSubmits(t *testing.T, d *Desktop, name string) []string {
	t.Helper()
	s, err := d.Submits(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitEvent waits for an event after the first since events that pred
// accepts, and returns it.
func waitEvent(t *testing.T, d *Desktop, name string, since int, what string, pred func(WindowEvent) bool) WindowEvent {
	t.Helper()
	var found WindowEvent
	err := waitFor(5*time.Second, name+" "+what, func() (bool, error) {
		evs, err := d.Events(name)
		if err != nil {
			return false, err
		}
		for _, ev := range evs[min(since, len(evs)):] {
			if pred(ev) {
				found = ev
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// waitLanded waits until the last paste's text is in the input: Monaco
// inserts it some milliseconds after the paste event, and an Enter before
// that submits without it.
func waitLanded(t *testing.T, d *Desktop, name string, since int) {
	t.Helper()
	waitEvent(t, d, name, since, "paste to land", func(ev WindowEvent) bool { return ev.Landed })
}

func waitSubmitCount(t *testing.T, d *Desktop, name string, n int) []string {
	t.Helper()
	var got []string
	err := waitFor(5*time.Second, fmt.Sprintf("%s submit %d", name, n), func() (bool, error) {
		var err error
		got, err = d.Submits(name)
		return len(got) >= n, err
	})
	if err != nil {
		t.Fatalf("%v; got %q", err, got)
	}
	if len(got) != n {
		t.Fatalf("%s: %d submits, want %d: %q", name, len(got), n, got)
	}
	return got
}
