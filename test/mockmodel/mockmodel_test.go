package mockmodel

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Log = t.Logf
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// post sends body and returns the response's status, content type and body.
func post(t *testing.T, url, body string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

type sse struct {
	name string
	data string
}

// parseSSE splits a body into events as an EventSource client does.
func parseSSE(t *testing.T, body []byte) []sse {
	t.Helper()
	var events []sse
	var cur sse
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.data != "" {
				events = append(events, cur)
			}
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	if cur.data != "" {
		t.Fatalf("last event not ended by a blank line: %+v", cur)
	}
	return events
}

func decode(t *testing.T, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("event data %q: %v", data, err)
	}
	return m
}

// Claude Code's SDK reads message_start, a text block's start, deltas and
// stop, message_delta and message_stop; each event's name is its data's
// type.
func TestAnthropicStream(t *testing.T) {
	s := start(t, Options{Reply: "hi there"})
	code, ctype, body := post(t, s.URL+"/v1/messages?beta=true", `{"model":"m","stream":true,"tools":[{"name":"Bash"}],
		"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>\nctx\n</system-reminder>\n"},{"type":"text","text":"do it"}]},
		{"role":"system","content":[{"type":"text","text":"# Environment"}]}]}`)
	if code != 200 || ctype != "text/event-stream" {
		t.Fatalf("status %d, content type %q", code, ctype)
	}
	var names []string
	text := ""
	for _, e := range parseSSE(t, body) {
		m := decode(t, e.data)
		if m["type"] != e.name {
			t.Errorf("event %s has type %v", e.name, m["type"])
		}
		names = append(names, e.name)
		if d, ok := m["delta"].(map[string]any); ok && d["type"] == "text_delta" {
			text += d["text"].(string)
		}
		if e.name == "message_delta" && m["delta"].(map[string]any)["stop_reason"] != "end_turn" {
			t.Errorf("message_delta without stop_reason end_turn: %v", m)
		}
	}
	want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if !slices.Equal(names, want) {
		t.Errorf("events %v, want %v", names, want)
	}
	if text != "hi there" {
		t.Errorf("streamed text %q", text)
	}
	turns := s.Turns()
	if len(turns) != 1 || turns[0].Prompt != "do it" || len(turns[0].Context) != 2 || turns[0].API != Anthropic {
		t.Errorf("turns %+v, want one with prompt %q and the reminder and environment as context", turns, "do it")
	}
}

