//go:build linux

package service

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/panetest"
)

// TestMain removes the stand-in agent program the tests built.
func TestMain(m *testing.M) { os.Exit(panetest.Main(m).Run()) }

// paneAgents starts a tmux server of the test's own with one session per
// name, each running test/paneagent, and returns it and each session's
// log.
func paneAgents(t *testing.T, names ...string) (srv *panetest.Server, logs map[string]string) {
	t.Helper()
	bin, dir := panetest.PaneAgent(t), t.TempDir()
	logs = map[string]string{}
	for _, n := range names {
		logs[n] = filepath.Join(dir, n+".jsonl")
		if srv == nil {
			srv = panetest.Start(t, n, bin+" -log "+logs[n], 100, 20)
		} else {
			srv.NewSession(t, n, bin+" -log "+logs[n], 100, 20)
		}
	}
	return srv, logs
}

// paneLog reads what a paneagent submitted.
func paneLog(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if p, ok := m["prompt"].(string); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// Agents in tmux panes beside agents in windows, one daemon: every
// message reaches its pane exactly once, alone, in order, and the window
// agents are delivered as before.
func TestPaneAgentsBesideWindowAgents(t *testing.T) {
	srv, logs := paneAgents(t, "pa", "pb")
	sock := srv.Socket
	r := newRig(t, fmt.Sprintf(`  Pane-A: {tmux: "pa:", tmux_socket: %q, tmux_bracketed: true, ack: false}
  Pane-B: {tmux: "pb:", tmux_socket: %q, tmux_bracketed: true, ack: false}
`, sock, sock))
	r.beforeRun = func(d *Daemon) { d.panes.LockDir = filepath.Join(r.dir, "locks") }
	var want = map[string][]string{}
	for i := range 6 {
		for _, a := range []string{"Pane-A", "Pane-B"} {
			body := fmt.Sprintf("message %d to %s", i, a)
			if i%3 == 1 {
				body += "\nwith a second line\n\tand a third"
			}
			e := r.send(a, body)
			want[a] = append(want[a], fmt.Sprintf("[agentspool id=%s from=- to=%s]\n%s", e.ID, a, body))
		}
	}
	r.send("Agent-1", "to a window")
	r.start()
	r.waitState(spool.StateDone, "Pane-A", 6)
	r.waitState(spool.StateDone, "Pane-B", 6)
	r.waitState(spool.StateDone, "Agent-1", 1)
	for a, session := range map[string]string{"Pane-A": "pa", "Pane-B": "pb"} {
		got := paneLog(t, logs[session])
		if strings.Join(got, "\x00") != strings.Join(want[a], "\x00") {
			t.Errorf("%s submitted %q\nwant %q", a, got, want[a])
		}
	}
	if n := r.count(spool.StateFailed) + r.count(spool.StateHold); n != 0 {
		t.Errorf("%d messages failed or held", n)
	}
}

// A pane that is gone (its session closed) holds its agent with the
// reason, the alert fires; the other agents go on.
func TestAGonePaneHoldsItsAgent(t *testing.T) {
	srv, logs := paneAgents(t, "pa", "pb")
	sock := srv.Socket
	r := newRig(t, fmt.Sprintf(`  Pane-A: {tmux: "pa:", tmux_socket: %q, tmux_bracketed: true, ack: false}
  Pane-B: {tmux: "pb:", tmux_socket: %q, tmux_bracketed: true, ack: false}
`, sock, sock))
	r.beforeRun = func(d *Daemon) { d.panes.LockDir = filepath.Join(r.dir, "locks") }
	if _, err := srv.Tmux("kill-session", "-t", "=pb"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r.send("Pane-B", "into a closed pane")
	}
	r.send("Pane-A", "into an open pane")
	r.start()
	reason := r.waitHeld("Pane-B")
	for _, want := range []string{"tmux pane pb: is gone", "agentspool release Pane-B"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	r.waitState(spool.StateDone, "Pane-A", 1)
	if got := paneLog(t, logs["pa"]); len(got) != 1 {
		t.Errorf("Pane-A submitted %q", got)
	}
}

// A pane whose program is not known to take a bracketed paste: every
// message (its envelope line and its body) would be submitted line by
// line, so the agent is held at once, with the reason and what to set.
func TestAnUnbracketedPaneHoldsItsAgentAtOnce(t *testing.T) {
	srv, logs := paneAgents(t, "pa")
	sock := srv.Socket
	r := newRig(t, fmt.Sprintf("  Pane-A: {tmux: \"pa:\", tmux_socket: %q, ack: false}\n", sock))
	r.beforeRun = func(d *Daemon) { d.panes.LockDir = filepath.Join(r.dir, "locks") }
	r.send("Pane-A", "one line")
	r.start()
	reason := r.waitHeld("Pane-A")
	if !strings.Contains(reason, "tmux_bracketed: true") {
		t.Errorf("reason %q does not say what to set", reason)
	}
	if got := paneLog(t, logs["pa"]); len(got) != 0 {
		t.Errorf("submitted %q", got)
	}
}
