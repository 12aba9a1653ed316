package config

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/agentspool/agentspool/internal/safeio"
	"gopkg.in/yaml.v3"
)

// The schema of coords.yaml is one table of directives, as maddy reads its
// configuration: every key, where it may be written, how its value is read
// and checked, its default, and where it is stored. The parse loop, the
// lists of known keys in the unknown-key errors, DefaultAgentSettings and
// the defaults of a Config all come from it. The rules that join keys
// (urgent_submit following submit, kind terminal and its checks, an agent's
// window, class or pid) are small functions in parse.go, after the walk.

// scope is where in the file a key may be written.
type scope uint8

const (
	atTop      scope = 1 << iota // the file's top level
	inTiming                     // under timing:
	inDefaults                   // under defaults:
	inAgent                      // under agents.NAME:

	// inSettings are the agent settings: under defaults:, and per agent.
	inSettings = inDefaults | inAgent
)

// dest is what a directive stores into: the Config, the Timing or the
// settings being built, or the Agent. dir is the base of relative paths.
type dest struct {
	dir string
	c   *Config
	t   *Timing
	s   *settings
	a   *Agent
}

// A directive is one key of the file.
type directive struct {
	name string
	in   scope
	// section: the key holds a mapping of other keys (timing, defaults,
	// agents), read by the parse loop itself.
	section bool
	// required: an agent without the key is an error (x, y).
	required bool
	// read reads the value at n, checks it and stores it in d; false when
	// it recorded an error (and stored nothing).
	read func(p *parser, n *yaml.Node, key string, d dest) bool
	// reset stores the key's default in d (nil for a section and for
	// window:, whose default is the zero value).
	reset func(d dest)
}

// value reads one kind of value from its node, recording any error.
type value[T any] func(p *parser, n *yaml.Node, key string) (T, bool)

// field is where a directive stores its value, found from the dest.
type field[T any] func(d dest) *T

func directiveOf[T any](name string, in scope, read value[T], def T, at field[T]) directive {
	return directive{name: name, in: in,
		read: func(p *parser, n *yaml.Node, key string, d dest) bool {
			v, ok := read(p, n, key)
			if ok {
				*at(d) = v
			}
			return ok
		},
		reset: func(d dest) { *at(d) = def },
	}
}

// top is a key at the file's top level, stored in the Config.
func top[T any](name string, read value[T], def T, at func(c *Config) *T) directive {
	return directiveOf(name, atTop, read, def, func(d dest) *T { return at(d.c) })
}

// topPath is a path at the top level whose default is relative to the
// file's directory.
func topPath(name string, emptyOK bool, def string, at func(c *Config) *string) directive {
	d := top(name, filePath(emptyOK), "", at)
	if def != "" {
		d.reset = func(d dest) { *at(d.c) = filepath.Join(d.dir, def) }
	}
	return d
}

// timingKey is a bound under timing:.
func timingKey(name string, def time.Duration, at func(t *Timing) *time.Duration) directive {
	return directiveOf(name, inTiming, duration(false), def, func(d dest) *time.Duration { return at(d.t) })
}

// setting is an agent setting, written under defaults: or per agent.
func setting[T any](name string, read value[T], def T, at func(s *AgentSettings) *T) directive {
	return directiveOf(name, inSettings, read, def, func(d dest) *T { return at(&d.s.AgentSettings) })
}

// agentKey is a key only an agent has; its default is the zero value.
func agentKey[T any](name string, read value[T], at func(a *Agent) *T) directive {
	var zero T
	return directiveOf(name, inAgent, read, zero, func(d dest) *T { return at(d.a) })
}

func section(name string) directive { return directive{name: name, in: atTop, section: true} }

func mandatory(d directive) directive { d.required = true; return d }

// The kinds of value.

