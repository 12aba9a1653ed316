package desktoptest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run a real desktop. They fail, never skip, when its tools are
// missing: run scripts/deps.sh desktop.

func TestDesktop(t *testing.T) {
	dir := t.TempDir()
	d, err := Start(Options{
		Dir:     dir,
		Log:     t.Logf,
		Fixture: FixtureOptions{AckDelay: 50 * time.Millisecond, OrderedKeys: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = d.Stop()
		}
	})
	if len(d.Agents) != 4 {
		t.Fatalf("got %d agents, want 4", len(d.Agents))
	}

	t.Run("titles and pids", func(t *testing.T) {
		for _, a := range d.Agents {
			wid := "0x" + strconv.FormatUint(uint64(a.WindowID), 16)
			out, err := d.x("xprop", "-id", wid, "WM_NAME", "_NET_WM_PID")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, `WM_NAME(STRING) = "`+a.Name+`"`) {
				t.Errorf("%s: xprop says\n%s", a.Name, out)
			}
			if !strings.Contains(out, "_NET_WM_PID(CARDINAL) = "+strconv.Itoa(a.PID)) {
				t.Errorf("%s: want _NET_WM_PID %d, xprop says\n%s", a.Name, a.PID, out)
			}
			// The same window as a daemon would find it: by title.
			out, err = d.x("xdotool", "search", "--name", "^"+a.Name+"$")
			if err != nil || strings.TrimSpace(out) != strconv.FormatUint(uint64(a.WindowID), 10) {
				t.Errorf("%s: xdotool search --name gives %q (%v), want %d", a.Name, out, err, a.WindowID)
			}
		}
	})

	t.Run("click, paste, submit, ack", func(t *testing.T) {
		for _, a := range []*AgentWindow{d.Agents[2], d.Agents[0]} {
			clickAndWaitActive(t, d, a)
			text := "héllo\nwörld ✓ " + a.Name
			pasteKeys(t, d, text, "--clearmodifiers", "ctrl+v", "Return")
			waitSubmits(t, d, a.Name, []string{text})
		}

		a := d.Agents[1]
		clickAndWaitActive(t, d, a)
		msg := "[agentspool id=20261127-ab12cd from=Agent-6 to=Agent-2]\nplease review"
		pasteKeys(t, d, msg, "ctrl+v", "Return")
		waitSubmits(t, d, a.Name, []string{msg})
		waitFile(t, filepath.Join(a.Inbox, "20261127-ab12cd.ack"))
	})

	t.Run("undo paste", func(t *testing.T) {
		a := d.Agents[3]
		clickAndWaitActive(t, d, a)
		if err := d.SetClipboard("wrong"); err != nil {
			t.Fatal(err)
		}
		// typed text stays; the paste is taken back; the next paste submits.
		if _, err := d.x("xdotool", "type", "kept "); err != nil {
			t.Fatal(err)
		}
		if _, err := d.x("xdotool", "key", "ctrl+v", "ctrl+z"); err != nil {
			t.Fatal(err)
		}
		pasteKeys(t, d, "right", "ctrl+v", "Return")
		waitSubmits(t, d, a.Name, []string{"kept right"})
	})

	t.Run("activate and editor", func(t *testing.T) {
		ed, err := d.StartEditor("Editor")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Activate("Agent-3"); err != nil {
			t.Fatal(err)
		}
		if err := d.Activate("Editor"); err != nil {
			t.Fatal(err)
		}
		name, err := d.x("xdotool", "getactivewindow", "getwindowname")
		if err != nil || strings.TrimSpace(name) != "Editor" {
			t.Fatalf("active window %q (%v), want Editor", name, err)
		}
		if ed.X == 0 || ed.Y == 0 {
			t.Errorf("editor has no input center: %+v", ed)
		}
	})

	t.Run("clipboard and screenshot", func(t *testing.T) {
		if err := d.SetClipboard("line 1\nline 2\n"); err != nil {
			t.Fatal(err)
		}
		got, err := d.Clipboard()
		if err != nil || got != "line 1\nline 2\n" {
			t.Fatalf("Clipboard() = %q, %v", got, err)
		}
		png := filepath.Join(dir, "screen.png")
		if err := d.Screenshot(png); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(png)
		if err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
			t.Fatalf("screenshot is not a PNG (%d bytes, %v)", len(data), err)
		}
	})

	t.Run("coords yaml", func(t *testing.T) {
		y := d.CoordsYAML("/tmp/spool")
		for _, a := range d.Agents {
			for _, want := range []string{"  " + a.Name + ":\n", "x: " + strconv.Itoa(a.X) + "\n", "pid: " + strconv.Itoa(a.PID) + "\n"} {
				if !strings.Contains(y, want) {
					t.Errorf("coords.yaml lacks %q:\n%s", want, y)
				}
			}
		}
	})

	// Stop ends every process, by pid, and a second Stop is harmless.
	var pids []int
	d.mu.Lock()
	for _, p := range d.procs {
		pids = append(pids, p.PID)
	}
	d.mu.Unlock()
	stopped = true
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if err := d.SetClipboard("x"); err == nil {
		t.Error("SetClipboard after Stop succeeded")
	}
}

