package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// The daemon and agents whose tool confirms through its own hooks, on a
// real (virtual) desktop: each Tk window plays Cursor with the hooks that
// `agentspool hooks install --for cursor` wrote in its project. On a submit
// the window runs the beforeSubmitPrompt command (the real binary) with
// Cursor's JSON on stdin and never acks by itself; the test plays the AI
// behind each window, whose turn ends a little after each prompt, when
// Cursor runs the stop command.

// hookRig is a desktopRig whose windows confirm through the hooks.
type hookRig struct {
	*desktopRig
	proj     map[string]string // agent → its project (the window's workspace)
	stopCmd  map[string]string // agent → the stop command in its hooks.json
	stopJSON []byte            // testdata/hooks/cursor-stop.json

	mu      sync.Mutex
	stops   map[string]int  // stop events started, per agent
	auto    map[string]bool // its turns end by themselves
	urgent  map[string]bool // ids sent urgent
	stopErr []string
}

func newHookRig(t *testing.T, agents int, defaults string) *hookRig {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "coords.yaml")
	spoolDir := filepath.Join(dir, "spool")
	h := &hookRig{proj: map[string]string{}, stopCmd: map[string]string{}, stops: map[string]int{}, auto: map[string]bool{}, urgent: map[string]bool{},
		stopJSON: payload(t, "cursor-stop.json", "")}

	// `hooks install` needs the agents in the config, not yet where their
	// windows are: a first config, replaced once the desktop is up. The
	// commands it writes name this config's path, which stays.
	var pre strings.Builder
	fmt.Fprintf(&pre, "spool: %q\nagents:\n", spoolDir)
	for i := 1; i <= agents; i++ {
		fmt.Fprintf(&pre, "  Agent-%d: {x: 1, y: 1, window: \"Agent-%d\"}\n", i, i)
	}
	if err := os.WriteFile(cfg, []byte(pre.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	hooks := map[string]desktoptest.Hook{}
	for i := 1; i <= agents; i++ {
		name := fmt.Sprintf("Agent-%d", i)
		proj := filepath.Join(dir, "projects", name)
		if out, errs, code := runIn(t, cleanEnv(), "--config", cfg, "hooks", "install", "--agent", name, "--for", "cursor", "--project", proj); code != 0 {
			t.Fatalf("hooks install %s: exit %d: %s%s", name, code, out, errs)
		}
		submit, stop := cursorHookCommands(t, filepath.Join(proj, ".cursor", "hooks.json"))
		hooks[name] = desktoptest.Hook{Command: submit, Workspace: proj}
		h.proj[name], h.stopCmd[name] = proj, stop
	}

	desk := desktoptest.StartT(t, desktoptest.Options{Agents: agents, Dir: filepath.Join(dir, "desk"), Fixture: desktoptest.FixtureOptions{Hooks: hooks}})
	h.desktopRig = &desktopRig{t: t, desk: desk, config: cfg, spool: spoolDir}
	yaml := desk.CoordsYAML(spoolDir) + fmt.Sprintf(`lock_file: %q
scan_interval: 200ms
defaults:
  ack_timeout: 5s
  backoff: 100ms
%s`, filepath.Join(dir, "desktop.lock"), defaults)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// cursorHookCommands reads our two commands from a Cursor hooks.json, as
// Cursor would run them.
func cursorHookCommands(t *testing.T, path string) (submit, stop string) {
	t.Helper()
	var doc struct {
		Version int
		Hooks   map[string][]struct{ Command string }
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Version != 1 ||
		len(doc.Hooks["beforeSubmitPrompt"]) != 1 || len(doc.Hooks["stop"]) != 1 {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return doc.Hooks["beforeSubmitPrompt"][0].Command, doc.Hooks["stop"][0].Command
}

// stop runs agent's stop hook as Cursor does when the agent's turn ends:
// the command from hooks.json, in the project, with Cursor's stop JSON
// (testdata/hooks/cursor-stop.json) for the window's conversation and
// last generation on stdin.
func (h *hookRig) stop(agent string) {
	h.mu.Lock()
	h.stops[agent]++
	h.mu.Unlock()
	var p map[string]any
	if err := json.Unmarshal(h.stopJSON, &p); err != nil {
		h.fail("stop payload: %v", err)
		return
	}
	p["workspace_roots"] = []string{h.proj[agent]}
	if calls, err := h.desk.HookCalls(agent); err == nil && len(calls) > 0 {
		var last struct {
			ConversationID string `json:"conversation_id"`
			GenerationID   string `json:"generation_id"`
		}
		json.Unmarshal(calls[len(calls)-1].Payload, &last)
		p["conversation_id"], p["generation_id"] = last.ConversationID, last.GenerationID
	}
	in, _ := json.Marshal(p)
	cmd := exec.Command("sh", "-c", h.stopCmd[agent])
	cmd.Dir = h.proj[agent]
	cmd.Env = h.desk.Env()
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil || string(out) != "{}\n" {
		h.fail("%s: stop hook: %q, %v", agent, out, err)
	}
}

func (h *hookRig) fail(format string, args ...any) {
	h.mu.Lock()
	h.stopErr = append(h.stopErr, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

func (h *hookRig) setAuto(agent string, on bool) {
	h.mu.Lock()
	h.auto[agent] = on
	h.mu.Unlock()
}

// playAgents plays every agent of the desk (playAgent) until the
// function it returns is called, which waits for them to stop.
func (h *hookRig) playAgents() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range h.desk.Agents {
		wg.Add(1)
		go func() { defer wg.Done(); h.playAgent(a.Name, done) }()
	}
	return func() { close(done); wg.Wait() }
}

// playAgent is the AI behind one window: each prompt submitted starts a
// turn that ends (the stop hook) 20–150 ms later, while the agent is in
// auto; otherwise the turn goes on until setAuto. It checks all along that
// the daemon gave the agent nothing while it was busy: every prompt but an
// urgent one comes after the stop of the turn before.
func (h *hookRig) playAgent(agent string, done <-chan struct{}) {
	handled := 0
	for {
		select {
		case <-done:
			return
		case <-time.After(10 * time.Millisecond):
		}
		subs, err := h.desk.Submits(agent)
		if err != nil {
			h.fail("%s: %v", agent, err)
			return
		}
		h.mu.Lock()
		normal := 0
		for _, s := range subs {
			if m := envelopeID.FindStringSubmatch(s); m == nil || !h.urgent[m[1]] {
				normal++
			}
		}
		if normal > h.stops[agent]+1 {
			h.stopErr = append(h.stopErr, fmt.Sprintf("BUSY: %s was given prompt %d (not urgent) after only %d stops", agent, normal, h.stops[agent]))
		}
		auto := h.auto[agent]
		h.mu.Unlock()
		if len(subs) > handled && auto {
			handled = len(subs)
			time.Sleep(time.Duration(20+rand.IntN(130)) * time.Millisecond)
			h.stop(agent)
		}
	}
}

func (h *hookRig) submitted(agent, id string) bool {
	subs, _ := h.desk.Submits(agent)
	for _, s := range subs {
		if m := envelopeID.FindStringSubmatch(s); m != nil && m[1] == id {
			return true
		}
	}
	return false
}

func (h *hookRig) statusOf(agent string) agentStatus {
	h.t.Helper()
	out, errs, code := h.cli("status", "--json")
	if code != 0 {
		h.t.Fatalf("status: exit %d: %s", code, errs)
	}
	var rows []agentStatus
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		h.t.Fatal(err)
	}
	for _, r := range rows {
		if r.Agent == agent {
			return r
		}
	}
	h.t.Fatalf("no %s in status:\n%s", agent, out)
	return agentStatus{}
}

func (h *hookRig) journal() []struct{ Event, ID, Agent, Why string } {
	b, _ := os.ReadFile(filepath.Join(h.spool, "journal.jsonl"))
	var out []struct{ Event, ID, Agent, Why string }
	for _, l := range bytes.Split(b, []byte("\n")) {
		var j struct{ Event, ID, Agent, Why string }
		if json.Unmarshal(l, &j) == nil {
			out = append(out, j)
		}
	}
	return out
}

// N messages to 4 agents, confirmed through the agents' Cursor hooks only;
// one agent stays busy (its turn does not end) and gets nothing until its
// stop; an urgent message reaches it while busy, after urgent_after.
func TestHookDesktopConfirmsThroughTheHooks(t *testing.T) {
	const urgentAfter = 2 * time.Second
	h := newHookRig(t, 4, fmt.Sprintf("  urgent_after: %v\n", urgentAfter))
	const busy = "Agent-2"
	for _, a := range h.desk.Agents {
		h.setAuto(a.Name, a.Name != busy)
	}
	defer h.playAgents()()

	sent, agentOf := map[string]string{}, map[string]string{}
	h.sendMany(16, sent, agentOf) // queued before the daemon starts
	h.start()
	h.sendMany(16, sent, agentOf) // and while it runs
	const n = 32

	// Agent-2's first message goes (no hook had run: nothing says busy);
	// its hook marks it busy, and its turn does not end. The others get
	// all theirs, one per turn.
	deadline := time.Now().Add(90 * time.Second)
	othersDone := func() bool {
		for id, a := range agentOf {
			if a != busy && !h.submitted(a, id) {
				return false
			}
		}
		return true
	}
	for !othersDone() {
		if time.Now().After(deadline) {
			t.Fatalf("the other agents' messages not all submitted\n%s", tailString(h.logText(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Held at least 10 of the daemon's looks at the state file.
	first := waitHookCalls(t, h.desk, busy, 1)[0]
	if fi, err := os.Stat(first.Path + ".out"); err == nil {
		time.Sleep(time.Until(fi.ModTime().Add(2 * time.Second)))
	}
	if subs, _ := h.desk.Submits(busy); len(subs) != 1 {
		t.Fatalf("%s (busy) got %d prompts before its stop, want 1", busy, len(subs))
	}
	if s, err := confirm.ReadState(h.spool, busy); err != nil || s == nil || s.State != confirm.StateBusy || s.Event != "beforeSubmitPrompt" {
		t.Fatalf("%s's state file: %+v, %v", busy, s, err)
	}
	if st := h.statusOf(busy); st.Hook != "busy" || st.State != "waiting for the agent to be ready" || st.New != n/4-1 {
		t.Errorf("status of %s while busy: %+v", busy, st)
	}

	// An urgent message to the busy agent goes after urgent_after, before
	// the normal ones that wait, and the agent is still busy after it.
	sentAt := time.Now()
	out, errs, code := h.cli("send", "--to", busy, "--priority", "urgent", "-m", "urgent for "+busy+"\nstop what you are doing")
	if code != 0 {
		t.Fatalf("send urgent: exit %d: %s", code, errs)
	}
	uid := strings.TrimSpace(out)
	h.mu.Lock()
	h.urgent[uid] = true
	h.mu.Unlock()
	sent[uid], agentOf[uid] = "urgent for "+busy+"\nstop what you are doing", busy
	for !h.submitted(busy, uid) {
		if time.Since(sentAt) > urgentAfter+10*time.Second {
			t.Fatalf("the urgent message did not reach the busy agent in %v\n%s", time.Since(sentAt), tailString(h.logText(), 4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(sentAt)
	t.Logf("urgent message submitted to the busy agent %v after the send (urgent_after %v)", took.Round(time.Millisecond), urgentAfter)
	if took < urgentAfter || took > urgentAfter+3*time.Second {
		t.Errorf("urgent message reached the busy agent after %v, want urgent_after %v and a little", took, urgentAfter)
	}
	if subs, _ := h.desk.Submits(busy); len(subs) != 2 {
		t.Errorf("%s got %d prompts, want its first and the urgent one", busy, len(subs))
	}
	if s, _ := confirm.ReadState(h.spool, busy); s == nil || s.State != confirm.StateBusy {
		t.Errorf("%s's state after the urgent message: %+v", busy, s)
	}

	// Its turn ends: the rest goes, one per turn.
	h.setAuto(busy, true)
	h.waitDone(n+1, 90*time.Second)
	for _, a := range h.desk.Agents {
		want := 0
		for _, to := range agentOf {
			if to == a.Name {
				want++
			}
		}
		waitSubmitCount(t, h.desk, a.Name, want)
	}
	h.checkDelivered(sent, agentOf)
	h.checkHookOnly(sent, agentOf)

	var urgentEv bool
	for _, j := range h.journal() {
		switch {
		case j.Event == "urgent_while_busy" && j.ID == uid:
			urgentEv = true
		case j.Event == "urgent_while_busy", j.Event == "merged", j.Event == "busy_max":
			t.Errorf("journal: %+v", j)
		}
	}
	if !urgentEv {
		t.Error("no urgent_while_busy in the journal for the urgent message")
	}
	if out, _, _ := h.cli("show", uid); !strings.Contains(out, "submit:     alone, seen by the agent's hook") {
		t.Errorf("show %s:\n%s", uid, out)
	}
	h.mu.Lock()
	for _, e := range h.stopErr {
		t.Error(e)
	}
	h.mu.Unlock()
}

// checkHookOnly asserts every message was confirmed by the agent's hook,
// as the window's beforeSubmitPrompt call: one call per submit, with the
// submitted prompt in Cursor's shape, answered {"continue": true}; every
// ack in the inboxes written by the hook, noting the message alone; and the
// hook logged no problem.
func (h *hookRig) checkHookOnly(sent, agentOf map[string]string) {
	t := h.t
	t.Helper()
	for _, a := range h.desk.Agents {
		subs, _ := h.desk.Submits(a.Name)
		calls, err := h.desk.HookCalls(a.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != len(subs) {
			t.Errorf("%s: %d hook calls for %d submits", a.Name, len(calls), len(subs))
			continue
		}
		conv := ""
		for i, c := range calls {
			var p struct {
				ConversationID string   `json:"conversation_id"`
				GenerationID   string   `json:"generation_id"`
				HookEventName  string   `json:"hook_event_name"`
				WorkspaceRoots []string `json:"workspace_roots"`
				Prompt         string   `json:"prompt"`
			}
			if err := json.Unmarshal(c.Payload, &p); err != nil {
				t.Errorf("%s call %d: %v", a.Name, c.Seq, err)
				continue
			}
			if conv == "" {
				conv = p.ConversationID
			}
			if p.HookEventName != "beforeSubmitPrompt" || p.Prompt != subs[i] || p.ConversationID != conv || p.GenerationID == "" ||
				!slices.Equal(p.WorkspaceRoots, []string{h.proj[a.Name]}) {
				t.Errorf("%s call %d: %+v, submit %q", a.Name, c.Seq, p, subs[i])
			}
			if c.Exit != 0 || !c.Continue || c.Stdout != `{"continue": true}`+"\n" || c.Stderr != "" {
				t.Errorf("%s call %d answered exit %d, %q, stderr %q", a.Name, c.Seq, c.Exit, c.Stdout, c.Stderr)
			}
		}
		es, err := os.ReadDir(a.Inbox)
		if err != nil {
			t.Fatal(err)
		}
		acks := 0
		for _, e := range es {
			id, ok := strings.CutSuffix(e.Name(), confirm.AckSuffix)
			if !ok {
				continue
			}
			acks++
			b, _ := os.ReadFile(filepath.Join(a.Inbox, e.Name()))
			if agentOf[id] != a.Name || !strings.Contains(string(b), "\nby: hook beforeSubmitPrompt\n") || !strings.Contains(string(b), "\nsubmit: alone\n") {
				t.Errorf("%s: ack %s (for %s) not the hook's, or not alone:\n%s", a.Name, e.Name(), agentOf[id], b)
			}
		}
		if acks != len(subs) {
			t.Errorf("%s: %d acks for %d submits", a.Name, acks, len(subs))
		}
	}
	log, _ := os.ReadFile(filepath.Join(h.spool, hookLogName))
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			t.Errorf("hooks.log: %s", l)
		}
	}
	if got := strings.Count(string(log), "msg=\"hook: acked\""); got != len(sent) {
		t.Errorf("hooks.log has %d acks, want %d:\n%s", got, len(sent), tailString(string(log), 3000))
	}
}

func waitHookCalls(t *testing.T, d *desktoptest.Desktop, agent string, n int) []desktoptest.HookCall {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		calls, err := d.HookCalls(agent)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d hook calls, want %d", agent, len(calls), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSubmitCount waits for a window's records: a window writes its submit
// after the hook (which acks) returns, so done/ can be a moment ahead.
func waitSubmitCount(t *testing.T, d *desktoptest.Desktop, agent string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		subs, err := d.Submits(agent)
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) >= n || time.Now().After(deadline) {
			return // checkDelivered says what is wrong
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A person's draft in one agent's input, with the agents confirming
// through their Cursor hooks and the draft check on by default: the draft
// is neither submitted with a message nor destroyed, the message waits
// until the input is clear (the person sends their draft themselves, and
// the agent's turn for it ends), then goes alone and is acked by the hook;
// the other agent is served meanwhile.
func TestHookDesktopKeepsADraft(t *testing.T) {
	h := newHookRig(t, 2, "")
	setAgentKeys(t, h.config, "Agent-1", "    caret: ctrl+end\n")
	appendConfig(t, h.config, "quiet_for: 0s\n")
	for _, a := range h.desk.Agents {
		h.setAuto(a.Name, true)
	}
	defer h.playAgents()()

	a := h.desk.Agents[0]
	const draft = "DRAFT of the person, not sent yet"
	h.xdo("mousemove", fmt.Sprint(a.X), fmt.Sprint(a.Y), "click", "1")
	h.xdo("type", "--delay", "15", draft)
	const userClip = "the person's clipboard"
	if err := h.desk.SetClipboard(userClip); err != nil {
		t.Fatal(err)
	}
	sent, agentOf := map[string]string{}, map[string]string{}
	for _, to := range []string{"Agent-1", "Agent-2"} {
		body := "for " + to + " while a draft waits"
		out, errs, code := h.cli("send", "--to", to, "-m", body)
		if code != 0 {
			t.Fatalf("send: exit %d: %s", code, errs)
		}
		id := strings.TrimSpace(out)
		sent[id], agentOf[id] = body, to
	}
	h.start()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(h.logText(), "input not empty") < 3 || !h.submitted("Agent-2", idOf(agentOf, "Agent-2")) {
		if time.Now().After(deadline) {
			t.Fatalf("no 3 draft looks and Agent-2's message within 60s\n%s", tailString(h.logText(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if subs, _ := h.desk.Submits("Agent-1"); len(subs) != 0 {
		t.Fatalf("Agent-1 submitted %q while its input held the draft", subs)
	}
	if n := h.count(spool.StateHold) + h.count(spool.StateFailed); n != 0 {
		t.Fatalf("%d messages parked or failed for a draft", n)
	}
	if got, _ := h.desk.Clipboard(); got != userClip {
		t.Errorf("clipboard %q, want %q", got, userClip)
	}
	// The person sends the draft: the window's hook sees it (no envelope:
	// no ack, the agent busy until its turn ends), then the message goes.
	h.xdo("mousemove", fmt.Sprint(a.X), fmt.Sprint(a.Y), "click", "1", "key", "Return")
	h.waitDone(2, 60*time.Second)
	waitSubmitCount(t, h.desk, "Agent-1", 2)
	subs, _ := h.desk.Submits("Agent-1")
	id1 := idOf(agentOf, "Agent-1")
	if len(subs) != 2 || subs[0] != draft || !strings.Contains(subs[1], "id="+id1) || !strings.HasSuffix(subs[1], "\n"+sent[id1]) {
		t.Fatalf("Agent-1's submits %q, want the untouched draft, then the message alone", subs)
	}
	id2 := idOf(agentOf, "Agent-2")
	if subs, _ := h.desk.Submits("Agent-2"); len(subs) != 1 || !strings.Contains(subs[0], "id="+id2) || !strings.HasSuffix(subs[0], "\n"+sent[id2]) {
		t.Errorf("Agent-2's submits %q, want its message once", subs)
	}
	calls := waitHookCalls(t, h.desk, "Agent-1", 2)
	var p struct{ Prompt string }
	if json.Unmarshal(calls[0].Payload, &p); p.Prompt != draft {
		t.Errorf("the hook saw %q for the person's submit", p.Prompt)
	}
	ack, err := os.ReadFile(filepath.Join(a.Inbox, id1+confirm.AckSuffix))
	if err != nil || !strings.Contains(string(ack), "\nby: hook beforeSubmitPrompt\n") || !strings.Contains(string(ack), "\nsubmit: alone\n") {
		t.Errorf("ack of %s: %v\n%s", id1, err, ack)
	}
	for _, j := range h.journal() {
		if j.Event == "merged" {
			t.Errorf("journal: %+v", j)
		}
	}
}

// idOf is the one id sent to agent.
func idOf(agentOf map[string]string, agent string) string {
	for id, a := range agentOf {
		if a == agent {
			return id
		}
	}
	return ""
}
