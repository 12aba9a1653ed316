//go:build unix

package agentcli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// program is what one CLI needs to run offline.
type program struct {
	bin  string   // in node_modules/.bin
	args []string // after the binary
	// ready is text on the screen once the CLI takes input (compared with
	// runs of white space made one space).
	ready string
	// setup writes the CLI's files into a.Home (and a.WorkDir) and returns
	// its environment beyond the common one. hook is the hook command, ""
	// for none.
	setup func(a *Agent, hook string) ([]string, error)
}

var programs = map[string]*program{
	ClaudeCode: {bin: "claude", ready: "shift+tab to cycle", setup: setupClaude},
	// --no-daemon: without it Codex 0.171 starts a background app-server
	// (copied into $CODEX_HOME/packages, in a session of its own) that
	// outlives the TUI.
	Codex:    {bin: "codex", args: []string{"--no-daemon"}, ready: "for shortcuts", setup: setupCodex},
	Gemini:   {bin: "gemini", ready: "Type your message", setup: setupGemini},
	QwenCode: {bin: "qwen", ready: "Type your message", setup: setupQwen},
}

// mockKey is the API key every CLI sends the mock. Claude Code approves a
// key by its last 20 characters.
const mockKey = "sk-ant-api03-agentcli-mockmodel-0123456789abcdefghijklmnopqrstuvwxyz"

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// claudeHooks is Claude Code's hooks shape, which Codex's hooks.json and
// Qwen Code's settings share.
func claudeHooks(hook string, events ...string) map[string]any {
	m := map[string]any{}
	for _, ev := range events {
		m[ev] = []any{map[string]any{"hooks": []any{map[string]any{"type": "command", "command": hook}}}}
	}
	return m
}

// setupClaude: ~/.claude.json says onboarding is done and its notices
// seen, the work folder is trusted and the key approved; ~/.claude/settings.json turns off the away
// summary (a model call of its own when the terminal loses focus) and
// holds the hooks. CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC turns off the
// auto-updater, telemetry and error reports, all of which would reach for
// the network.
func setupClaude(a *Agent, hook string) ([]string, error) {
	state := map[string]any{
		"hasCompletedOnboarding": true,
		// The announcement that auto mode is the default permission mode
		// (2.1.332 shows it on a start whose settings came from its
		// fallback, seen once in a loaded CI run) moved the screen's
		// layout: the paste then showed with the announcement's letters
		// in its blanks, and TestWindow never saw it. Seen: no show.
		"hasSeenAutoDefaultNotice": true,
		"hasSeenAutoDefaultNudge":  true,
		"numStartups":              1,
		"autoUpdates":              false,
		"customApiKeyResponses":    map[string]any{"approved": []string{mockKey[len(mockKey)-20:]}, "rejected": []string{}},
		"projects": map[string]any{a.WorkDir: map[string]any{
			"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true, "allowedTools": []string{},
		}},
	}
	if err := writeJSON(filepath.Join(a.Home, ".claude.json"), state); err != nil {
		return nil, err
	}
	settings := map[string]any{"awaySummaryEnabled": false}
	if hook != "" {
		settings["hooks"] = claudeHooks(hook, "UserPromptSubmit", "Stop")
	}
	if err := writeJSON(filepath.Join(a.Home, ".claude", "settings.json"), settings); err != nil {
		return nil, err
	}
	return []string{
		"ANTHROPIC_BASE_URL=" + a.Model.URL,
		"ANTHROPIC_API_KEY=" + mockKey,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
	}, nil
}

// setupCodex: a model provider speaking the Responses API at the mock, the
// work folder trusted, no update check; hooks in $CODEX_HOME/hooks.json,
// pre-trusted (codexHookTrust).
func setupCodex(a *Agent, hook string) ([]string, error) {
	codexHome := filepath.Join(a.Home, ".codex")
	if err := os.MkdirAll(codexHome, 0o755); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model = %q\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n\n", "mock-model")
	fmt.Fprintf(&b, "[model_providers.mock]\nname = \"mockmodel\"\nbase_url = %q\nenv_key = \"AGENTCLI_MOCK_KEY\"\nwire_api = \"responses\"\n\n", a.Model.URL+"/v1")
	fmt.Fprintf(&b, "[projects.%s]\ntrust_level = \"trusted\"\n", strconv.Quote(a.WorkDir))
	if hook != "" {
		hooksJSON := filepath.Join(codexHome, "hooks.json")
		if err := writeJSON(hooksJSON, map[string]any{"hooks": claudeHooks(hook, "UserPromptSubmit", "Stop")}); err != nil {
			return nil, err
		}
		for _, ev := range []string{"user_prompt_submit", "stop"} {
			key, hash := codexHookTrust(hooksJSON, ev, 0, 0, hook, 600)
			fmt.Fprintf(&b, "\n[hooks.state.%s]\ntrusted_hash = %q\n", strconv.Quote(key), hash)
		}
	}
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{"CODEX_HOME=" + codexHome, "AGENTCLI_MOCK_KEY=" + mockKey}, nil
}