func TestAnthropicAuxiliary(t *testing.T) {
	s := start(t, Options{Delay: time.Hour}) // a side call never waits
	_, _, body := post(t, s.URL+"/v1/messages", `{"model":"haiku","max_tokens":1,"messages":[{"role":"user","content":"quota"}]}`)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m["type"] != "message" || m["stop_reason"] != "end_turn" {
		t.Fatalf("non-streamed answer %s (%v)", body, err)
	}
	_, _, body = post(t, s.URL+"/v1/messages/count_tokens", `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if !strings.Contains(string(body), `"input_tokens"`) {
		t.Errorf("count_tokens answered %s", body)
	}
	if n := len(s.Turns()); n != 0 {
		t.Errorf("%d turns from side calls", n)
	}
	if calls := s.Calls(); len(calls) != 2 || calls[0].Main || calls[0].Why != "no tools" {
		t.Errorf("calls %+v", calls)
	}
}

// Codex keeps the message of response.output_item.done and ends the turn
// on response.completed; its title call asks for JSON with a title.
func TestResponsesStream(t *testing.T) {
	s := start(t, Options{})
	_, _, body := post(t, s.URL+"/v1/responses", `{"model":"m","stream":true,"tools":[{"type":"function","name":"shell"}],"input":[
		{"type":"message","role":"developer","content":[{"type":"input_text","text":"You are Codex"}]},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"}]},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"fix the bug"}]}]}`)
	events := parseSSE(t, body)
	if len(events) == 0 || events[0].name != "response.created" || events[len(events)-1].name != "response.completed" {
		t.Fatalf("events %v", events)
	}
	var done map[string]any
	for i, e := range events {
		m := decode(t, e.data)
		if m["type"] != e.name || m["sequence_number"] != float64(i) {
			t.Errorf("event %d %s: type %v, sequence_number %v", i, e.name, m["type"], m["sequence_number"])
		}
		if e.name == "response.output_item.done" {
			done = m["item"].(map[string]any)
		}
	}
	if done == nil || done["content"].([]any)[0].(map[string]any)["text"] != DefaultReply {
		t.Errorf("output_item.done item %v", done)
	}
	if p := s.Prompts(); !slices.Equal(p, []string{"fix the bug"}) {
		t.Errorf("prompts %q", p)
	}
	_, _, body = post(t, s.URL+"/v1/responses", `{"model":"m","stream":true,"tools":[],"text":{"format":{"type":"json_schema","name":"codex_output_schema"}},
		"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"Generate a concise title"}]}]}`)
	var title struct{ Title string }
	for _, e := range parseSSE(t, body) {
		if e.name == "response.output_text.done" {
			if err := json.Unmarshal([]byte(decode(t, e.data)["text"].(string)), &title); err != nil {
				t.Fatal(err)
			}
		}
	}
	if title.Title == "" || len(s.Turns()) != 1 {
		t.Errorf("title call: title %q, %d turns", title.Title, len(s.Turns()))
	}
}

// Qwen Code streams Chat Completions with stream_options.include_usage.
func TestChatStream(t *testing.T) {
	s := start(t, Options{Reply: "ok"})
	_, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function"}],
		"messages":[{"role":"system","content":"You are Qwen Code"},{"role":"user","content":[{"type":"text","text":"<system-reminder>skills</system-reminder>"},{"type":"text","text":"hello"}]}]}`)
	events := parseSSE(t, body)
	if len(events) != 5 || events[4].data != "[DONE]" {
		t.Fatalf("events %v", events)
	}
	text, finish := "", ""
	for _, e := range events[:3] {
		c := decode(t, e.data)["choices"].([]any)[0].(map[string]any)
		if s, ok := c["delta"].(map[string]any)["content"].(string); ok {
			text += s
		}
		if f, ok := c["finish_reason"].(string); ok {
			finish = f
		}
	}
	if text != "ok" || finish != "stop" || decode(t, events[3].data)["usage"] == nil {
		t.Errorf("text %q, finish %q, usage chunk %s", text, finish, events[3].data)
	}
	if p := s.Prompts(); !slices.Equal(p, []string{"hello"}) {
		t.Errorf("prompts %q", p)
	}
	// A tool result ends a request too: it is no new prompt.
	post(t, s.URL+"/v1/chat/completions", `{"model":"m","stream":true,"tools":[{"type":"function"}],"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":""},{"role":"tool","content":"out"}]}`)
	if n := len(s.Turns()); n != 1 {
		t.Errorf("%d turns after a tool result", n)
	}
}

// Gemini CLI streams its main turn and wants a finish reason at the end;
// its routing classifier (generateContent) wants JSON text it can parse.
func TestGemini(t *testing.T) {
	s := start(t, Options{})
	_, _, body := post(t, s.URL+"/v1beta/models/gemini-x:streamGenerateContent?alt=sse", `{"tools":[{"functionDeclarations":[]}],
		"contents":[{"role":"user","parts":[{"text":"<session_context>\nThis is the Gemini CLI.\n</session_context>"},{"text":"hi gemini"}]}]}`)
	events := parseSSE(t, body)
	last := decode(t, events[len(events)-1].data)["candidates"].([]any)[0].(map[string]any)
	if last["finishReason"] != "STOP" {
		t.Errorf("last chunk %v", last)
	}
	_, ctype, body := post(t, s.URL+"/v1beta/models/gemini-lite:generateContent", `{"generationConfig":{"responseMimeType":"application/json"},
		"contents":[{"role":"user","parts":[{"text":"hi gemini"}]}]}`)
	var resp struct {
		Candidates []struct {
			Content struct{ Parts []struct{ Text string } }
		}
	}
	if err := json.Unmarshal(body, &resp); err != nil || ctype != "application/json" || len(resp.Candidates) != 1 {
		t.Fatalf("generateContent answered %s (%v)", body, err)
	}
	var route struct {
		ModelChoice     string `json:"model_choice"`
		ComplexityScore int    `json:"complexity_score"`
		NextSpeaker     string `json:"next_speaker"`
	}
	if err := json.Unmarshal([]byte(resp.Candidates[0].Content.Parts[0].Text), &route); err != nil ||
		route.ModelChoice == "" || route.ComplexityScore == 0 || route.NextSpeaker != "user" {
		t.Errorf("classifier answer %q (%v)", resp.Candidates[0].Content.Parts[0].Text, err)
	}
	if p := s.Prompts(); !slices.Equal(p, []string{"hi gemini"}) {
		t.Errorf("prompts %q: the classifier call must not count", p)
	}
}

// Delay holds back the answer of a main turn (the agent is busy), and the
// turn is on record as soon as the request arrived.
func TestDelay(t *testing.T) {
	s := start(t, Options{Delay: 300 * time.Millisecond})
	begin := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Post(s.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","stream":true,"tools":[{}],"messages":[{"role":"user","content":"busy?"}]}`))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	if err := s.Wait(5*time.Second, func(turns []Turn) bool { return len(turns) == 1 }); err != nil {
		t.Fatal(err)
	}
	<-done
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Errorf("answered after %v, want at least the 300ms delay", d)
	}
}

func TestUnknown(t *testing.T) {
	s := start(t, Options{})
	resp, err := http.Get(s.URL + "/api/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("status %d", resp.StatusCode)
	}
	resp, err = http.Get(s.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("model list: status %d", resp.StatusCode)
	}
	if c := s.Calls(); len(c) != 2 || c[0].API != Other || c[0].Path != "/api/hello" {
		t.Errorf("calls %+v", c)
	}
}
