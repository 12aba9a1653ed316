package mockmodel

import (
	"encoding/json"
	"regexp"
	"strings"
)

// request is a model call, parsed only as far as the server needs.
type request struct {
	api, action, model string
	raw                map[string]any
}

func (r *request) stream() bool {
	switch r.api {
	case Gemini:
		return r.action == "streamGenerateContent"
	default:
		b, _ := r.raw["stream"].(bool)
		return b
	}
}

// tools reports whether the request offers the model any tool: the main
// loops of all four CLIs always do, and their side calls never (their
// answers are text or JSON the CLI parses itself).
func (r *request) tools() bool {
	t, _ := r.raw["tools"].([]any)
	return len(t) > 0
}

// wantsJSON reports whether the client asked for a JSON answer: Gemini's
// responseMimeType/responseSchema (its routing classifier, next-speaker
// and loop checks), OpenAI's response_format or text.format, Anthropic's
// output_format.
func (r *request) wantsJSON() bool {
	if gc, ok := r.raw["generationConfig"].(map[string]any); ok {
		if mt, _ := gc["responseMimeType"].(string); strings.Contains(mt, "json") {
			return true
		}
		if gc["responseSchema"] != nil || gc["responseJsonSchema"] != nil {
			return true
		}
	}
	if rf, ok := r.raw["response_format"].(map[string]any); ok {
		if t, _ := rf["type"].(string); t != "text" {
			return true
		}
	}
	if tx, ok := r.raw["text"].(map[string]any); ok {
		if f, ok := tx["format"].(map[string]any); ok {
			if t, _ := f["type"].(string); t != "" && t != "text" {
				return true
			}
		}
	}
	return r.raw["output_format"] != nil
}

// userMessage is the last user message of a request, split into what was
// submitted and what the CLI added.
type userMessage struct {
	prompt  string
	context []string
}

// classify decides whether a request is a main turn and, if so, returns
// its user message; else why it is auxiliary.
func classify(r *request) (why string, msg userMessage, ok bool) {
	switch r.action {
	case "count_tokens", "countTokens":
		return "token count", msg, false
	case "generateContent":
		// Gemini CLI's main loop always streams; generateContent is its
		// routing classifier, next-speaker and loop checks, summaries.
		return "gemini generateContent", msg, false
	}
	if !r.tools() {
		return "no tools", msg, false
	}
	parts, role, trailing, last := r.lastMessage()
	if !last {
		return "no messages", msg, false
	}
	if role != "user" {
		return "last message is " + role, msg, false
	}
	if parts == nil {
		return "last user message has no text (a tool result)", msg, false
	}
	msg = split(parts)
	msg.context = append(msg.context, trailing...)
	if msg.prompt == "" {
		return "last user message is only injected context", msg, false
	}
	if strings.HasPrefix(msg.prompt, "[SUGGESTION MODE:") {
		// Qwen Code's follow-up suggestion (on by default): after a turn
		// it asks what the person might type next, with the tools.
		return "follow-up suggestion", msg, false
	}
	return "", msg, true
}

// lastMessage returns the text parts and role of the request's last
// message (input item, content), and the text of the system or developer
// messages that follow it: Claude Code puts its environment in a "system"
// message after the user's. parts is nil when that message carries no
// text but tool results.
func (r *request) lastMessage() (parts []string, role string, trailing []string, ok bool) {
	var list []any
	switch r.api {
	case Anthropic, Chat:
		list, _ = r.raw["messages"].([]any)
	case Responses:
		switch in := r.raw["input"].(type) {
		case string:
			return []string{in}, "user", nil, true
		case []any:
			list = in
		}
	case Gemini:
		list, _ = r.raw["contents"].([]any)
	}
	for i := len(list) - 1; i >= 0; i-- {
		m, _ := list[i].(map[string]any)
		role, _ = m["role"].(string)
		if r.api == Responses {
			if t, _ := m["type"].(string); t != "" && t != "message" {
				return nil, t, trailing, true // function_call_output, reasoning, ...
			}
		}
		if r.api == Chat && role == "tool" {
			return nil, role, trailing, true
		}
		parts = textParts(m)
		if (role == "system" || role == "developer") && i > 0 {
			trailing = append(parts, trailing...)
			continue
		}
		return parts, role, trailing, true
	}
	return nil, "", nil, false
}

// textParts returns the text parts of one message, input item or content.
func textParts(m map[string]any) []string {
	var parts []string
	switch c := firstOf(m, "content", "parts").(type) {
	case string:
		return []string{c}
	case []any:
		for _, p := range c {
			pm, _ := p.(map[string]any)
			if t, ok := pm["text"].(string); ok {
				if typ, _ := pm["type"].(string); typ == "" || typ == "text" || typ == "input_text" {
					parts = append(parts, t)
				}
			}
		}
	}
	return parts
}

func firstOf(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// contextTags are the XML-ish wrappers the CLIs put around what they add to
// a user message themselves: Claude Code's reminders, Codex's environment
// and instructions, Gemini CLI's session context.
var contextTags = []string{"system-reminder", "environment_context", "user_instructions", "session_context", "user_shell_command", "turn_aborted"}

var contextRE = func() *regexp.Regexp {
	alt := strings.Join(contextTags, "|")
	return regexp.MustCompile(`(?s)<(` + alt + `)>.*?</(?:` + alt + `)>`)
}()

// split separates the submitted text of a user message from the context
// the CLI wrapped in one of contextTags, in a part of its own or inside
// the text. Codex's "# AGENTS.md instructions" part counts as context too.
func split(parts []string) userMessage {
	var m userMessage
	var kept []string
	for _, p := range parts {
		if strings.HasPrefix(p, "# AGENTS.md instructions") {
			m.context = append(m.context, p)
			continue
		}
		rest := contextRE.ReplaceAllStringFunc(p, func(block string) string {
			m.context = append(m.context, block)
			return ""
		})
		if rest = strings.TrimSpace(rest); rest != "" {
			kept = append(kept, rest)
		}
	}
	m.prompt = strings.Join(kept, "\n")
	return m
}

// auxJSON answers every JSON side call of the CLIs at once: Gemini CLI's
// routing classifiers (model_choice; complexity_score), its next-speaker
// check (the user speaks next, so it never sends "Please continue."), its
// loop check, and the title and topic checks of the others. Each parser
// reads its own fields.
var auxJSON = func() string {
	b, _ := json.Marshal(map[string]any{
		"reasoning":                     "mockmodel",
		"model_choice":                  "flash",
		"complexity_reasoning":          "mockmodel",
		"complexity_score":              1,
		"next_speaker":                  "user",
		"unproductive_state_confidence": 0,
		"unproductive_state_analysis":   "mockmodel",
		"isNewTopic":                    false,
		"title":                         "Mock title",
	})
	return string(b)
}()

// auxText answers the plain-text side calls.
const auxText = "Mock title"

func auxReply(r *request) string {
	if r.wantsJSON() {
		return auxJSON
	}
	return auxText
}