func str(p *parser, n *yaml.Node, key string) (string, bool)      { return p.str(n, key) }
func boolean(p *parser, n *yaml.Node, key string) (bool, bool)    { return p.boolean(n, key) }
func keyCombo(p *parser, n *yaml.Node, key string) (string, bool) { return p.keyCombo(n, key) }

// duration is a Go duration, more than 0 or, when zeroOK, at least 0.
func duration(zeroOK bool) value[time.Duration] {
	return func(p *parser, n *yaml.Node, key string) (time.Duration, bool) { return p.duration(n, key, zeroOK) }
}

// integer is a whole number in min..max.
func integer[T int | int64](min, max int64) value[T] {
	return func(p *parser, n *yaml.Node, key string) (T, bool) {
		v, ok := p.integer(n, key, min, max)
		return T(v), ok
	}
}

// filePath is a path, resolved against the file's directory; "" only
// when emptyOK.
func filePath(emptyOK bool) value[string] {
	return func(p *parser, n *yaml.Node, key string) (string, bool) { return p.path(n, key, emptyOK) }
}

// choice is one allowed value of an enum: as written, and as stored.
type choice struct{ written, stored string }

// oneOf is a string that must be one of choices; else the error is
// `bad NOUN "v": want WANT`.
func oneOf(noun, want string, choices ...choice) value[string] {
	return func(p *parser, n *yaml.Node, key string) (string, bool) {
		v, ok := p.str(n, key)
		if !ok {
			return "", false
		}
		for _, c := range choices {
			if v == c.written {
				return c.stored, true
			}
		}
		p.errf(n, key, "bad %s %q: want %s", noun, v, want)
		return "", false
	}
}

// convert reads a value, then checks or converts it; conv's error is the
// message.
func convert[T, U any](read value[T], conv func(T) (U, error)) value[U] {
	return func(p *parser, n *yaml.Node, key string) (U, bool) {
		var zero U
		v, ok := read(p, n, key)
		if !ok {
			return zero, false
		}
		u, err := conv(v)
		if err != nil {
			p.errf(n, key, "%v", err)
			return zero, false
		}
		return u, true
	}
}

// Defaults of the top-level keys, exported for the CLI; the table below
// cites them. The agent settings' defaults are in the table itself.
const (
	DefaultSpool           = "./spool"
	DefaultInboxRoot       = "./agent_workspaces"
	DefaultMaxMessageBytes = safeio.DefaultMaxMessageBytes // the spool's too
	MaxMaxMessageBytes     = 16 << 20
	DefaultEnvelope        = "[agentspool id={{.ID}} from={{.From}} to={{.To}}]"
	DefaultScanInterval    = 2 * time.Second
	DefaultQuietFor        = 2 * time.Second
	DefaultQuietMaxWait    = 2 * time.Minute
	DefaultTimingMin       = 5 * time.Millisecond
	DefaultTimingMax       = 5 * time.Second
)

