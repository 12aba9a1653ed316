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
