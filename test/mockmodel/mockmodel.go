// Package mockmodel is a model server for tests: it speaks enough of the
// Anthropic, OpenAI and Gemini APIs for the real agent CLIs to run against
// it offline, and records every prompt each CLI sent.
//
// One Server is one listener on 127.0.0.1 with a random port, for one
// agent: a test with four agents starts four, so the record tells them
// apart without trusting anything the client sends.
//
// The record is the proof of what an agent received. It keeps, once per
// main turn, the text a person (or a paste) submitted: the last user
// message of a request of the main agent loop, with the CLI's own injected
// context (Claude Code's <system-reminder> blocks, Codex's
// <environment_context>, ...) kept apart in Turn.Context. Every other
// request (title generation, quota and topic checks, Gemini's routing
// classifier and next-speaker check, model lists) is an auxiliary Call: it
// is answered at once and never counts as a turn. Main turns are told from
// auxiliary calls by what the CLIs' own main loops send and their side
// calls do not: the agent's tool set (see classify).
package mockmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultReply is the text every main turn is answered with.
const DefaultReply = "Mock reply."

// Options configures Start.
type Options struct {
	// Name is the agent's name, for logs.
	Name string
	// Reply is the model's answer to every main turn; default DefaultReply.
	Reply string
	// Delay is how long the model is "busy" on each main turn before its
	// answer starts: the CLI shows its working state meanwhile. Auxiliary
	// calls are answered at once.
	Delay time.Duration
	// Log receives one line per request (e.g. t.Logf); nil = discard.
	Log func(format string, args ...any)
}

// API names the wire protocol of a request.
const (
	Anthropic = "anthropic"        // POST /v1/messages
	Responses = "openai-responses" // POST /v1/responses
	Chat      = "openai-chat"      // POST /v1/chat/completions
	Gemini    = "gemini"           // POST /v1beta/models/M:(stream)generateContent
	Other     = "other"            // anything else
)

// Turn is one main turn: one prompt the agent's model received.
type Turn struct {
	Prompt string // the submitted text, the CLI's injected context taken out
	// Context holds the parts of the same user message that the CLI put
	// there itself (system reminders, environment context), in order.
	Context []string
	API     string
	Model   string
	At      time.Time // when the request arrived
	Call    int       // index of its request in Calls
}

// Call is one request the server got, main or not.
type Call struct {
	Method, Path string // Path includes the query
	API          string
	Main         bool   // it was a main turn (see Turns)
	Stream       bool   // the client asked for a streamed answer
	Why          string // why it was taken for auxiliary (or "main")
	Body         []byte
	At           time.Time
}

// Server is one agent's model.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:PORT", without a path.
	URL string

	name  string
	reply string
	logf  func(format string, args ...any)
	ln    net.Listener
	srv   *http.Server

	mu      sync.Mutex
	delay   time.Duration
	calls   []Call
	turns   []Turn
	changed chan struct{} // closed and replaced on every new call
}

// Start starts a server on 127.0.0.1 with a random port.
func Start(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mockmodel: %w", err)
	}
	s := &Server{
		URL:     "http://" + ln.Addr().String(),
		name:    opts.Name,
		reply:   opts.Reply,
		logf:    opts.Log,
		ln:      ln,
		delay:   opts.Delay,
		changed: make(chan struct{}),
	}
	if s.reply == "" {
		s.reply = DefaultReply
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.name == "" {
		s.name = s.URL
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server; requests under way are cut off.
func (s *Server) Close() error {
	return s.srv.Close()
}

// SetDelay changes Options.Delay for the turns that arrive from now on.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Turns returns a copy of the main turns so far, in arrival order.
func (s *Server) Turns() []Turn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.turns)
}

// Prompts returns the Prompt of each main turn so far.
func (s *Server) Prompts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.turns))
	for i, t := range s.turns {
		out[i] = t.Prompt
	}
	return out
}

// Calls returns a copy of every request so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ErrTimeout is returned by Wait when its condition did not come true in time.
var ErrTimeout = errors.New("mockmodel: timed out")

// Wait blocks until cond, called with the turns so far after every
// request, returns true, or until timeout.
func (s *Server) Wait(timeout time.Duration, cond func([]Turn) bool) error {
	return waitFor(s, timeout, "turns", func() []Turn { return s.turns }, cond)
}

