//go:build unix

package terminal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/agentcli"
)

// The four real CLIs in tmux panes (issue "Agents in tmux panes"): no
// desktop at all, each CLI in a pane of a tmux server of its own, the
// daemon told only `tmux:` and `tmux_socket:`, the hooks installed with
// hooks install.

// startPaneRig starts the models (busy this long per turn) and the CLIs in
// tmux panes with agentspool's hooks installed, writes coords.yaml, and
// returns with the daemon not yet running.
func startPaneRig(t *testing.T, clis []cli, busy time.Duration) *rig {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the real CLIs run on Linux here")
	}
	for _, c := range clis {
		if err := agentcli.Missing(c.program, "", ""); err != nil {
			t.Skip(err)
		}
	}
	r := newRig(t)
	dir := r.dir
	// The hooks are installed before each CLI starts (they read them at
	// start); hooks install needs the agent in coords.yaml.
	var b strings.Builder
	fmt.Fprintf(&b, "spool: ./spool\ninbox_root: ./inboxes\nagents:\n")
	for _, c := range clis {
		fmt.Fprintf(&b, "  %s:\n    tmux: \"agent:\"\n    tmux_socket: %s\n", c.name, filepath.Join(dir, "agents", c.name, "tmux.sock"))
	}
	if err := os.WriteFile(r.cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.startCLIs(clis, busy, func(_ cli, o agentcli.Options) (*agentcli.Agent, error) { return agentcli.StartPane(o) })
	for _, c := range clis {
		if want := filepath.Join(dir, "agents", c.name, "tmux.sock"); r.agents[c.name].TmuxSocket != want {
			t.Fatalf("%s: tmux socket %s, want %s", c.name, r.agents[c.name].TmuxSocket, want)
		}
	}
	r.recordScreens()
	return r
}

// TestFourCLIsInTmuxPanes: 4 CLIs × 25 messages (one-line, multi-line,
// 2000 characters) queued at once, each CLI busy 2 s per turn, each in a
// tmux pane, no display: every message reaches its model exactly once
// and alone, is done by its hook, and no agent is killed or suspended.
func TestFourCLIsInTmuxPanes(t *testing.T) {
	n := 25
	if v, err := strconv.Atoi(os.Getenv("AGENTSPOOL_TERMINAL_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	r := startPaneRig(t, theFour, 2*time.Second)
	r.run()
	var msgs []message
	for i := range n {
		for _, c := range theFour {
			msgs = append(msgs, r.send(c.name, i))
		}
	}
	began := time.Now()
	r.waitSettled(msgs, time.Duration(n)*8*time.Second+2*time.Minute)
	t.Logf("%d messages settled in %v", len(msgs), time.Since(began).Round(time.Millisecond))
	for _, c := range theFour {
		r.checkReceived(c.name, msgs)
		r.checkUnharmed(c.name)
	}
	r.checkAckedByHook(msgs)
	cliOf := map[string]string{"Claude": "claude-code", "Codex": "codex", "Gemini": "gemini", "Qwen": "qwen-code"}
	for _, l := range r.journal("attempt") {
		agent, _ := l["agent"].(string)
		if l["cli"] != cliOf[agent] || l["terminal"] != "tmux" {
			t.Errorf("attempt for %s: terminal %v, cli %v", agent, l["terminal"], l["cli"])
		}
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", r.tail("daemon.log", 80))
		r.logScreens()
	}
}

// TestPaneWaitsForTheCLIToFinishItsTurn: a message that comes while Qwen
// Code is at work on a turn waits for the turn to end, then reaches the
// model once, acked by Qwen's own hook. An Enter into Qwen at work steers
// the text into that turn and its UserPromptSubmit hook never sees it:
// no ack, so the message was pasted again after the ack timeout and
// reached the model twice (the tmux proof in clean-clone CI at 9fc42f9
// saw it, when Qwen's Stop hook said ready a moment before its turn
// ended). deliver_when: always takes the hooks' readiness out of the way:
// the pane's screen alone must stop the paste.
func TestPaneWaitsForTheCLIToFinishItsTurn(t *testing.T) {
	var qwen []cli
	for _, c := range theFour {
		if c.program == agentcli.QwenCode {
			qwen = append(qwen, c)
		}
	}
	const turn = 8 * time.Second
	r := startPaneRig(t, qwen, turn)
	name := qwen[0].name
	f, err := os.OpenFile(r.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The rig's last agent is Qwen: its settings go under it.
	if _, err := f.WriteString("    deliver_when: always\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r.run()
	first := r.send(name, 0)
	r.waitSettled([]message{first}, 2*time.Minute)
	// Acked by its hook as Qwen took it up: Qwen is at work on it now.
	second := r.send(name, 1)
	r.waitSettled([]message{second}, 3*time.Minute)
	msgs := []message{first, second}
	r.checkReceived(name, msgs)
	r.checkAckedByHook(msgs)
	waited := false
	for _, l := range r.journal("attempt") {
		if l["id"] == second.id && l["result"] == "at_work" {
			waited = true
		}
	}
	if !waited {
		t.Errorf("%s never found Qwen at work: the test's premise (a message while a turn is at work) did not hold", second.id)
	}
	turns := r.models[name].Turns()
	if len(turns) == 2 && turns[1].At.Sub(turns[0].At) < turn {
		t.Errorf("the second message reached the model %v after the first, within the first's turn (%v)", turns[1].At.Sub(turns[0].At), turn)
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", r.tail("daemon.log", 40))
		r.logScreens()
	}
}
