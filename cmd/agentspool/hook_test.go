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
	"unicode/utf8"

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

// claimed sends body to agent, moves it to cur/ and marks it submitted, as
// the daemon does when it pastes; it returns the id.
func (f *fixture) claimed(agent, body string) string {
	f.t.Helper()
	id := f.send(agent, body)
	sp := f.open()
	c, err := sp.Claim(f.entry(id))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := sp.Mark(c, false, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// timedOut is claimed, then back in new/ as after an ack timeout (attempt
// 1, a not-before time), where a late submit finds it.
func (f *fixture) timedOut(agent, body string) string {
	f.t.Helper()
	id := f.claimed(agent, body)
	if _, err := f.open().Retry(f.entry(id), time.Now().Add(time.Hour)); err != nil {
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

// payloadFile is one file of testdata/hooks, named TOOL-EVENT[-VARIANT].json.
type payloadFile struct{ name, tool, event string }

func payloadFiles(t *testing.T) []payloadFile {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "hooks", "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no payloads: %v", err)
	}
	var out []payloadFile
	for _, n := range names {
		base := filepath.Base(n)
		var f payloadFile
		for tool := range toolEvents {
			if rest, ok := strings.CutPrefix(base, tool+"-"); ok {
				ev, _, _ := strings.Cut(strings.TrimSuffix(rest, ".json"), "-")
				f = payloadFile{base, tool, ev}
			}
		}
		if _, ok := toolEvents[f.tool][f.event]; !ok {
			t.Fatalf("%s: not TOOL-EVENT[-VARIANT].json for one of the events %v", base, toolEvents)
		}
		out = append(out, f)
	}
	return out
}

// Every payload file is named in SOURCES.md, which says where its shape
// comes from; each file of a submit event holds a message for @ID@, and
// says its own event.
func TestHookPayloadsAreSourced(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "hooks", "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range payloadFiles(t) {
		seen[f.tool+" "+f.event] = true
		if !strings.Contains(string(src), "`"+f.name+"`") {
			t.Errorf("%s is not named in SOURCES.md", f.name)
		}
		var p confirm.HookPayload
		if err := json.Unmarshal(payload(t, f.name, "x"), &p); err != nil || p.HookEventName != f.event {
			t.Errorf("%s: hook_event_name %q, %v", f.name, p.HookEventName, err)
		}
		if toolEvents[f.tool][f.event].submit && !strings.Contains(string(payload(t, f.name, "@ID@")), "[agentspool id=@ID@ ") {
			t.Errorf("%s: no envelope for @ID@ in the prompt", f.name)
		}
	}
	for tool, evs := range toolEvents {
		for name := range evs {
			if !seen[tool+" "+name] {
				t.Errorf("no payload file for %s's %s", tool, name)
			}
		}
	}
}

// hookArgs is the hook's command line for tool's event, as hooks install
// writes it: --for where the event's name does not say the tool.
func hookArgs(agent, tool, event string) []string {
	args := []string{"hook", "--agent", agent}
	if hookTools[tool].forFlag {
		args = append(args, "--for", tool)
	}
	return append(args, event)
}

// Each tool's documented payloads: the agent's message is acked as
// submitted alone, the agent is busy, then ready after the tool's stop
// event; the answer on stdout is what each tool documents (Cursor: JSON,
// {"continue": true} to let the prompt go and {} after a stop; Claude
// Code: nothing, exit 0), and nothing goes to stderr.
func TestHookPerToolPayloads(t *testing.T) {
	files := payloadFiles(t)
	stopOf := map[string]string{}
	for _, f := range files {
		if !toolEvents[f.tool][f.event].submit {
			stopOf[f.tool] = f.name
		}
	}
	for _, pf := range files {
		if !toolEvents[pf.tool][pf.event].submit {
			continue
		}
		t.Run(pf.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.claimed("Agent-3", hookBody)
			r := f.run(payload(t, pf.name, id), hookArgs("Agent-3", pf.tool, pf.event)...).want(t, 0)
			checkAnswer(t, pf.tool, true, r)
			if !f.acked("Agent-3", id) {
				t.Fatalf("no ack; hooks.log:\n%s", f.hookLog())
			}
			if s, _ := confirm.AckNote(f.inboxOf("Agent-3"), id); s != confirm.SubmitAlone {
				t.Fatalf("submit noted %q, want alone", s)
			}
			if s := f.hookState(t, "Agent-3"); s.State != confirm.StateBusy || s.Event != pf.event {
				t.Fatalf("state after submit: %+v", s)
			}
			stop := stopOf[pf.tool]
			stopEv := strings.TrimSuffix(strings.TrimPrefix(stop, pf.tool+"-"), ".json")
			r = f.run(payload(t, stop, id), hookArgs("Agent-3", pf.tool, stopEv)...).want(t, 0)
			checkAnswer(t, pf.tool, false, r)
			if s := f.hookState(t, "Agent-3"); s.State != confirm.StateReady || s.Event != stopEv || s.Events[pf.event].IsZero() {
				t.Fatalf("state after stop: %+v", s)
			}
			if strings.Contains(f.hookLog(), "level=ERROR") || strings.Contains(f.hookLog(), "level=WARN") {
				t.Errorf("hooks.log:\n%s", f.hookLog())
			}
		})
	}
}

