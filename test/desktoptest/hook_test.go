package desktoptest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// A window with a hook plays Cursor: on each submit it runs the command
// with the beforeSubmitPrompt JSON on stdin, in its workspace, submits only
// when the hook says continue, and never acks by itself.
func TestFixtureHook(t *testing.T) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "project")
	d := StartT(t, Options{
		Agents: 3,
		Dir:    filepath.Join(dir, "desk"),
		Fixture: FixtureOptions{
			OrderedKeys: true,
			Hooks: map[string]Hook{
				// cwd.txt lands in the workspace: the command runs there.
				"Agent-1": {Command: `pwd > cwd.txt; cat > stdin.json; echo '{"continue": true}'`, Workspace: ws},
				"Agent-2": {Command: `cat >/dev/null; echo '{"continue": false}'`},
				"Agent-3": {Command: `echo '{"continue": true}'; exit 3`},
			},
		},
	})
	a := d.Agents[0]
	if a.HookRecord == "" || d.Agents[1].HookRecord == "" {
		t.Fatalf("no HookRecord: %+v", a)
	}
	clickAndWaitActive(t, d, a)
	msg := "[agentspool id=20261127-ab12cd from=Agent-6 to=Agent-1]\nsay \"hi\" \\ back\tslash ünï ✓\nline 3"
	pasteKeys(t, d, msg, "ctrl+v", "Return")
	waitSubmits(t, d, a.Name, []string{msg})
	calls, err := d.HookCalls(a.Name)
	if err != nil || len(calls) != 1 {
		t.Fatalf("hook calls %+v, %v", calls, err)
	}
	c := calls[0]
	if c.Exit != 0 || !c.Continue || c.Stdout != `{"continue": true}`+"\n" {
		t.Fatalf("call %+v", c)
	}
	var p struct {
		ConversationID string   `json:"conversation_id"`
		GenerationID   string   `json:"generation_id"`
		HookEventName  string   `json:"hook_event_name"`
		WorkspaceRoots []string `json:"workspace_roots"`
		Prompt         string   `json:"prompt"`
		Attachments    []any    `json:"attachments"`
	}
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, c.Payload)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if p.HookEventName != "beforeSubmitPrompt" || p.Prompt != msg || !slices.Equal(p.WorkspaceRoots, []string{ws}) ||
		!uuid.MatchString(p.ConversationID) || !uuid.MatchString(p.GenerationID) || p.Attachments == nil {
		t.Fatalf("payload %+v\n%s", p, c.Payload)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "stdin.json")); string(got) != string(c.Payload) {
		t.Errorf("the hook's stdin %q, recorded %q", got, c.Payload)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "cwd.txt")); strings.TrimSpace(string(got)) != ws {
		t.Errorf("the hook ran in %q, want %q", got, ws)
	}
	// A second prompt: same conversation, a new generation. A blank
	// submit runs no hook (Cursor sends none) but is recorded.
	pasteKeys(t, d, "second", "ctrl+v", "Return", "Return")
	waitSubmits(t, d, a.Name, []string{msg, "second", ""})
	calls, _ = d.HookCalls(a.Name)
	if len(calls) != 2 {
		t.Fatalf("%d hook calls, want 2 (none for the blank submit)", len(calls))
	}
	var p2 struct {
		ConversationID string `json:"conversation_id"`
		GenerationID   string `json:"generation_id"`
		Prompt         string `json:"prompt"`
	}
	json.Unmarshal(calls[1].Payload, &p2)
	if p2.Prompt != "second" || p2.ConversationID != p.ConversationID || p2.GenerationID == p.GenerationID {
		t.Errorf("second payload %+v, first %+v", p2, p)
	}

	// {"continue": false}, and a non-zero exit, stop the prompt: nothing is
	// submitted and the text stays in the input (the next Enter gives the
	// hook the same prompt again).
	for _, b := range d.Agents[1:] {
		clickAndWaitActive(t, d, b)
		pasteKeys(t, d, "blocked "+b.Name, "ctrl+v", "Return")
		var calls []HookCall
		err := waitFor(5*time.Second, b.Name+" hook calls", func() (bool, error) {
			calls, err = d.HookCalls(b.Name)
			return len(calls) == 1, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.x("xdotool", "key", "Return"); err != nil {
			t.Fatal(err)
		}
		err = waitFor(5*time.Second, b.Name+" second hook call", func() (bool, error) {
			calls, err = d.HookCalls(b.Name)
			return len(calls) == 2, err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			var p struct{ Prompt string }
			json.Unmarshal(c.Payload, &p)
			if c.Continue || p.Prompt != "blocked "+b.Name {
				t.Errorf("%s: call %+v, prompt %q", b.Name, c, p.Prompt)
			}
		}
		if b.Name == "Agent-3" && calls[0].Exit != 3 {
			t.Errorf("exit %d, want 3", calls[0].Exit)
		}
		if subs, _ := d.Submits(b.Name); len(subs) != 0 {
			t.Errorf("%s submitted %q though its hook stopped the prompt", b.Name, subs)
		}
	}

	// No window with a hook acks by itself (the default AckDelay is 0).
	time.Sleep(200 * time.Millisecond)
	for _, w := range d.Agents {
		if es, _ := os.ReadDir(w.Inbox); len(es) != 0 {
			t.Errorf("%s wrote %d files in its inbox", w.Name, len(es))
		}
	}
	if _, err := d.HookCalls("nosuch"); err == nil {
		t.Error("HookCalls of an unknown window")
	}
}

// Only Tk windows run a hook: naming a Chromium one is an error at Start,
// before anything runs.
func TestFixtureHookOnlyTk(t *testing.T) {
	_, err := Start(Options{Agents: 1, Kinds: []string{KindTextarea}, Dir: t.TempDir(), WebDir: t.TempDir(),
		Fixture: FixtureOptions{Hooks: map[string]Hook{"Agent-1": {Command: "true"}}}})
	if err == nil || !strings.Contains(err.Error(), "only Tk windows run a hook") {
		t.Fatalf("err = %v", err)
	}
}
