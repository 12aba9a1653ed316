//go:build linux

package service

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
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

// A paste into a pane that had not shown when its attempt stopped waiting
// (a CLI slow to draw it, here 7 s), which a person then submits while the
// daemon waits for them: the message counts as pasted (the agent's hook
// acks only those, spool.Spool.Pasted), and the daemon finds that ack
// before it would paste the message again. Without the paste's record as
// a first submit, the hook refused the ack and the message reached its
// agent twice.
func TestAPasteThatShowedLateAndAPersonSubmittedIsNotPastedAgain(t *testing.T) {
	bin, dir := panetest.PaneAgent(t), t.TempDir()
	log := filepath.Join(dir, "pa.jsonl")
	srv := panetest.Start(t, "pa", bin+" -log "+log+" -slow-first-paste 7s -placeholder-over 20", 100, 20)
	r := newRig(t, fmt.Sprintf(`  Pane-A: {tmux: "pa:", tmux_socket: %q, tmux_bracketed: true, ack_timeout: 60s}
`, srv.Socket))
	person := srv.Attach(t, "pa")
	stop, typing := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.beforeRun = func(d *Daemon) {
		d.panes.LockDir, d.panes.QuietFor = filepath.Join(r.dir, "locks"), time.Second
		d.panes.AfterStep = func(step string) {
			if step != "pasted" {
				return
			}
			// From the first paste on, the person keeps the pane busy
			// with keys that change nothing (an arrow), so that the
			// daemon waits for them.
			once.Do(func() {
				go func() {
					defer close(typing)
					for {
						person("\x1b[C")
						select {
						case <-stop:
							return
						case <-time.After(200 * time.Millisecond):
						}
					}
				}()
			})
		}
	}
	e := r.send("Pane-A", "a message whose paste shows late")
	r.start()
	r.waitLog("nothing of the paste showed")
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out, _ := srv.Tmux("capture-pane", "-p", "-t", "pa:"); strings.Contains(out, "[Pasted Content ") {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the paste never showed")
		}
	}
	person("\r")
	for end := time.Now().Add(5 * time.Second); len(paneLog(t, log)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the person's Enter submitted nothing")
		}
	}
	// What the agent's hook asks before it acks.
	if _, ok, err := r.sp.Pasted("Pane-A", e.ID); !ok {
		t.Fatalf("the message does not count as pasted (%v): its hook would not ack it", err)
	}
	a, _ := r.cfg.Agent("Pane-A")
	if _, err := confirm.WriteAck(a.Inbox, e.ID); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-typing
	r.waitState(spool.StateDone, "Pane-A", 1)
	time.Sleep(500 * time.Millisecond) // nothing more comes
	if got := paneLog(t, log); len(got) != 1 {
		t.Errorf("the pane's program got %d prompts, want 1: %q", len(got), got)
	}
	if !strings.Contains(r.logs.String(), "acked before the retry") {
		t.Errorf("not done by the ack found before a retry:\n%s", r.logs.String())
	}
}

// While a message's paste into a pane may show yet, that message goes
// next, before the others queued for the agent (found from its name, so
// also after a restart): each other one claimed first would only be
// refused (the tmux proof saw 35 such refusals in a row, three minutes of
// a Qwen Code pane taking nothing).
func TestAPasteThatMayShowYetGoesBeforeTheOthers(t *testing.T) {
	bin, dir := panetest.PaneAgent(t), t.TempDir()
	log := filepath.Join(dir, "pa.jsonl")
	srv := panetest.Start(t, "pa", bin+" -log "+log+" -slow-first-paste 7s -placeholder-over 20", 100, 20)
	r := newRig(t, fmt.Sprintf(`  Pane-A: {tmux: "pa:", tmux_socket: %q, tmux_bracketed: true, ack: false}
`, srv.Socket))
	r.beforeRun = func(d *Daemon) { d.panes.LockDir = filepath.Join(r.dir, "locks") }
	x := r.send("Pane-A", "the first message, shown late")
	y := r.send("Pane-A", "the second message")
	r.start()
	r.waitState(spool.StateDone, "Pane-A", 2)
	got := paneLog(t, log)
	if len(got) != 2 || !strings.Contains(got[0], x.ID) || !strings.Contains(got[1], y.ID) {
		t.Fatalf("the pane's program got %q, want the first message, then the second", got)
	}
	for _, l := range r.journalLines() {
		if l.Event == "attempt" && l.ID == y.ID && !l.OK {
			t.Errorf("the second message was claimed while the first's paste might show, and refused: %s", l.Err)
		}
	}
}
