package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentspool/agentspool/internal/jsonedit"
	"github.com/agentspool/agentspool/internal/safeio"
)

// What agentspool knows of each agent tool's hooks: where its hooks file
// is and what agentspool writes into it (hooks), and what the tool wants
// to read back when it runs the hook (hook).

// hookTool is what differs between the tools' hooks files.
type hookTool struct {
	name         string          // as --for names it
	dir, file    string          // .cursor, hooks.json
	submit, stop string          // the events' names
	skeleton     jsonedit.Object // the top level of a file agentspool creates
	entry        func(cmd string) json.RawMessage
	commands     func(entry json.RawMessage) []string // the commands an entry runs
	// userDir, when set, is the directory of the user's file (default:
	// dir in the home directory).
	userDir func() (string, error)
	// forFlag: the command line says --for TOOL, as the event names do
	// not tell this tool from another one (Codex and Qwen Code use
	// Claude Code's).
	forFlag bool
	// neverFired is check's and doctor's hint when an event never fired.
	neverFired string
}

// claudeShape is the entry of Claude Code's settings.json, which Codex's
// hooks.json and Qwen Code's and Gemini CLI's settings.json share: a
// matcher group of command hooks. The timeout is in the tool's unit.
func claudeShape(timeout int) func(cmd string) json.RawMessage {
	return func(cmd string) json.RawMessage {
		type hook struct {
			Type    string `json:"type"`
			Command string `json:"command"`
			Timeout int    `json:"timeout"`
		}
		return jsonedit.Marshal(map[string][]hook{"hooks": {{Type: "command", Command: cmd, Timeout: timeout}}})
	}
}

func claudeCommands(e json.RawMessage) []string {
	var x struct{ Hooks []struct{ Command string } }
	if json.Unmarshal(e, &x) != nil {
		return nil
	}
	var out []string
	for _, h := range x.Hooks {
		out = append(out, h.Command)
	}
	return out
}

// codexHome is Codex's home: $CODEX_HOME, else ~/.codex (codex-rs
// find_codex_home).
func codexHome() (string, error) {
	if h := os.Getenv("CODEX_HOME"); h != "" {
		return h, nil
	}
	home, err := os.UserHomeDir()
	return filepath.Join(home, ".codex"), err
}

var hookTools = map[string]*hookTool{
	"cursor": {
		name: "cursor", dir: ".cursor", file: "hooks.json", submit: "beforeSubmitPrompt", stop: "stop",
		skeleton: jsonedit.Object{{Key: "version", Value: json.RawMessage("1")}},
		entry: func(cmd string) json.RawMessage {
			return jsonedit.Marshal(map[string]string{"command": cmd})
		},
		commands: func(e json.RawMessage) []string {
			var x struct{ Command string }
			if json.Unmarshal(e, &x) != nil {
				return nil
			}
			return []string{x.Command}
		},
		neverFired: "submit a prompt in Cursor's agent chat; Cursor shows hook errors in its Hooks output panel",
	},
	// Seconds (Claude Code's hooks reference).
	"claude-code": {
		name: "claude-code", dir: ".claude", file: "settings.json", submit: "UserPromptSubmit", stop: "Stop",
		entry: claudeShape(10), commands: claudeCommands,
		neverFired: "submit a prompt in Claude Code; /hooks lists the hooks it loaded",
	},
	// hooks.json in Claude Code's shape, timeout in seconds (codex-rs
	// hooks engine/discovery.rs; hooks are on by default, feature
	// "hooks"). Codex records trust per hook in config.toml.
	"codex": {
		name: "codex", dir: ".codex", file: "hooks.json", submit: "UserPromptSubmit", stop: "Stop",
		entry: claudeShape(10), commands: claudeCommands, userDir: codexHome, forFlag: true,
		neverFired: "trust it in Codex: run codex, open /hooks and trust agentspool's hooks (an untrusted hook is skipped without a word)",
	},
	// settings.json, timeout in milliseconds (docs/hooks/reference.md;
	// hooksConfig.enabled defaults to true in 0.61.0).
	"gemini": {
		name: "gemini", dir: ".gemini", file: "settings.json", submit: "BeforeAgent", stop: "AfterAgent",
		entry: claudeShape(10000), commands: claudeCommands, forFlag: true,
		neverFired: "submit a prompt in Gemini CLI; hooksConfig.enabled must not be false, and a project's hooks run only in a trusted folder",
	},
	// settings.json with Claude Code's events, timeout in seconds (values
	// of 1000 and more are read as milliseconds: hook-timeout.ts); on
	// unless "disableAllHooks": true.
	"qwen-code": {
		name: "qwen-code", dir: ".qwen", file: "settings.json", submit: "UserPromptSubmit", stop: "Stop",
		entry: claudeShape(10), commands: claudeCommands, forFlag: true,
		neverFired: "submit a prompt in Qwen Code; \"disableAllHooks\": true in its settings.json turns every hook off",
	},
}