// WaitCalls is Wait for a condition on every request.
func (s *Server) WaitCalls(timeout time.Duration, cond func([]Call) bool) error {
	return waitFor(s, timeout, "calls", func() []Call { return s.calls }, cond)
}

// waitFor is Wait on the record list returns (read under s.mu), named
// what in its timeout error.
func waitFor[T any](s *Server, timeout time.Duration, what string, list func() []T, cond func([]T) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := slices.Clone(list()), s.changed
		s.mu.Unlock()
		if cond(got) {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("%w after %v (%s has %d %s)", ErrTimeout, timeout, s.name, len(got), what)
		}
	}
}

// record adds c (and its turn, if main) and wakes the waiters.
func (s *Server) record(c Call, t *Turn) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t != nil {
		t.Call = len(s.calls)
		s.turns = append(s.turns, *t)
	}
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
	return s.delay
}

// maxBody bounds one request body; the CLIs' largest, a main turn with the
// whole tool set and system prompt, is a few hundred KiB.
const maxBody = 32 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := Call{Method: r.Method, Path: r.URL.RequestURI(), Body: body, At: time.Now()}
	api, model, action := route(r)
	c.API = api
	var req request
	if api != Other && r.Method == http.MethodPost {
		if err := json.Unmarshal(body, &req.raw); err != nil {
			s.record(c, nil)
			s.logf("mockmodel %s: %s %s: bad JSON: %v", s.name, r.Method, c.Path, err)
			writeError(w, api, http.StatusBadRequest, "bad JSON: "+err.Error())
			return
		}
		req.api, req.action = api, action
		if model == "" {
			model, _ = req.raw["model"].(string)
		}
		req.model = model
	}
	if api == Other || r.Method != http.MethodPost {
		s.record(c, nil)
		s.logf("mockmodel %s: %s %s (not a model call)", s.name, r.Method, c.Path)
		s.serveOther(w, r, model)
		return
	}
	c.Stream = req.stream()
	var turn *Turn
	if why, msg, ok := classify(&req); ok {
		c.Main, c.Why = true, "main"
		turn = &Turn{Prompt: msg.prompt, Context: msg.context, API: api, Model: model, At: c.At}
	} else {
		c.Why = why
	}
	delay := s.record(c, turn)
	if turn != nil {
		s.logf("mockmodel %s: main turn %s %s: %q (context: %d parts)", s.name, api, c.Path, turn.Prompt, len(turn.Context))
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		s.answer(w, &req, s.reply)
		return
	}
	s.logf("mockmodel %s: auxiliary %s %s (%s)", s.name, api, c.Path, c.Why)
	s.answer(w, &req, auxReply(&req))
}

// route tells the API of a request from its path. For Gemini it also
// returns the model and the action (generateContent, ...) from the path.
func route(r *http.Request) (api, model, action string) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/v1/messages/count_tokens"):
		return Anthropic, "", "count_tokens"
	case strings.HasSuffix(p, "/v1/messages"):
		return Anthropic, "", "messages"
	case strings.HasSuffix(p, "/responses"):
		return Responses, "", "responses"
	case strings.HasSuffix(p, "/chat/completions"):
		return Chat, "", "chat"
	}
	if i := strings.LastIndex(p, "/models/"); i >= 0 {
		if m, act, ok := strings.Cut(p[i+len("/models/"):], ":"); ok {
			return Gemini, m, act
		}
	}
	return Other, "", ""
}

// serveOther answers what is not a model call: model lists with the one
// model asked for (or a generic one), anything else a JSON 404.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request, model string) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && (strings.HasSuffix(p, "/models") || strings.HasSuffix(p, "/v1beta/models")):
		writeJSON(w, http.StatusOK, modelList(p))
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"type": "not_found_error", "message": "mockmodel: no such endpoint: " + r.Method + " " + p, "code": 404,
		}})
	}
}

func modelList(path string) any {
	if strings.Contains(path, "v1beta") {
		return map[string]any{"models": []any{map[string]any{
			"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro",
			"supportedGenerationMethods": []string{"generateContent", "streamGenerateContent", "countTokens"},
		}}}
	}
	return map[string]any{"object": "list", "data": []any{
		map[string]any{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mockmodel"},
	}}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, api string, code int, msg string) {
	if api == Anthropic {
		writeJSON(w, code, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": msg}})
		return
	}
	writeJSON(w, code, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": code}})
}