// directives is the schema. Its order is that of the known keys in the
// unknown-key errors: an agent's own keys come before the settings.
var directives = []directive{
	topPath("spool", false, DefaultSpool, func(c *Config) *string { return &c.Spool }),
	topPath("inbox_root", false, DefaultInboxRoot, func(c *Config) *string { return &c.InboxRoot }),
	topPath("lock_file", true, "", func(c *Config) *string { return &c.LockFile }),
	top("max_message_bytes", integer[int64](1, MaxMaxMessageBytes), DefaultMaxMessageBytes, func(c *Config) *int64 { return &c.MaxMessageBytes }),
	top("envelope", convert(str, checkEnvelope), DefaultEnvelope, func(c *Config) *string { return &c.Envelope }),
	section("timing"),
	top("scan_interval", duration(false), DefaultScanInterval, func(c *Config) *time.Duration { return &c.ScanInterval }),
	top("quiet_for", duration(true), DefaultQuietFor, func(c *Config) *time.Duration { return &c.QuietFor }),
	top("quiet_max_wait", duration(true), DefaultQuietMaxWait, func(c *Config) *time.Duration { return &c.QuietMaxWait }),
	top("metrics", convert(str, metricsAddr), "", func(c *Config) *string { return &c.Metrics }),
	top("alert_command", convert(str, trimSpace), "", func(c *Config) *string { return &c.AlertCommand }),
	section("defaults"),
	section("agents"),

	timingKey("min", DefaultTimingMin, func(t *Timing) *time.Duration { return &t.Min }),
	timingKey("max", DefaultTimingMax, func(t *Timing) *time.Duration { return &t.Max }),

	mandatory(agentKey("x", integer[int](math.MinInt32, math.MaxInt32), func(a *Agent) *int { return &a.X })),
	mandatory(agentKey("y", integer[int](math.MinInt32, math.MaxInt32), func(a *Agent) *int { return &a.Y })),
	{name: "window", in: inAgent, read: func(p *parser, n *yaml.Node, key string, d dest) bool { return p.window(n, key, d.a) }},
	agentKey("class", convert(str, checkClass), func(a *Agent) *string { return &a.Class }),
	agentKey("pid", integer[int](0, math.MaxInt32), func(a *Agent) *int { return &a.PID }),
	agentKey("tmux", convert(str, checkTmuxTarget), func(a *Agent) *string { return &a.Tmux }),
	agentKey("tmux_socket", filePath(false), func(a *Agent) *string { return &a.TmuxSocket }),
	agentKey("tmux_bracketed", boolean, func(a *Agent) *bool { return &a.TmuxBracketed }),
	agentKey("inbox", filePath(false), func(a *Agent) *string { return &a.Inbox }),
	agentKey("ack_pattern", convert(str, AckPattern), func(a *Agent) **regexp.Regexp { return &a.AckPattern }),

	setting("submit", keyCombo, "enter", func(s *AgentSettings) *string { return &s.Submit }),
	// Not written, urgent_submit is submit's (settings.resolved).
	setting("urgent_submit", keyCombo, "", func(s *AgentSettings) *string { return &s.UrgentSubmit }),
	setting("undo", keyCombo, "ctrl+z", func(s *AgentSettings) *string { return &s.Undo }),
	setting("ack", boolean, true, func(s *AgentSettings) *bool { return &s.Ack }),
	setting("ack_timeout", duration(false), 30*time.Second, func(s *AgentSettings) *time.Duration { return &s.AckTimeout }),
	setting("max_attempts", integer[int](1, 100), 3, func(s *AgentSettings) *int { return &s.MaxAttempts }),
	setting("paste", oneOf("paste mode", "full or pointer", choice{PasteFull, PasteFull}, choice{PastePointer, PastePointer}),
		PasteFull, func(s *AgentSettings) *string { return &s.Paste }),
	setting("backoff", duration(true), 5*time.Second, func(s *AgentSettings) *time.Duration { return &s.Backoff }),
	setting("kind", oneOf("kind", "auto (the default: a terminal is known by its window), chat (a chat or editor input) or terminal (no draft check and no verifying look: ctrl+a and ctrl+c mean something else there)",
		choice{KindChat, KindChat}, choice{KindTerminal, KindTerminal}, choice{"auto", KindAuto}),
		KindAuto, func(s *AgentSettings) *string { return &s.Kind }),
	// Not written, draft_check and verify_paste are off for kind terminal
	// (settings.resolved).
	setting("draft_check", boolean, true, func(s *AgentSettings) *bool { return &s.DraftCheck }),
	setting("select_all", keyCombo, "ctrl+a", func(s *AgentSettings) *string { return &s.SelectAll }),
	setting("copy", keyCombo, "ctrl+c", func(s *AgentSettings) *string { return &s.Copy }),
	setting("caret", keyCombo, "end", func(s *AgentSettings) *string { return &s.Caret }),
	setting("paste_settle", convert(duration(true), checkPasteSettle), 0, func(s *AgentSettings) *time.Duration { return &s.PasteSettle }),
	setting("verify_paste", boolean, true, func(s *AgentSettings) *bool { return &s.VerifyPaste }),
	setting("deliver_when", oneOf("value", "ready or always (leave it out for: ready once the agent's hooks are installed)",
		choice{DeliverReady, DeliverReady}, choice{DeliverAlways, DeliverAlways}),
		DeliverAuto, func(s *AgentSettings) *string { return &s.DeliverWhen }),
	setting("urgent_after", duration(true), time.Minute, func(s *AgentSettings) *time.Duration { return &s.UrgentAfter }),
	setting("busy_max", duration(false), 30*time.Minute, func(s *AgentSettings) *time.Duration { return &s.BusyMax }),
	setting("bounce", boolean, true, func(s *AgentSettings) *bool { return &s.Bounce }),
	setting("paste_key", keyCombo, "", func(s *AgentSettings) *string { return &s.PasteKey }),
}

