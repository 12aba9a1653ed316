package confirm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteHookAckNotesTheSubmit(t *testing.T) {
	inbox := filepath.Join(t.TempDir(), "inbox")
	p, err := WriteHookAck(inbox, "m1", "beforeSubmitPrompt", SubmitMerged, "text before the envelope\nline")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Acked(inbox, "m1", time.Now().Add(-time.Second)); !ok {
		t.Fatal("a hook's ack is not an ack")
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), "by: hook beforeSubmitPrompt\n") {
		t.Fatalf("ack content %q", b)
	}
	submit, why := AckNote(inbox, "m1")
	if submit != SubmitMerged || why != "text before the envelope line" {
		t.Fatalf("AckNote = %q, %q", submit, why)
	}
	WriteAck(inbox, "m2")
	if s, w := AckNote(inbox, "m2"); s != "" || w != "" {
		t.Fatalf("a plain ack has note %q %q", s, w)
	}
	if _, err := WriteHookAck(inbox, "../x", "e", SubmitAlone, ""); err == nil {
		t.Fatal("bad id accepted")
	}
}

func TestMarkStateKeepsSinceAndEvents(t *testing.T) {
	root := t.TempDir()
	if s, err := ReadState(root, "Agent-1"); s != nil || err != nil {
		t.Fatalf("no file: %v %v", s, err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	MarkState(root, "Agent-1", StateBusy, "beforeSubmitPrompt", t0)
	MarkState(root, "Agent-1", StateBusy, "beforeSubmitPrompt", t0.Add(time.Minute))
	s, err := ReadState(root, "Agent-1")
	if err != nil || s.State != StateBusy || !s.Since.Equal(t0) || !s.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after two submits: %+v %v", s, err)
	}
	MarkState(root, "Agent-1", StateReady, "stop", t0.Add(2*time.Minute))
	s, _ = ReadState(root, "Agent-1")
	if s.State != StateReady || !s.Since.Equal(t0.Add(2*time.Minute)) || !s.Events["beforeSubmitPrompt"].Equal(t0.Add(time.Minute)) || !s.Events["stop"].Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after stop: %+v", s)
	}
	os.WriteFile(StatePath(root, "Agent-1"), []byte("{garbage"), 0o600)
	if _, err := ReadState(root, "Agent-1"); err == nil {
		t.Fatal("garbage read as a state")
	}
	if _, err := MarkState(root, "Agent-1", StateBusy, "UserPromptSubmit", t0); err != nil {
		t.Fatalf("a garbage file is not rewritten: %v", err)
	}
	if _, err := MarkState(root, "../x", StateBusy, "e", t0); err == nil {
		t.Fatal("bad agent name accepted")
	}
}

// The prompt matched is Qwen Code's submitted_prompt when it has one, unless
// a long paste stands in it only as its placeholder: then prompt, where
// the paste is.
func TestHookPayloadSubmitted(t *testing.T) {
	for _, c := range []struct {
		p    HookPayload
		want string
	}{
		{HookPayload{Prompt: "typed"}, "typed"},
		{HookPayload{Prompt: "typed and file.md's text", SubmittedPrompt: "typed and @file.md"}, "typed and @file.md"},
		{HookPayload{Prompt: "the paste", SubmittedPrompt: "[Pasted Content 9 chars]"}, "the paste"},
	} {
		if got := c.p.Submitted(); got != c.want {
			t.Errorf("%+v.Submitted() = %q, want %q", c.p, got, c.want)
		}
	}
}
