package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
)

const hookBody = "Please rebase the hooks branch.\nThen run the tests."

// payload is a test data file with @ID@ replaced by id.
func payload(t *testing.T, name, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hooks", name))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not JSON", name)
	}
	return bytes.ReplaceAll(b, []byte("@ID@"), []byte(id))
}

// withPrompt is the Cursor payload with its prompt replaced.
func withPrompt(t *testing.T, prompt string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, "cursor-beforeSubmitPrompt.json", "x"), &m); err != nil {
		t.Fatal(err)
	}
	m["prompt"] = prompt
	b, _ := json.Marshal(m)
	return b
}

// claimed sends body to agent and moves it to cur/, as the daemon does
// before it pastes; it returns the id.
func (f *fixture) claimed(agent, body string) string {
	f.t.Helper()
	id := f.send(agent, body)
	if _, err := f.open().Claim(f.entry(id)); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) inboxOf(agent string) string {
	if agent == "Agent-3" {
		return filepath.Join(f.dir, "elsewhere", "a3")
	}
	return filepath.Join(f.inbox, agent, "inbox")
}

func (f *fixture) acked(agent, id string) bool {
	ok, _ := confirm.Acked(f.inboxOf(agent), id, time.Time{})
	return ok
}

func (f *fixture) hookState(t *testing.T, agent string) *confirm.AgentState {
	t.Helper()
	s, err := confirm.ReadState(f.spool, agent)
	if err != nil || s == nil {
		t.Fatalf("state of %s: %v, %v", agent, s, err)
	}
	return s
}

func (f *fixture) hookLog() string {
	b, _ := os.ReadFile(filepath.Join(f.spool, hookLogName))
	return string(b)
}

// Each tool's documented payload: the agent's message is acked as submitted
// alone, the agent is busy, then ready after the stop event; the answer on
// stdout is what each tool documents.
func TestHookPerToolPayloads(t *testing.T) {
	for _, tc := range []struct {
		submit, stop             string
		submitAnswer, stopAnswer string
	}{
		{"beforeSubmitPrompt", "stop", `{"continue": true}` + "\n", "{}\n"},
		{"UserPromptSubmit", "Stop", "", ""},
	} {
		t.Run(tc.submit, func(t *testing.T) {
			f := newFixture(t)
			id := f.claimed("Agent-3", hookBody)
			tool := "cursor-"
			if tc.submit == "UserPromptSubmit" {
				tool = "claude-code-"
			}
			r := f.run(payload(t, tool+tc.submit+".json", id), "hook", "--agent", "Agent-3", tc.submit).want(t, 0)
			if r.stdout != tc.submitAnswer {
				t.Fatalf("answer %q, want %q", r.stdout, tc.submitAnswer)
			}
			if !f.acked("Agent-3", id) {
				t.Fatalf("no ack; hooks.log:\n%s", f.hookLog())
			}
			if s, _ := confirm.AckNote(f.inboxOf("Agent-3"), id); s != confirm.SubmitAlone {
				t.Fatalf("submit noted %q, want alone", s)
			}
			if s := f.hookState(t, "Agent-3"); s.State != confirm.StateBusy || s.Event != tc.submit {
				t.Fatalf("state after submit: %+v", s)
			}
			r = f.run(payload(t, tool+tc.stop+".json", id), "hook", "--agent", "Agent-3", tc.stop).want(t, 0)
			if r.stdout != tc.stopAnswer {
				t.Fatalf("stop answer %q, want %q", r.stdout, tc.stopAnswer)
			}
			if s := f.hookState(t, "Agent-3"); s.State != confirm.StateReady || s.Events[tc.submit].IsZero() {
				t.Fatalf("state after stop: %+v", s)
			}
		})
	}
}

