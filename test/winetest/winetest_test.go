//go:build linux

package winetest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// TestPrefixAndFixture boots one prefix and checks, in order: a Go
// windows/amd64 program dies without the stand-in bcryptprimitives.dll and
// runs with it (and its crypto/rand is random); the fixture windows come up
// where they say; one of them, driven from the X side with xdotool and
// xclip as a person would, records exactly what went in (unicode typed and
// pasted, a multi-line paste, Shift+Enter, Ctrl+Z) and acks its envelopes,
// by file and by command, while the window beside it records nothing.
func TestPrefixAndFixture(t *testing.T) {
	Require(t)
	begin := time.Now()
	dir := t.TempDir()
	d := desktoptest.StartT(t, desktoptest.Options{Dir: filepath.Join(dir, "desktop"), NoAgents: true})
	p, err := New(Options{Dir: filepath.Join(dir, "wine"), Desktop: d, Log: t.Logf, NoStandIn: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if left := prefixProcs(p.Dir); len(left) > 0 {
			t.Errorf("processes of the prefix left after Stop: %v", left)
		}
	})

	t0 := time.Now()
	probe, err := p.GoBuild(".", "probe.exe", "./testdata/probe")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe.exe (Go, windows/amd64) built in %v", time.Since(t0).Round(time.Millisecond))

	t.Run("GoNeedsStandIn", func(t *testing.T) {
		_, stderr, err := p.Run(time.Minute, nil, probe, "rand")
		if err == nil || !strings.Contains(stderr, "bcryptprimitives.dll not found") {
			t.Fatalf("probe.exe without the stand-in: err %v, stderr %q; want it to die for want of bcryptprimitives.dll", err, stderr)
		}
	})
	if err := p.InstallStandIn(); err != nil {
		t.Fatal(err)
	}
	t.Run("GoRunsWithStandIn", func(t *testing.T) {
		re := regexp.MustCompile(`^pid=(\d+) rand=([0-9a-f]{32})\n$`)
		var rands []string
		for range 2 {
			t1 := time.Now()
			out, stderr, err := p.Run(time.Minute, nil, probe, "rand")
			if err != nil {
				t.Fatalf("probe.exe rand: %v\n%s", err, stderr)
			}
			t.Logf("probe.exe rand ran in %v: %q", time.Since(t1).Round(time.Millisecond), out)
			m := re.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("probe.exe rand printed %q, want pid=N rand=<32 hex>", out)
			}
			if pid, _ := strconv.Atoi(m[1]); pid <= 0 {
				t.Errorf("pid %d", pid)
			}
			rands = append(rands, m[2])
		}
		if rands[0] == rands[1] || rands[0] == strings.Repeat("0", 32) {
			t.Errorf("crypto/rand gave %v in two runs: not random", rands)
		}
	})

	ackDir := filepath.Join(dir, "cmd-acks")
	if err := os.MkdirAll(ackDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	ws, err := p.StartAgents(dir, 2, FixtureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Agent-3 acks by command: the probe, as agentspool.exe ack would.
	cmdWin, err := p.launch("Agent-3", filepath.Join(dir, "agents", "Agent-3"), p.cell(2), false,
		FixtureOptions{AckCommand: []string{WinPath(probe), "ack", WinPath(ackDir), "{id}"}})
	if err != nil {
		t.Fatal(err)
	}
	w3, err := p.await(cmdWin)
	if err != nil {
		t.Fatal(err)
	}
	editor, err := p.StartEditor(dir, "Editor")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3 fixture windows and an editor up in %v", time.Since(t2).Round(time.Millisecond))
	for _, w := range append(ws, w3, editor) {
		if w.WinPID <= 0 || w.HWND == 0 || w.W < 50 || w.H < 20 {
			t.Errorf("%s: ready says pid %d hwnd %#x input %dx%d", w.Name, w.WinPID, w.HWND, w.W, w.H)
		}
	}
	if got, _ := p.Window("Agent-1"); got != ws[0] {
		t.Errorf("Window(Agent-1) = %v", got)
	}

	w := ws[0]
	// focus clicks w's input after making it the active window.
	focus := func(t *testing.T, w *Window) {
		t.Helper()
		if err := p.Activate(w); err != nil {
			t.Fatal(err)
		}
		// No --sync: it waits for the pointer to move, forever when it is
		// there already.
		if err := p.XDo("mousemove", strconv.Itoa(w.CX), strconv.Itoa(w.CY), "click", "1"); err != nil {
			t.Fatal(err)
		}
	}
	// paste puts text on the X clipboard and presses ctrl+v.
	paste := func(t *testing.T, text string) {
		t.Helper()
		if err := d.SetClipboard(text); err != nil {
			t.Fatal(err)
		}
		if err := p.XDo("key", "ctrl+v"); err != nil {
			t.Fatal(err)
		}
	}
	// submitted waits for w's n-th submit and checks the last one is want.
	submitted := func(t *testing.T, w *Window, n int, want string) {
		t.Helper()
		var got []string
		deadline := time.Now().Add(20 * time.Second)
		for {
			var err error
			if got, err = w.Submits(); err != nil {
				t.Fatal(err)
			}
			if len(got) >= n || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(got) != n {
			t.Fatalf("%s has %d submits %q, want %d", w.Name, len(got), got, n)
		}
		if got[n-1] != want {
			t.Fatalf("%s submit %d:\n got %q\nwant %q", w.Name, n, got[n-1], want)
		}
	}
	// acked waits for dir/id.ack to hold "id\n".
	acked := func(t *testing.T, dir, id string) {
		t.Helper()
		path := filepath.Join(dir, id+".ack")
		deadline := time.Now().Add(30 * time.Second)
		for {
			data, err := os.ReadFile(path)
			if err == nil {
				if string(data) != id+"\n" {
					t.Fatalf("%s holds %q, want %q", path, data, id+"\n")
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ack %s after 30s: %v", path, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("TypeAndPaste", func(t *testing.T) {
		focus(t, w)
		// Typed text is ASCII: xdotool types other characters by
		// remapping a spare keycode for each, and Wine does not always see
		// the new mapping in time, so those are pasted.
		if err := p.XDo("type", "--delay", "10", "Hello, World! "); err != nil {
			t.Fatal(err)
		}
		paste(t, "line one — ünï ✓\nline two 日本語 🙂\n\tindented")
		if err := p.XDo("key", "Return"); err != nil {
			t.Fatal(err)
		}
		submitted(t, w, 1, "Hello, World! line one — ünï ✓\nline two 日本語 🙂\n\tindented")
	})
	t.Run("ShiftEnterAndUndoPaste", func(t *testing.T) {
		focus(t, w)
		if err := p.XDo("type", "--delay", "10", "first"); err != nil {
			t.Fatal(err)
		}
		if err := p.XDo("key", "shift+Return"); err != nil {
			t.Fatal(err)
		}
		paste(t, "taken back\nout")
		if err := p.XDo("key", "ctrl+z"); err != nil {
			t.Fatal(err)
		}
		if err := p.XDo("type", "--delay", "10", "second"); err != nil {
			t.Fatal(err)
		}
		if err := p.XDo("key", "Return"); err != nil {
			t.Fatal(err)
		}
		submitted(t, w, 2, "first\nsecond")
	})
	t.Run("AckByFile", func(t *testing.T) {
		focus(t, w)
		paste(t, "[agentspool id=20261201T120000-abc123 from=me to=Agent-1]\nhello\n[agentspool id=b.2@x+y from=me to=Agent-1]\nnot an envelope: [agentspool id=c3 ")
		if err := p.XDo("key", "Return"); err != nil {
			t.Fatal(err)
		}
		submitted(t, w, 3, "[agentspool id=20261201T120000-abc123 from=me to=Agent-1]\nhello\n[agentspool id=b.2@x+y from=me to=Agent-1]\nnot an envelope: [agentspool id=c3 ")
		acked(t, w.Inbox, "20261201T120000-abc123")
		acked(t, w.Inbox, "b.2@x+y")
		entries, _ := os.ReadDir(w.Inbox)
		if len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("inbox holds %v, want the two acks only", names)
		}
	})
	t.Run("AckByCommand", func(t *testing.T) {
		focus(t, w3)
		paste(t, "[agentspool id=cmd-1 from=me to=Agent-3]\nrun the command")
		if err := p.XDo("key", "Return"); err != nil {
			t.Fatal(err)
		}
		submitted(t, w3, 1, "[agentspool id=cmd-1 from=me to=Agent-3]\nrun the command")
		acked(t, ackDir, "cmd-1")
		if entries, _ := os.ReadDir(w3.Inbox); len(entries) != 0 {
			t.Errorf("Agent-3 acks by command, yet its inbox has %d files", len(entries))
		}
	})
	t.Run("EditorAcksNothing", func(t *testing.T) {
		focus(t, editor)
		paste(t, "[agentspool id=ed-1 from=me to=Editor]\na person's text")
		if err := p.XDo("key", "Return"); err != nil {
			t.Fatal(err)
		}
		submitted(t, editor, 1, "[agentspool id=ed-1 from=me to=Editor]\na person's text")
		// The ack would have been written at once after the record.
		time.Sleep(300 * time.Millisecond)
		if entries, _ := os.ReadDir(editor.Inbox); len(entries) != 0 {
			t.Errorf("the editor acked: its inbox has %d files", len(entries))
		}
	})
	// Nothing went anywhere but where it was typed.
	if got, err := ws[1].Submits(); err != nil || len(got) != 0 {
		t.Errorf("Agent-2, never focused, has submits %q (err %v)", got, err)
	}

	t.Run("StopEndsEveryProcess", func(t *testing.T) {
		pids := []int{}
		for _, w := range append(ws, w3, editor) {
			pids = append(pids, w.PID)
		}
		if left := prefixProcs(p.Dir); !containsAll(left, pids) {
			t.Fatalf("prefixProcs %v does not find the windows %v", left, pids)
		}
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		if left := prefixProcs(p.Dir); len(left) > 0 {
			t.Errorf("left after Stop: %v", left)
		}
		for _, w := range append(ws, w3, editor) {
			if !w.Proc.Exited() {
				t.Errorf("%s (pid %d) still running", w.Name, w.PID)
			}
		}
	})
	t.Logf("whole harness test: %v (prefix boot %v, stand-in DLL %v)", time.Since(begin).Round(time.Millisecond),
		p.Boot.Round(time.Millisecond), p.StandIn.Round(time.Millisecond))
}

func containsAll(have, want []int) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestWinPath(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/x/y":    `Z:\tmp\x\y`,
		"/":           `Z:\`,
		"/a b/ü.txt":  `Z:\a b\ü.txt`,
		"/tmp/x/../y": `Z:\tmp\y`,
	} {
		if got := WinPath(in); got != want {
			t.Errorf("WinPath(%q) = %q, want %q", in, got, want)
		}
	}
}