// codexHookTrust returns the config.toml entry that marks the one command
// hook of event (snake case, "user_prompt_submit") in hooksJSON trusted, as
// Codex's /hooks "Trust all" writes it: under [hooks.state."KEY"], KEY is
// "<hooks.json path>:<event>:<group index>:<handler index>" and
// trusted_hash is "sha256:" and the hex SHA-256 of the hook's normalized
// identity as compact JSON with sorted keys: the event, and the group with
// its one handler and the defaults filled in (timeout 600, async false;
// an absent matcher is left out). From codex-rs/hooks/src/engine/discovery.rs
// (command_hook_hash) and codex-rs/config/src/fingerprint.rs
// (version_for_toml); checked against what Codex 0.171.0 wrote itself.
// A changed hook is "modified" and does not run until trusted again.
func codexHookTrust(hooksJSON, event string, group, handler int, command string, timeout float64) (key, hash string) {
	// encoding/json writes map keys sorted and compact, as the canonical
	// form wants; only its HTML escaping must go.
	identity := map[string]any{
		"event_name": event,
		"hooks":      []any{map[string]any{"type": "command", "command": command, "timeout": timeout, "async": false}},
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(identity)
	sum := sha256.Sum256([]byte(strings.TrimSuffix(b.String(), "\n")))
	return fmt.Sprintf("%s:%s:%d:%d", hooksJSON, event, group, handler), "sha256:" + hex.EncodeToString(sum[:])
}

// TrustCodexHooks trusts every command hook in the agent's
// $CODEX_HOME/hooks.json, as a person does with "Trust all" in Codex's
// /hooks (hooks written by `agentspool hooks install --for codex` run
// only then). Call it before the CLI starts (Options.BeforeStart).
func TrustCodexHooks(a *Agent) error {
	codexHome := filepath.Join(a.Home, ".codex")
	hooksJSON := filepath.Join(codexHome, "hooks.json")
	raw, err := os.ReadFile(hooksJSON)
	if err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	var file struct {
		Hooks map[string][]struct {
			Matcher *string `json:"matcher"`
			Hooks   []struct {
				Type    string   `json:"type"`
				Command string   `json:"command"`
				Timeout *float64 `json:"timeout"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return fmt.Errorf("agentcli: %s: %w", hooksJSON, err)
	}
	events := map[string]string{"UserPromptSubmit": "user_prompt_submit", "Stop": "stop"}
	var b strings.Builder
	for name, groups := range file.Hooks {
		ev, ok := events[name]
		if !ok {
			continue
		}
		for g, group := range groups {
			if group.Matcher != nil {
				return fmt.Errorf("agentcli: %s: a matcher in %s's group %d: not what codexHookTrust hashes", hooksJSON, name, g)
			}
			for h, hk := range group.Hooks {
				timeout := 600.0
				if hk.Timeout != nil {
					timeout = *hk.Timeout
				}
				key, hash := codexHookTrust(hooksJSON, ev, g, h, hk.Command, timeout)
				fmt.Fprintf(&b, "\n[hooks.state.%s]\ntrusted_hash = %q\n", strconv.Quote(key), hash)
			}
		}
	}
	f, err := os.OpenFile(filepath.Join(codexHome, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	return nil
}

// geminiLikeSettings are the settings Gemini CLI and its fork Qwen Code
// share: folder trust off (no trust dialog), no update check (it runs
// `npm view` or fetches the registry), no usage statistics or telemetry.
func geminiLikeSettings(authType string) map[string]any {
	return map[string]any{
		"security": map[string]any{
			"auth":        map[string]any{"selectedType": authType},
			"folderTrust": map[string]any{"enabled": false},
		},
		"general": map[string]any{
			"enableAutoUpdate":             false,
			"enableAutoUpdateNotification": false,
			"disableAutoUpdate":            true, // the older spelling
			"disableUpdateNag":             true,
		},
		"privacy":   map[string]any{"usageStatisticsEnabled": false},
		"telemetry": map[string]any{"enabled": false},
	}
}

// setupGemini: an API key and a base URL for the Gemini API; hooks are
// BeforeAgent (the prompt, before the turn) and AfterAgent, with timeouts
// in milliseconds.
func setupGemini(a *Agent, hook string) ([]string, error) {
	settings := geminiLikeSettings("gemini-api-key")
	if hook != "" {
		h := func() []any {
			return []any{map[string]any{"hooks": []any{map[string]any{"type": "command", "command": hook, "timeout": 60000}}}}
		}
		settings["hooks"] = map[string]any{"BeforeAgent": h(), "AfterAgent": h()}
	}
	if err := writeJSON(filepath.Join(a.Home, ".gemini", "settings.json"), settings); err != nil {
		return nil, err
	}
	return []string{"GEMINI_API_KEY=" + mockKey, "GOOGLE_GEMINI_BASE_URL=" + a.Model.URL}, nil
}

// setupQwen: an OpenAI-compatible provider (Chat Completions) at the mock;
// managed auto-memory off (a model call of its own after turns); hooks in
// Claude Code's shape and event names.
func setupQwen(a *Agent, hook string) ([]string, error) {
	settings := geminiLikeSettings("openai")
	settings["memory"] = map[string]any{"enableManagedAutoMemory": false}
	if hook != "" {
		settings["hooks"] = claudeHooks(hook, "UserPromptSubmit", "Stop")
	}
	if err := writeJSON(filepath.Join(a.Home, ".qwen", "settings.json"), settings); err != nil {
		return nil, err
	}
	return []string{"OPENAI_API_KEY=" + mockKey, "OPENAI_BASE_URL=" + a.Model.URL + "/v1", "OPENAI_MODEL=mock-model"}, nil
}

// HookEvents returns the names (hook_event_name) of the program's hook
// events that Options.Hooks installs: the one on prompt submit, whose
// payload carries the prompt, and the one at the end of the agent's turn.
func HookEvents(program string) (submit, stop string) {
	if program == Gemini {
		return "BeforeAgent", "AfterAgent"
	}
	return "UserPromptSubmit", "Stop"
}