// hookToolNames are the --for values, for messages.
const hookToolNames = "cursor, claude-code, codex, gemini or qwen-code"

// hookEvent is one event a tool's hook runner calls `hook` with.
type hookEvent struct {
	tool   string // as --for names it: "cursor", "claude-code", ...
	submit bool   // a prompt was submitted (else: the agent's turn ended)
	// answer is printed on stdout whatever happens, so the tool carries on.
	answer string
}

// toolEvents are each tool's two events, named as the tool names them,
// with what the tool must read on stdout so that the prompt goes on
// unchanged. None is ever answered with exit code 2, which blocks the
// prompt in every one of them.
var toolEvents = map[string]map[string]hookEvent{
	// Cursor reads the hook's stdout as JSON; beforeSubmitPrompt must say
	// continue, or the prompt is not sent.
	"cursor": {
		"beforeSubmitPrompt": {submit: true, answer: `{"continue": true}` + "\n"},
		"stop":               {answer: "{}\n"},
	},
	// Claude Code goes by the exit code (0: carry on); stdout of
	// UserPromptSubmit is added to the model's context, so print nothing.
	"claude-code": {"UserPromptSubmit": {submit: true}, "Stop": {}},
	// Codex likewise: on exit 0 an empty stdout does nothing, plain text
	// on UserPromptSubmit's is added to the context, and Stop's must be
	// JSON if anything (codex-rs hooks events/user_prompt_submit.rs,
	// stop.rs). Print nothing.
	"codex": {"UserPromptSubmit": {submit: true}, "Stop": {}},
	// Gemini CLI parses stdout as JSON, and with an empty stdout it takes
	// stderr, as plain text shown to the person (hookRunner.ts): answer
	// an empty object always.
	"gemini": {"BeforeAgent": {submit: true, answer: "{}\n"}, "AfterAgent": {answer: "{}\n"}},
	// Qwen Code, Gemini CLI's fork, also falls back to stderr: the same.
	"qwen-code": {"UserPromptSubmit": {submit: true, answer: "{}\n"}, "Stop": {answer: "{}\n"}},
}

// hookEvents are the events a command line without --for names: Cursor's,
// Claude Code's (installed before --for existed) and Gemini CLI's.
var hookEvents = map[string]hookEvent{}

func init() {
	for tool, evs := range toolEvents {
		for name, ev := range evs {
			ev.tool = tool
			evs[name] = ev
			if tool == "cursor" || tool == "claude-code" || tool == "gemini" {
				hookEvents[name] = ev
			}
		}
	}
}

// lookupHookEvent is the event name of tool (or, without one, the event
// a command line without --for means).
func lookupHookEvent(tool, name string) (hookEvent, bool) {
	if tool == "" {
		ev, ok := hookEvents[name]
		return ev, ok
	}
	ev, ok := toolEvents[tool][name]
	return ev, ok
}

// codexTrust says whether Codex recorded the person's trust in the hook of
// event, entry group of the hooks.json at path: Codex keeps it in the
// user's config.toml as [hooks.state."<path>:<event label>:<group>:<hook>"]
// with the trusted_hash of the entry (codex-rs hooks config_rules.rs,
// discovery.rs). Whether the hash still matches the entry only Codex can
// tell (it hashes its own normalised form): /hooks shows "Modified since
// last trusted" then.
func codexTrust(path, event string, group int) string {
	label := map[string]string{"UserPromptSubmit": "user_prompt_submit", "Stop": "stop"}[event]
	key := fmt.Sprintf("%s:%s:%d:0", path, label, group)
	home, err := codexHome()
	if err != nil {
		return "trust unknown: " + err.Error()
	}
	cfgPath := filepath.Join(home, "config.toml")
	b, err := safeio.ReadFile(cfgPath, safeio.OpenOptions{MaxBytes: 4 << 20})
	untrusted := "not trusted in Codex yet (no trust recorded in " + cfgPath + "): run codex, open /hooks and trust it; until then Codex skips it without a word"
	if err != nil {
		return untrusted
	}
	header := `[hooks.state.` + string(jsonedit.Marshal(key)) + `]`
	in, trusted, disabled := false, false, false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			in = line == header
		case !in:
		case strings.HasPrefix(line, "trusted_hash") && strings.Contains(line, "="):
			trusted = true
		case strings.HasPrefix(line, "enabled") && strings.HasSuffix(line, "false"):
			disabled = true
		}
	}
	switch {
	case disabled:
		return "disabled in Codex's /hooks (" + cfgPath + "): enable it there"
	case trusted:
		return "trusted in Codex's /hooks (" + cfgPath + "); if it never fires, /hooks may show it modified since: trust it again"
	}
	return untrusted
}
