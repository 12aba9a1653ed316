//go:build unix

package proof

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/agentcli"
	"github.com/agentspool/agentspool/test/desktoptest"
	"github.com/agentspool/agentspool/test/mockmodel"
)

// The real agent CLIs in the proof (issue 18): beside the Tk and Chromium
// windows, agent CLIs from npm, each a TUI in a terminal window of its
// own kind, each talking to its own mock model on 127.0.0.1, configured
// as the README tells a new user (no kind:, no pinned title, bound by
// `coords capture --at`, hooks by `hooks install`). What each model
// received is the truth for those agents.
//
// AGENTSPOOL_PROOF_CLIS lists them (default "claude-code,codex"; "none"
// for a proof without them). AGENTSPOOL_PROOF_CLI_EVERY: one message in
// this many goes to a CLI (default 10), the CLIs in turn.

// proofCLI is one agent CLI of the proof.
type proofCLI struct {
	name, program, terminal string
	x, y                    int // the window's top-left corner, right of the grid
	agent                   *agentcli.Agent
	model                   *mockmodel.Server
}

// The grid of the Tk and Chromium windows keeps its 1600x900; the CLIs'
// terminals stand to its right, on a wider and taller screen.
const (
	gridW, gridH     = 1600, 900
	screenW, screenH = 2700, 1600
	cliBusy          = 300 * time.Millisecond // each model turn
)

// cliSlots: where each CLI goes, and its terminal (xterm, then a VTE
// terminal, as the issue asks for two kinds).
var cliSlots = []struct {
	terminal string
	x, y     int
}{
	{agentcli.XTerm, 1620, 0},
	{agentcli.LXTerminal, 1620, 760},
}

var cliNames = map[string]string{
	agentcli.ClaudeCode: "Claude", agentcli.Codex: "Codex",
	agentcli.Gemini: "Gemini", agentcli.QwenCode: "Qwen",
}