// checkAnswer checks the hook's answer as the tool reads it: Cursor parses
// stdout as one JSON object ({"continue": true} lets the prompt go; after
// stop, an object without followup_message); Claude Code and Codex go by
// the exit code and add the stdout of UserPromptSubmit to the model's
// context, so there must be none; Gemini CLI and Qwen Code parse stdout as
// JSON and fall back to stderr when it is empty, so they get {}. The hook
// logs to hooks.log, never stderr, once the config is read.
func checkAnswer(t *testing.T, tool string, submit bool, r result) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Errorf("%s: exit %d, stderr %q", tool, r.code, r.stderr)
	}
	want := ""
	switch {
	case tool == "cursor" && submit:
		want = `{"continue": true}` + "\n"
	case tool == "cursor", tool == "gemini", tool == "qwen-code":
		want = "{}\n"
	}
	if r.stdout != want {
		t.Errorf("%s: stdout %q, want %q", tool, r.stdout, want)
	}
	if want != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
			t.Errorf("%s: stdout %q is no JSON object: %v", tool, r.stdout, err)
		}
		for _, k := range []string{"followup_message", "decision", "continue"} {
			if _, ok := m[k]; ok && !(k == "continue" && m[k] == true) {
				t.Errorf("%s: %s in %q", tool, k, r.stdout)
			}
		}
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