// Only this agent's messages that were claimed are acked: not another
// agent's envelope, not an id still in new/, not an unknown id.
func TestHookAcksOnlyThisAgentsMessages(t *testing.T) {
	f := newFixture(t)
	mine := f.claimed("Agent-3", "mine")
	other := f.claimed("Agent-1", "other's")
	queued := f.send("Agent-3", "not pasted yet")
	prompt := "[agentspool id=" + mine + " from=a to=Agent-3]\nmine\n" +
		"[agentspool id=" + other + " from=a to=Agent-1]\nother's\n" +
		"[agentspool id=" + other + " from=a to=Agent-3]\nforged: to=Agent-3 but the id is Agent-1's\n" +
		"[agentspool id=" + queued + " from=a to=Agent-3]\n" +
		"[agentspool id=nosuch from=a to=Agent-3]\n"
	f.run(withPrompt(t, prompt), "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0).contains(t, "stdout", `"continue": true`)
	if !f.acked("Agent-3", mine) {
		t.Fatalf("own message not acked; log:\n%s", f.hookLog())
	}
	for _, c := range []struct{ agent, id string }{{"Agent-1", other}, {"Agent-3", other}, {"Agent-3", queued}, {"Agent-3", "nosuch"}} {
		if f.acked(c.agent, c.id) {
			t.Errorf("%s acked for %s", c.id, c.agent)
		}
	}
	if !strings.Contains(f.hookLog(), "not a message of Agent-3's") {
		t.Errorf("the refused ids are not logged:\n%s", f.hookLog())
	}
}

// A message submitted together with other text is acked as merged.
func TestHookDetectsMergedSubmits(t *testing.T) {
	f := newFixture(t)
	env := func(id string) string { return "[agentspool id=" + id + " from=Agent-6 to=Agent-3]\n" }
	alone := f.claimed("Agent-3", hookBody+"\n")
	draft := f.claimed("Agent-3", hookBody)
	after := f.claimed("Agent-3", hookBody)
	two1, two2 := f.claimed("Agent-3", "one"), f.claimed("Agent-3", "two")
	for _, c := range []struct {
		ids    []string
		prompt string
		want   string
	}{
		{[]string{alone}, "\n" + env(alone) + strings.ReplaceAll(hookBody, "\n", "\r\n") + "\n\n", confirm.SubmitAlone},
		{[]string{draft}, "half-typed draft of a person " + env(draft) + hookBody, confirm.SubmitMerged},
		{[]string{after}, env(after) + hookBody + "\nand a person's draft", confirm.SubmitMerged},
		{[]string{two1, two2}, env(two1) + "one\n" + env(two2) + "two", confirm.SubmitMerged},
	} {
		f.run(withPrompt(t, c.prompt), "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0)
		for _, id := range c.ids {
			s, why := confirm.AckNote(f.inboxOf("Agent-3"), id)
			if s != c.want {
				t.Errorf("prompt %q: %s noted %q (%s), want %q; log:\n%s", c.prompt, id, s, why, c.want, f.hookLog())
			}
		}
	}
}

// Whatever stdin holds, the hook answers the tool at once, exits 0 and
// does not crash; the problem is in hooks.log.
func TestHookHostileStdin(t *testing.T) {
	f := newFixture(t)
	id := f.claimed("Agent-3", hookBody)
	huge := withPrompt(t, "[agentspool id="+id+" from=a to=Agent-3]\n"+strings.Repeat("x", 2<<20))
	for name, in := range map[string][]byte{
		"empty":     {},
		"malformed": []byte(`{"prompt": "[agentspool id=` + id),
		"not json":  []byte("\x00\x01 binary"),
		"huge":      huge,
		"array":     []byte(`[1,2,3]`),
		"no prompt": []byte(`{"hook_event_name": "beforeSubmitPrompt"}`),
	} {
		t.Run(name, func(t *testing.T) {
			r := f.run(in, "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0)
			if r.stdout != `{"continue": true}`+"\n" {
				t.Fatalf("answer %q", r.stdout)
			}
			f.run(in, "hook", "--agent", "Agent-3", "UserPromptSubmit").want(t, 0)
			if f.acked("Agent-3", id) {
				t.Fatal("acked from a broken payload")
			}
		})
	}
	if !strings.Contains(f.hookLog(), "more than 1048576 bytes") {
		t.Errorf("the huge stdin is not logged:\n%s", f.hookLog())
	}
	// Invalid UTF-8 inside a valid JSON string: the envelope is still found.
	bad := []byte(`{"prompt": "[agentspool id=` + id + ` from=a to=Agent-3]\n` + "\xff\xfe" + ` text", "hook_event_name": "beforeSubmitPrompt"}`)
	f.run(bad, "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0).contains(t, "stdout", "continue")
	if s, _ := confirm.AckNote(f.inboxOf("Agent-3"), id); s != confirm.SubmitMerged {
		t.Errorf("non-UTF-8 text after the envelope noted %q, want merged", s)
	}
}

// A tool that never closes stdin does not hold the agent: the hook answers
// within its timeout.
func TestHookStdinNeverClosed(t *testing.T) {
	f := newFixture(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	pw.Write([]byte(`{"prompt": "`))
	cmd := exec.Command(binary, "--config", f.config, "hook", "--agent", "Agent-1", "--timeout", "200ms", "beforeSubmitPrompt")
	cmd.Env = cleanEnv()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the hook took %v with an open stdin", d)
	}
	if out.String() != `{"continue": true}`+"\n" {
		t.Fatalf("answer %q", out.String())
	}
	if !strings.Contains(f.hookLog(), "stdin not closed") {
		t.Errorf("not logged:\n%s", f.hookLog())
	}
	// Busy all the same: the prompt was submitted.
	if s := f.hookState(t, "Agent-1"); s.State != confirm.StateBusy {
		t.Errorf("state %+v", s)
	}
}

// A broken hook line, an unknown agent or no config never makes the tool
// stop the prompt: exit 0 and the answer.
func TestHookBadSetupStillAnswers(t *testing.T) {
	f := newFixture(t)
	in := payload(t, "cursor-beforeSubmitPrompt.json", "x")
	for _, args := range [][]string{
		{"hook", "beforeSubmitPrompt"},                                  // no --agent
		{"hook", "--agent", "Agent-9", "beforeSubmitPrompt"},            // unknown agent
		{"hook", "--agent", "Agent-1", "--bogus", "beforeSubmitPrompt"}, // bad flag
	} {
		r := f.run(in, args...)
		if r.code != 0 || r.stdout != `{"continue": true}`+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := f.run(in, "hook", "--agent", "Agent-1", "stop").want(t, 0); r.stdout != "{}\n" {
		t.Errorf("stop answered %q", r.stdout)
	}
	if r := f.run(in, "hook", "--agent", "Agent-1", "Frobnicate"); r.code != 0 || r.stdout != "" {
		t.Errorf("unknown event: %+v", r)
	}
	r := f.runRaw(in, "--config", filepath.Join(f.dir, "none.yaml"), "hook", "--agent", "Agent-1", "beforeSubmitPrompt")
	if r.code != 0 || r.stdout != `{"continue": true}`+"\n" || !strings.Contains(r.stderr, "none.yaml") {
		t.Errorf("no config: %+v", r)
	}
	if strings.Count(f.hookLog(), "level=ERROR") < 4 {
		t.Errorf("the problems are not logged:\n%s", f.hookLog())
	}
}

// status shows what the hooks say (busy/ready and since when); show says
// how the hook saw the message submitted.
func TestStatusAndShowReportTheHooks(t *testing.T) {
	f := newFixture(t)
	f.run(nil, "status").want(t, 0)
	if r := f.run(nil, "status"); strings.Contains(r.stdout, "AGENT IS") {
		t.Fatalf("a hook column without hooks:\n%s", r.stdout)
	}
	id := f.claimed("Agent-3", hookBody)
	f.run(withPrompt(t, "draft [agentspool id="+id+" from=a to=Agent-3]\n"+hookBody), "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0)
	r := f.run(nil, "status").want(t, 0).contains(t, "stdout", "AGENT IS")
	for _, l := range r.lines() {
		if strings.HasPrefix(l, "Agent-3 ") && !strings.Contains(l, "busy ") {
			t.Errorf("Agent-3's line: %q", l)
		}
		if strings.HasPrefix(l, "Agent-1 ") && !strings.HasSuffix(strings.TrimSpace(l), "-") {
			t.Errorf("Agent-1 has no hooks: %q", l)
		}
	}
	var rows []agentStatus
	if err := json.Unmarshal([]byte(f.run(nil, "status", "--json").want(t, 0).stdout), &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Agent == "Agent-3" && (row.Hook != "busy" || row.HookSince == nil) {
			t.Errorf("status --json: %+v", row)
		}
	}
	f.run(nil, "show", id).want(t, 0).contains(t, "stdout", "submit:     merged, seen by the agent's hook (other text before the envelope)")
	f.run(nil, "hook", "--agent", "Agent-3", "stop").want(t, 0)
	f.run(nil, "status").want(t, 0).contains(t, "stdout", "ready ")
}

// A FIFO or symlink planted as hooks.log does not block or redirect the
// hook: it logs to stderr instead and answers.
func TestHookLogNotARegularFile(t *testing.T) {
	f := newFixture(t)
	f.open()
	if err := exec.Command("mkfifo", filepath.Join(f.spool, hookLogName)).Run(); err != nil {
		t.Skip("mkfifo:", err)
	}
	start := time.Now()
	r := f.run([]byte("{}"), "hook", "--agent", "Agent-1", "beforeSubmitPrompt")
	if r.code != 0 || r.stdout != `{"continue": true}`+"\n" || time.Since(start) > 3*time.Second {
		t.Fatalf("with a FIFO for hooks.log: %+v after %v", r, time.Since(start))
	}
	if s := f.hookState(t, "Agent-1"); s.State != confirm.StateBusy {
		t.Fatalf("state %+v", s)
	}
}

// doctor reports each agent's hooks from its state file.
func TestDoctorReportsHooks(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(fmt.Sprintf("spool: %s\ninbox_root: %s\n%s  Agent-4: {x: 70, y: 20, window: \"Agent-4\", deliver_when: ready}\n", f.spool, f.inbox, testAgents))
	f.run([]byte("{}"), "hook", "--agent", "Agent-3", "UserPromptSubmit").want(t, 0)
	cmd := exec.Command(binary, "--config", f.config, "doctor")
	cmd.Env = append(cleanEnv(), "DISPLAY=")
	out, _ := cmd.Output()
	for _, want := range []string{
		"ok    hooks          Agent-1: none have run (deliver_when: always)",
		"ok    hooks          Agent-3: busy for ",
		"FAIL  hooks          Agent-4: deliver_when: ready, but its hooks have never run",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
}
