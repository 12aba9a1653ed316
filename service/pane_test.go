//go:build unix

package service

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/agentspool/agentspool/spool"
)

// paneAgents starts a tmux server of the test's own with one session per
// name, each running test/paneagent, and returns the socket and each
// session's log.
func paneAgents(t *testing.T, names ...string) (socket string, logs map[string]string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "paneagent")
	if out, err := exec.Command("go", "build", "-o", bin, "../test/paneagent").CombinedOutput(); err != nil {
		t.Fatalf("build paneagent: %v: %s", err, out)
	}
	socket = filepath.Join(dir, "tmux.sock")
	logs = map[string]string{}
	for i, n := range names {
		logs[n] = filepath.Join(dir, n+".jsonl")
		args := []string{"-S", socket, "-f", "/dev/null", "new-session", "-d", "-s", n, "-x", "100", "-y", "20", bin + " -log " + logs[n]}
		if i > 0 {
			args = []string{"-S", socket, "new-session", "-d", "-s", n, "-x", "100", "-y", "20", bin + " -log " + logs[n]}
		}
		if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
			t.Fatalf("tmux new-session %s: %v: %s", n, err, out)
		}
	}
	out, err := exec.Command("tmux", "-S", socket, "display-message", "-p", "#{pid}").Output()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	t.Cleanup(func() {
		if server > 0 {
			syscall.Kill(server, syscall.SIGTERM) // by its pid; the panes go with it
		}
	})
	return socket, logs
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
	sock, logs := paneAgents(t, "pa", "pb")
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
	sock, logs := paneAgents(t, "pa", "pb")
	r := newRig(t, fmt.Sprintf(`  Pane-A: {tmux: "pa:", tmux_socket: %q, tmux_bracketed: true, ack: false}
  Pane-B: {tmux: "pb:", tmux_socket: %q, tmux_bracketed: true, ack: false}
`, sock, sock))
	r.beforeRun = func(d *Daemon) { d.panes.LockDir = filepath.Join(r.dir, "locks") }
	if out, err := exec.Command("tmux", "-S", sock, "kill-session", "-t", "pb").CombinedOutput(); err != nil {
		t.Fatalf("kill-session: %v: %s", err, out)
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
	sock, logs := paneAgents(t, "pa")
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
