package mockmodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

var ids atomic.Int64

func nextID(prefix string) string { return fmt.Sprintf("%s_mock%06d", prefix, ids.Add(1)) }

// tokens is a rough token count for usage fields: clients show it, none
// checks it.
func tokens(s string) int { return len(s)/4 + 1 }

// answer writes text as the reply to r, in r's protocol, streamed if r
// asked for a stream.
func (s *Server) answer(w http.ResponseWriter, r *request, text string) {
	var events []event
	switch {
	case r.api == Anthropic && r.action == "count_tokens":
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": 100})
		return
	case r.api == Gemini && r.action == "countTokens":
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": 100})
		return
	case r.api == Anthropic && !r.stream():
		writeJSON(w, http.StatusOK, anthropicMessage(r.model, text))
		return
	case r.api == Anthropic:
		events = AnthropicStream(r.model, text)
	case r.api == Responses && !r.stream():
		writeJSON(w, http.StatusOK, responsesObject(r.model, text, nextID("resp"), nextID("msg")))
		return
	case r.api == Responses:
		events = ResponsesStream(r.model, text)
	case r.api == Chat && !r.stream():
		writeJSON(w, http.StatusOK, chatCompletion(r.model, text))
		return
	case r.api == Chat:
		events = ChatStream(r.model, text, includeUsage(r))
	case r.api == Gemini && r.action == "generateContent":
		writeJSON(w, http.StatusOK, geminiChunk(r.model, text, true))
		return
	case r.api == Gemini && r.action == "streamGenerateContent":
		events = GeminiStream(r.model, text)
	default:
		writeError(w, r.api, http.StatusNotFound, "mockmodel: no such action: "+r.action)
		return
	}
	writeSSE(w, events)
}

func includeUsage(r *request) bool {
	so, _ := r.raw["stream_options"].(map[string]any)
	b, _ := so["include_usage"].(bool)
	return b
}

// event is one server-sent event: an optional event name and its data,
// a JSON value or a literal string ("[DONE]").
type event struct {
	Name string
	Data any
}

// Encode returns the event as it goes on the wire.
func (e event) Encode() []byte {
	var data []byte
	if s, ok := e.Data.(string); ok {
		data = []byte(s)
	} else {
		data, _ = json.Marshal(e.Data)
	}
	var out []byte
	if e.Name != "" {
		out = append(out, "event: "+e.Name+"\n"...)
	}
	out = append(out, "data: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

func writeSSE(w http.ResponseWriter, events []event) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	for _, e := range events {
		if _, err := w.Write(e.Encode()); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
	}
}

// AnthropicStream is the Messages API's event sequence for one text
// answer: message_start, one text block (start, delta, stop),
// message_delta with the stop reason, message_stop. Claude Code's SDK
// takes the message from message_start and ends the turn on
// message_stop.
func AnthropicStream(model, text string) []event {
	id := nextID("msg")
	return []event{
		{"message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
			"stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 100, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
		}}},
		{"content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}}},
		{"ping", map[string]any{"type": "ping"}},
		{"content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": text}}},
		{"content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}},
		{"message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]any{"output_tokens": tokens(text)}}},
		{"message_stop", map[string]any{"type": "message_stop"}},
	}
}

func anthropicMessage(model, text string) map[string]any {
	return map[string]any{
		"id": nextID("msg"), "type": "message", "role": "assistant", "model": model,
		"content":     []any{map[string]any{"type": "text", "text": text}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 100, "output_tokens": tokens(text)},
	}
}

// ResponsesStream is the Responses API's event sequence for one text
// answer. Codex needs response.output_item.done (the message it keeps in
// its history) and response.completed (without it, "stream disconnected
// before completion" and a retry); the deltas are what its TUI shows while
// the answer streams.
func ResponsesStream(model, text string) []event {
	respID, msgID := nextID("resp"), nextID("msg")
	part := map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
	item := map[string]any{"id": msgID, "type": "message", "status": "completed", "role": "assistant", "content": []any{part}}
	inProgress := map[string]any{"id": respID, "object": "response", "created_at": time.Now().Unix(), "status": "in_progress", "model": model, "output": []any{}}
	seq := 0
	ev := func(typ string, fields map[string]any) event {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		return event{typ, fields}
	}
	return []event{
		ev("response.created", map[string]any{"response": inProgress}),
		ev("response.in_progress", map[string]any{"response": inProgress}),
		ev("response.output_item.added", map[string]any{"output_index": 0, "item": map[string]any{
			"id": msgID, "type": "message", "status": "in_progress", "role": "assistant", "content": []any{}}}),
		ev("response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0,
			"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}}),
		ev("response.output_text.delta", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "delta": text}),
		ev("response.output_text.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "text": text}),
		ev("response.content_part.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": part}),
		ev("response.output_item.done", map[string]any{"output_index": 0, "item": item}),
		ev("response.completed", map[string]any{"response": responsesObject(model, text, respID, msgID)}),
	}
}

func responsesObject(model, text, respID, msgID string) map[string]any {
	part := map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
	return map[string]any{
		"id": respID, "object": "response", "created_at": time.Now().Unix(), "status": "completed", "model": model,
		"output": []any{map[string]any{"id": msgID, "type": "message", "status": "completed", "role": "assistant", "content": []any{part}}},
		"usage": map[string]any{
			"input_tokens": 100, "input_tokens_details": map[string]any{"cached_tokens": 0},
			"output_tokens": tokens(text), "output_tokens_details": map[string]any{"reasoning_tokens": 0},
			"total_tokens": 100 + tokens(text),
		},
	}
}

// ChatStream is Chat Completions' chunk sequence for one text answer: the
// role, the content, the finish reason, the usage chunk when the client
// asked for it (stream_options.include_usage), and [DONE].
func ChatStream(model, text string, usage bool) []event {
	id, created := nextID("chatcmpl"), time.Now().Unix()
	chunk := func(delta map[string]any, finish any) event {
		return event{"", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}}
	}
	events := []event{
		chunk(map[string]any{"role": "assistant", "content": ""}, nil),
		chunk(map[string]any{"content": text}, nil),
		chunk(map[string]any{}, "stop"),
	}
	if usage {
		events = append(events, event{"", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{}, "usage": chatUsage(text)}})
	}
	return append(events, event{"", "[DONE]"})
}

func chatUsage(text string) map[string]any {
	return map[string]any{"prompt_tokens": 100, "completion_tokens": tokens(text), "total_tokens": 100 + tokens(text)}
}

func chatCompletion(model, text string) map[string]any {
	return map[string]any{
		"id": nextID("chatcmpl"), "object": "chat.completion", "created": time.Now().Unix(), "model": model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
		"usage":   chatUsage(text),
	}
}

// GeminiStream is streamGenerateContent?alt=sse for one text answer: a
// chunk with the text, then one with finishReason STOP and the usage.
// Gemini CLI takes a stream that ends without a finish reason for an
// invalid stream and retries it.
func GeminiStream(model, text string) []event {
	return []event{
		{"", geminiChunk(model, text, false)},
		{"", geminiChunk(model, "", true)},
	}
}

func geminiChunk(model, text string, final bool) map[string]any {
	cand := map[string]any{"index": 0, "content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}}
	c := map[string]any{"candidates": []any{cand}, "modelVersion": model}
	if final {
		cand["finishReason"] = "STOP"
		c["usageMetadata"] = map[string]any{"promptTokenCount": 100, "candidatesTokenCount": tokens(text), "totalTokenCount": 100 + tokens(text)}
	}
	return c
}