// directiveFor returns the directive called name that may be written in in.
func directiveFor(in scope, name string) (int, *directive) {
	for i := range directives {
		if d := &directives[i]; d.in&in != 0 && d.name == name {
			return i, d
		}
	}
	return -1, nil
}

// keysIn lists the keys that may be written in in, in the table's order.
func keysIn(in scope) []string {
	var names []string
	for _, d := range directives {
		if d.in&in != 0 {
			names = append(names, d.name)
		}
	}
	return names
}

// resetAll stores the default of every key that may be written in in
// into d.
func resetAll(in scope, d dest) {
	for _, dir := range directives {
		if dir.in&in != 0 && dir.reset != nil {
			dir.reset(d)
		}
	}
}

// DefaultAgentSettings are the settings used where neither `defaults:` nor
// the agent says otherwise.
var DefaultAgentSettings = func() AgentSettings {
	var s settings
	resetAll(inDefaults, dest{s: &s})
	return s.resolved()
}()

func defaults(dir string) *Config {
	c := &Config{Defaults: DefaultAgentSettings}
	resetAll(atTop|inTiming, dest{dir: dir, c: c, t: &c.Timing})
	return c
}

// settings holds one AgentSettings being built, and which of its keys were
// written (else some follow others: see resolved).
type settings struct {
	AgentSettings
	written uint64 // bit i: directives[i] was written
}

func (s *settings) wrote(name string) bool {
	i, _ := directiveFor(inSettings, name)
	return s.written&(1<<i) != 0
}

// walk reads the keys of mapping n (at path) that may be written in in,
// storing them in d; false when it recorded an error. present holds the
// keys written, good or bad.
func (p *parser) walk(n *yaml.Node, path string, in scope, d dest) (present map[string]bool, ok bool) {
	present, ok = make(map[string]bool), true
	for _, e := range p.entries(n, path, keysIn(in)) {
		present[e.name] = true
		i, dir := directiveFor(in, e.name)
		if !dir.read(p, e.v, join(path, e.name), d) {
			ok = false
			continue
		}
		if dir.in == inSettings {
			d.s.written |= 1 << uint(i)
		}
	}
	return present, ok
}

// The checks of single values beyond their kind.

func checkEnvelope(v string) (string, error) {
	if _, err := renderEnvelope(v, EnvelopeFields{ID: "id", From: "from", To: "to", Priority: "normal", Attempt: 1}); err != nil {
		return "", fmt.Errorf("bad template %q: %v (fields: .ID .From .To .Priority .Attempt)", v, err)
	}
	return v, nil
}

func trimSpace(v string) (string, error) { return strings.TrimSpace(v), nil }

func checkPasteSettle(v time.Duration) (time.Duration, error) {
	if v > time.Second {
		return 0, fmt.Errorf("paste_settle %v is more than 1s: the keyboard is held that long per message", v)
	}
	return v, nil
}