// wantedCLIs reads AGENTSPOOL_PROOF_CLIS.
func wantedCLIs() ([]*proofCLI, error) {
	v := os.Getenv("AGENTSPOOL_PROOF_CLIS")
	if v == "none" {
		return nil, nil
	}
	if v == "" {
		v = agentcli.ClaudeCode + "," + agentcli.Codex
	}
	var out []*proofCLI
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		name, ok := cliNames[p]
		if !ok {
			return nil, fmt.Errorf("AGENTSPOOL_PROOF_CLIS: %q is none of %v", p, agentcli.Programs)
		}
		if len(out) == len(cliSlots) {
			return nil, fmt.Errorf("AGENTSPOOL_PROOF_CLIS: at most %d CLIs", len(cliSlots))
		}
		s := cliSlots[len(out)]
		c := &proofCLI{name: name, program: p, terminal: s.terminal, x: s.x, y: s.y}
		if err := agentcli.Missing(c.program, c.terminal, ""); err != nil {
			return nil, fmt.Errorf("%v (scripts/agents.sh installs the CLIs; AGENTSPOOL_PROOF_CLIS=none runs the proof without them)", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// cliYAML is each CLI agent as a person writes it before calibrating:
// named, not yet bound (coords capture --at binds it).
func cliYAML(clis []*proofCLI) string {
	var b strings.Builder
	for _, c := range clis {
		fmt.Fprintf(&b, "  %s:\n    x: 1\n    y: 1\n    window: \"not captured yet\"\n", c.name)
	}
	return b.String()
}

// startCLIs starts every CLI in its terminal with agentspool's hooks
// installed (before the CLI starts: they read their hooks at start), puts
// each window in its place, and binds each agent with coords capture --at.
// env is the desktop's, with AGENTSPOOL_CONFIG.
func startCLIs(t *testing.T, desk *desktoptest.Desktop, work string, env []string, clis []*proofCLI) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(clis))
	for i, c := range clis {
		model, err := mockmodel.Start(mockmodel.Options{Name: c.name, Delay: cliBusy})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { model.Close() })
		c.model = model
		dir := filepath.Join(work, "clis", c.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.agent, errs[i] = agentcli.StartWindow(agentcli.Options{
				Program: c.program, Dir: dir, Model: model, Log: t.Logf,
				Display: desk.Display, XAuthority: desk.XAuthority, Terminal: c.terminal,
				Cols: 100, Rows: 32,
				BeforeStart: func(a *agentcli.Agent) error {
					cmd := exec.Command(bin, "hooks", "install", "--agent", c.name, "--for", c.program, "--user")
					cmd.Env = append(slices.Clone(env), a.Env()...)
					if out, err := cmd.CombinedOutput(); err != nil {
						return fmt.Errorf("hooks install: %v: %s", err, out)
					}
					if c.program == agentcli.Codex {
						// What a person does in Codex's /hooks: trust them.
						return agentcli.TrustCodexHooks(a)
					}
					return nil
				},
			})
		}()
	}
	wg.Wait()
	t.Cleanup(func() { // before the desktop stops (cleanups are LIFO)
		for _, c := range clis {
			if c.agent != nil {
				if err := c.agent.Stop(); err != nil {
					t.Errorf("stop %s: %v", c.program, err)
				}
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", clis[i].name, err)
		}
	}
	for _, c := range clis {
		if err := c.agent.Move(c.x, c.y); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		x, y, w, h, err := c.agent.Geometry()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if x+w > screenW || y+h > screenH {
			t.Fatalf("%s's window %dx%d+%d+%d is not inside the %dx%d screen", c.name, w, h, x, y, screenW, screenH)
		}
		cmd := exec.Command(bin, "coords", "capture", c.name, "--at", fmt.Sprintf("%d,%d", x+w/2, y+h/2))
		cmd.Env = env
		capOut, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("coords capture %s: %v\n%s", c.name, err, capOut)
		}
		t.Logf("%s", capOut)
	}
}

var cliEnvelope = regexp.MustCompile(`\[agentspool id=(\S+) from=\S+ to=\S+\]`)

// checkCLIs compares what each CLI's model received with what was sent
// to it: it adds a problem for every prompt that is not one message
// alone, for every message its hook did not ack and for a CLI that died
// or was suspended, and returns the stats and how many times each
// message reached its model alone (the caller's exactly-once count says
// lost and duplicated).
func checkCLIs(clis []*proofCLI, msgs []*msg, inboxRoot string, problem func(string, ...any)) (map[string]*CLIStats, map[string]int) {
	out := map[string]*CLIStats{}
	hits := map[string]int{}
	for _, c := range clis {
		st := &CLIStats{Program: c.program, Terminal: c.terminal}
		out[c.name] = st
		want := map[string]*msg{}
		for _, m := range msgs {
			if m.Agent == c.name && m.ID != "" {
				want[m.ID] = m
				st.Sent++
			}
		}
		// A hook acks when the CLI takes a prompt up, a moment before
		// its request reaches the model: wait, bounded, for them all.
		all := func(ts []mockmodel.Turn) bool {
			seen := map[string]bool{}
			for _, t := range ts {
				for _, id := range cliEnvelope.FindAllStringSubmatch(t.Prompt, -1) {
					seen[id[1]] = true
				}
			}
			for id := range want {
				if !seen[id] {
					return false
				}
			}
			return true
		}
		if err := c.model.Wait(30*time.Second, all); err != nil {
			problem("%s: not every message reached its model: %v", c.name, err)
		}
		for i, p := range c.model.Prompts() {
			st.Prompts++
			q := agentcli.AsMessage(p)
			ids := cliEnvelope.FindAllStringSubmatch(q, -1)
			where := fmt.Sprintf("%s (%s) prompt %d", c.name, c.program, i+1)
			switch {
			case q == "":
				st.Empty++
				problem("%s: EMPTY", where)
			case len(ids) > 1:
				st.Merged++
				problem("%s: MERGED (%d messages): %.200q", where, len(ids), p)
			case len(ids) == 0:
				st.Garbled++
				problem("%s: not a message of ours: %.200q", where, p)
			default:
				m, ok := want[ids[0][1]]
				switch {
				case !ok:
					st.Misrouted++
					problem("%s: MISROUTED or unknown id %s: %.200q", where, ids[0][1], p)
				case q != agentcli.AsMessage(m.expected()):
					st.Garbled++
					problem("%s: GARBLED %s: %.300q, want %.300q", where, m.Token, q, agentcli.AsMessage(m.expected()))
				default:
					hits[m.ID]++
				}
			}
		}
		for id, m := range want {
			switch h := hits[id]; {
			case h == 1:
				st.ExactlyOnce++
			case h == 0:
				st.Missing++
			default:
				st.Duplicated++
			}
			ack, err := os.ReadFile(filepath.Join(inboxRoot, c.name, "inbox", id+".ack"))
			if err == nil && strings.Contains(string(ack), "by: hook") && strings.Contains(string(ack), "submit: alone") {
				st.AckedByHook++
			} else {
				problem("%s (id %s, to %s): not acked by its hook as a submit alone (ack %q, %v)", m.Token, id, c.name, ack, err)
			}
		}
		st.Died, st.Suspended, _ = c.agent.Harmed()
		if st.Died || st.Suspended {
			problem("%s: its CLI (pid %d) died %v, suspended %v", c.name, c.agent.CLIPID, st.Died, st.Suspended)
		}
	}
	return out, hits
}