// A late submit acks the message wherever it is now: back in new/ after
// an ack timeout (the daemon pasted it once: attempt 1), so the daemon
// finds the ack before its retry and never pastes it again. A message the
// daemon never pasted is not acked by an envelope typed by hand: one still
// in new/ (attempt 0), or claimed but not yet marked pasting in cur/.
func TestHookAcksALateSubmitOfARetriedMessage(t *testing.T) {
	f := newFixture(t)
	late := f.timedOut("Agent-3", hookBody)
	if en := f.entry(late); en.State != "new" || en.Attempt != 1 {
		t.Fatalf("the timed-out message: %+v", en)
	}
	never := f.send("Agent-3", hookBody)
	claimedOnly := f.send("Agent-3", hookBody)
	if _, err := f.open().Claim(f.entry(claimedOnly)); err != nil {
		t.Fatal(err)
	}
	env := func(id string) string { return "[agentspool id=" + id + " from=Agent-6 to=Agent-3]\n" }
	f.run(withPrompt(t, env(late)+hookBody), "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0)
	if !f.acked("Agent-3", late) {
		t.Fatalf("a late submit of a message back in new/ is not acked; log:\n%s", f.hookLog())
	}
	if s, _ := confirm.AckNote(f.inboxOf("Agent-3"), late); s != confirm.SubmitAlone {
		t.Errorf("late submit noted %q", s)
	}
	if !strings.Contains(f.hookLog(), "in=new") {
		t.Errorf("the log does not say where the message was:\n%s", f.hookLog())
	}
	for _, id := range []string{never, claimedOnly} {
		f.run(withPrompt(t, env(id)+hookBody), "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0)
		if f.acked("Agent-3", id) {
			t.Errorf("%s, never pasted, acked by a typed envelope", id)
		}
	}
	if n := strings.Count(f.hookLog(), "was never pasted by the daemon"); n != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", n, f.hookLog())
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

// Whatever stdin holds, the hook answers each tool as it documents, at
// once, exits 0 and does not crash (run fails the test on a panic); the
// problem is in hooks.log, never on stderr.
func TestHookHostileStdin(t *testing.T) {
	f := newFixture(t)
	id := f.claimed("Agent-3", hookBody)
	huge := withPrompt(t, "[agentspool id="+id+" from=a to=Agent-3]\n"+strings.Repeat("x", 2<<20))
	utf16 := []byte{0xff, 0xfe} // UTF-16LE, as a Windows tool might write it
	for _, r := range `{"prompt": "[agentspool id=` + id + ` from=a to=Agent-3]\n` + hookBody + `"}` {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"empty", []byte{}},
		{"malformed", []byte(`{"prompt": "[agentspool id=` + id)},
		{"not json", []byte("\x00\x01 binary")},
		{"huge", huge},
		{"array", []byte(`[1,2,3]`)},
		{"null", []byte(`null`)},
		{"no prompt", []byte(`{"hook_event_name": "beforeSubmitPrompt"}`)},
		{"prompt not a string", []byte(`{"prompt": 42}`)},
		{"two objects", append(withPrompt(t, "[agentspool id="+id+" from=a to=Agent-3]\n"+hookBody), `{"prompt": ""}`...)},
		{"deeply nested", []byte(`{"prompt": ` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `}`)},
		{"utf-8 BOM", append([]byte("\xef\xbb\xbf"), withPrompt(t, "[agentspool id="+id+" from=a to=Agent-3]\n"+hookBody)...)},
		{"utf-16", utf16},
		{"cut in a utf-8 sequence", []byte(`{"prompt": "[agentspool id=` + id + ` from=a to=Agent-3]\n` + "\xe2\x9c")},
	} {
		t.Run(c.name, func(t *testing.T) {
			for tool, evs := range toolEvents {
				for ev, e := range evs {
					start := time.Now()
					r := f.run(c.in, hookArgs("Agent-3", tool, ev)...)
					if d := time.Since(start); d > 3*time.Second {
						t.Errorf("%s %s: answered after %v", tool, ev, d)
					}
					checkAnswer(t, tool, e.submit, r)
				}
			}
			if f.acked("Agent-3", id) {
				t.Fatal("acked from a broken payload")
			}
		})
	}
	log := f.hookLog()
	for _, want := range []string{"more than 1048576 bytes", "stdin is not the tool's JSON", "invalid character", "cannot unmarshal number"} {
		if !strings.Contains(log, want) {
			t.Errorf("hooks.log lacks %q:\n%s", want, tailString(log, 3000))
		}
	}
	// Invalid UTF-8 inside a valid JSON string: the envelope is still found.
	bad := []byte(`{"prompt": "[agentspool id=` + id + ` from=a to=Agent-3]\n` + "\xff\xfe" + ` text", "hook_event_name": "beforeSubmitPrompt"}`)
	f.run(bad, "hook", "--agent", "Agent-3", "beforeSubmitPrompt").want(t, 0).contains(t, "stdout", "continue")
	if s, _ := confirm.AckNote(f.inboxOf("Agent-3"), id); s != confirm.SubmitMerged {
		t.Errorf("non-UTF-8 text after the envelope noted %q, want merged", s)
	}
	// Only the ack's "why" could carry the bytes: the ack stays UTF-8.
	if b, _ := os.ReadFile(confirm.AckPath(f.inboxOf("Agent-3"), id)); !utf8.Valid(b) {
		t.Errorf("ack is not UTF-8: %q", b)
	}
}

// Up to 1 MiB is a payload, one byte more is not: the limit is exact.
func TestHookInputLimit(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		size  int
		acked bool
	}{{hookMaxInput, true}, {hookMaxInput + 1, false}} {
		id := f.claimed("Agent-3", hookBody)
		in := withPrompt(t, "[agentspool id="+id+" from=a to=Agent-3]\n"+hookBody)
		in = append(in, bytes.Repeat([]byte(" "), c.size-len(in))...) // JSON allows trailing space
		if len(in) != c.size {
			t.Fatal(len(in))
		}
		checkAnswer(t, "cursor", true, f.run(in, "hook", "--agent", "Agent-3", "beforeSubmitPrompt"))
		if f.acked("Agent-3", id) != c.acked {
			t.Errorf("%d bytes: acked %v, want %v; log:\n%s", c.size, !c.acked, c.acked, tailString(f.hookLog(), 2000))
		}
	}
}

// A tool still writing a payload over the limit is not cut off: the hook
// reads its stdin to the end (into nothing), so the tool's write gets no
// EPIPE, which it may report as a failed hook.
func TestHookReadsHugeStdinToTheEnd(t *testing.T) {
	f := newFixture(t)
	big := withPrompt(t, strings.Repeat("y", 3<<20))
	for ev := range hookEvents {
		cmd := exec.Command(binary, "--config", f.config, "hook", "--agent", "Agent-1", ev)
		cmd.Env = cleanEnv()
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd.Stdout = &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n, werr := w.Write(big)
		w.Close()
		if err := cmd.Wait(); err != nil || werr != nil || n != len(big) {
			t.Errorf("%s: wrote %d of %d bytes: %v; exit %v", ev, n, len(big), werr, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %v", ev, d)
		}
		checkAnswer(t, hookEvents[ev].tool, hookEvents[ev].submit, result{stdout: out.String()})
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
		"--for TOOL --project DIR (TOOL: cursor, claude-code, codex, gemini or qwen-code)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
}
