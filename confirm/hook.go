package confirm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentspool/agentspool/internal/safeio"
)

// How a hook saw the message submitted, noted in the ack as "submit: ...".
const (
	// SubmitAlone: the submitted prompt held the message and nothing else.
	SubmitAlone = "alone"
	// SubmitMerged: the message was submitted together with other text (a
	// person's draft, another message).
	SubmitMerged = "merged"
)

// WriteHookAck is WriteAck for `agentspool hook`: the ack also says which
// hook event wrote it and how the message was submitted (SubmitAlone or
// SubmitMerged, with a short why for a merge), so the daemon and `show`
// can report a merged submit.
func WriteHookAck(inbox, id, event, submit, why string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if err := os.MkdirAll(inbox, 0o700); err != nil {
		return "", fmt.Errorf("confirm: inbox: %w", err)
	}
	host, _ := os.Hostname()
	text := fmt.Sprintf("id: %s\ntime: %s\nhost: %s\nby: hook %s\nsubmit: %s\n", id, time.Now().UTC().Format(time.RFC3339Nano), host, oneLine(event), submit)
	if why != "" {
		text += "why: " + oneLine(why) + "\n"
	}
	path := AckPath(inbox, id)
	if err := safeio.WriteFile(path, []byte(text), 0o600); err != nil && !safeio.IsSyncDirError(err) {
		return "", fmt.Errorf("confirm: write ack: %w", err)
	}
	return path, nil
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// AckNote reads the "submit:" and "why:" lines of id's ack in inbox: what a
// hook noted about the submit. Both are empty for an ack written by
// `agentspool ack` or by hand, or when there is no readable ack.
func AckNote(inbox, id string) (submit, why string) {
	if checkID(id) != nil {
		return "", ""
	}
	b, err := safeio.ReadFile(AckPath(inbox, id), safeio.OpenOptions{MaxBytes: 4 << 10})
	if err != nil {
		return "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		switch {
		case !ok:
		case k == "submit":
			submit = v
		case k == "why":
			why = v
		}
	}
	return submit, why
}

// HookPayload is the part of the agent tools' hook payload (the JSON on
// the hook's stdin) that `agentspool hook` uses. Cursor sends prompt,
// conversation_id, generation_id, workspace_roots, hook_event_name (and
// status on stop); Claude Code sends session_id, transcript_path, cwd,
// hook_event_name, prompt (and stop_hook_active on Stop); Codex adds
// turn_id and model; Gemini CLI and Qwen Code send session_id,
// transcript_path, cwd, hook_event_name, timestamp and prompt, and Qwen
// Code submitted_prompt when the prompt it processed (its @-includes)
// differs from what was submitted. See cmd/agentspool/testdata/hooks.
type HookPayload struct {
	Prompt          string   `json:"prompt"`
	SubmittedPrompt string   `json:"submitted_prompt"`
	HookEventName   string   `json:"hook_event_name"`
	ConversationID  string   `json:"conversation_id"`
	GenerationID    string   `json:"generation_id"`
	WorkspaceRoots  []string `json:"workspace_roots"`
	SessionID       string   `json:"session_id"`
	Cwd             string   `json:"cwd"`
	Status          string   `json:"status"`
}

// Submitted is the prompt to match against the messages pasted: Qwen
// Code's submitted_prompt is what was typed and pasted, before its
// @-includes; but a long paste stays in it as its placeholder ("[Pasted
// Content 2037 chars]", seen with 0.24.4), expanded only in prompt.
func (p HookPayload) Submitted() string {
	if p.SubmittedPrompt != "" && len(PastePlaceholders(p.SubmittedPrompt)) == 0 {
		return p.SubmittedPrompt
	}
	return p.Prompt
}

// Agent states written by the hook.
const (
	StateBusy  = "busy"  // a prompt was submitted: the agent is working
	StateReady = "ready" // its turn ended: it waits for input
)

// AgentState is the small file <spool>/agents/<agent>.state that
// `agentspool hook` writes and the daemon and `status` read: whether the
// agent is busy or ready, since when, and the last hook event.
type AgentState struct {
	Agent string    `json:"agent"`
	State string    `json:"state"` // StateBusy or StateReady
	Since time.Time `json:"since"` // when State began (unchanged by a repeat)
	Event string    `json:"last_event"`
	At    time.Time `json:"last_event_at"`
	// Events is when each hook event last fired, for `hooks check`.
	Events map[string]time.Time `json:"events,omitempty"`
}

// StatePath is the state file of agent under the spool root.
func StatePath(spoolRoot, agent string) string {
	return filepath.Join(spoolRoot, "agents", agent+".state")
}

// ReadState reads agent's state file; nil, nil when there is none.
func ReadState(spoolRoot, agent string) (*AgentState, error) {
	if !safeio.ValidAgentName(agent) {
		return nil, fmt.Errorf("confirm: bad agent name %q", agent)
	}
	b, err := safeio.ReadFile(StatePath(spoolRoot, agent), safeio.OpenOptions{MaxBytes: 64 << 10})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("confirm: state of %s: %w", agent, err)
	}
	var s AgentState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("confirm: state of %s: %w", agent, err)
	}
	if s.State != StateBusy && s.State != StateReady {
		return nil, fmt.Errorf("confirm: state of %s: unknown state %q", agent, s.State)
	}
	return &s, nil
}

// MarkState records that event fired at now and put agent in state
// (StateBusy or StateReady), keeping Since when the state does not change.
// The write is atomic (safeio), so a reader sees the old or the new file.
// Two hooks racing may lose one event's time; the state written last wins,
// which is the later event.
func MarkState(spoolRoot, agent, state, event string, now time.Time) (*AgentState, error) {
	if state != StateBusy && state != StateReady {
		return nil, fmt.Errorf("confirm: unknown state %q", state)
	}
	if !safeio.ValidAgentName(agent) {
		return nil, fmt.Errorf("confirm: bad agent name %q", agent)
	}
	old, err := ReadState(spoolRoot, agent)
	if err != nil {
		old = nil // unreadable: it is rewritten whole
	}
	s := &AgentState{Agent: agent, State: state, Since: now, Event: event, At: now, Events: map[string]time.Time{}}
	if old != nil {
		for k, v := range old.Events {
			s.Events[k] = v
		}
		if old.State == state && !old.Since.IsZero() {
			s.Since = old.Since
		}
	}
	s.Events[event] = now
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := safeio.MkdirPrivate(filepath.Dir(StatePath(spoolRoot, agent))); err != nil {
		return nil, fmt.Errorf("confirm: state dir: %w", err)
	}
	if err := safeio.WriteFile(StatePath(spoolRoot, agent), append(b, '\n'), 0o600); err != nil && !safeio.IsSyncDirError(err) {
		return nil, fmt.Errorf("confirm: write state: %w", err)
	}
	return s, nil
}