func TestFixtureOptions(t *testing.T) {
	d := StartT(t, Options{
		Agents: 2,
		Dir:    t.TempDir(),
		Fixture: FixtureOptions{
			NeverAckFirst: map[string]bool{"Agent-1": true},
			AckDelays:     map[string]time.Duration{"Agent-2": 600 * time.Millisecond},
			PasteDelay:    300 * time.Millisecond,
			OrderedKeys:   true,
		},
	})
	a := d.Agents[0]
	clickAndWaitActive(t, d, a)
	for _, id := range []string{"first", "second"} {
		msg := "[agentspool id=" + id + " from=test]\nbody"
		if err := d.SetClipboard(msg); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := d.x("xdotool", "key", "ctrl+v", "Return"); err != nil {
			t.Fatal(err)
		}
		waitFile(t, filepath.Join(a.Record, map[string]string{"first": "000001.txt", "second": "000002.txt"}[id]))
		if el := time.Since(start); el < 300*time.Millisecond {
			t.Errorf("submit after %v, want the paste delayed by 300ms", el)
		}
	}
	waitFile(t, filepath.Join(a.Inbox, "second.ack"))
	if _, err := os.Stat(filepath.Join(a.Inbox, "first.ack")); !os.IsNotExist(err) {
		t.Errorf("first submit of a NeverAckFirst agent was acked (%v)", err)
	}
	waitSubmits(t, d, a.Name, []string{"[agentspool id=first from=test]\nbody", "[agentspool id=second from=test]\nbody"})

	// Agent-2 acks slowly (AckDelays), and its first submit is acked.
	slow := d.Agents[1]
	clickAndWaitActive(t, d, slow)
	pasteKeys(t, d, "[agentspool id=slow from=test]\nbody", "ctrl+v", "Return")
	waitFile(t, filepath.Join(slow.Record, "000001.txt"))
	submitted := time.Now()
	waitFile(t, filepath.Join(slow.Inbox, "slow.ack"))
	if el := time.Since(submitted); el < 400*time.Millisecond {
		t.Errorf("Agent-2 acked %v after the submit, want about 600ms", el)
	}
}

func TestStartNeedsDir(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Fatal("Start without Dir succeeded")
	}
	if _, err := Start(Options{Dir: t.TempDir(), Agents: MaxAgents + 1}); err == nil {
		t.Fatal("Start with too many agents succeeded")
	}
}

func clickAndWaitActive(t *testing.T, d *Desktop, a *AgentWindow) {
	t.Helper()
	if _, err := d.x("xdotool", "mousemove", strconv.Itoa(a.X), strconv.Itoa(a.Y), "click", "1"); err != nil {
		t.Fatal(err)
	}
	err := waitFor(5*time.Second, a.Name+" active after a click", func() (bool, error) {
		out, err := d.x("xdotool", "getactivewindow", "getwindowname")
		return err == nil && strings.TrimSpace(out) == a.Name, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pasteKeys puts text on the clipboard and sends keys to the active
// window: "ctrl+v", "Return" most often.
func pasteKeys(t *testing.T, d *Desktop, text string, keys ...string) {
	t.Helper()
	if err := d.SetClipboard(text); err != nil {
		t.Fatal(err)
	}
	if _, err := d.x(append([]string{"xdotool", "key"}, keys...)...); err != nil {
		t.Fatal(err)
	}
}

func waitSubmits(t *testing.T, d *Desktop, agent string, want []string) {
	t.Helper()
	var got []string
	err := waitFor(5*time.Second, agent+" submits", func() (bool, error) {
		var err error
		got, err = d.Submits(agent)
		return len(got) >= len(want), err
	})
	if err != nil {
		t.Fatalf("%v; got %q", err, got)
	}
	if len(got) != len(want) {
		t.Fatalf("%s submits = %q, want %q", agent, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s submit %d = %q, want %q", agent, i, got[i], want[i])
		}
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	err := waitFor(5*time.Second, path, func() (bool, error) {
		_, err := os.Stat(path)
		return err == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
