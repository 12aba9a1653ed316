// Package config loads and validates coords.yaml: the daemon's settings and
// the agents it delivers to (where each chat input is on the screen, which
// window must be focused, how to submit, how long to wait for an ack).
//
// Loading follows one order: defaults, then the file, then validation. The
// file is read strictly: unknown keys, duplicate keys or agents, bad names,
// durations, key combos and values are errors that name the key and the line,
// e.g.
//
//	config: coords.yaml:14: agents.Agent-3.ack_timeout: bad duration "3 sec"
//
// All problems in a file are reported at once (errors.Join), so a person can
// fix them in one pass.
package config

import (
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Config is a loaded, validated coords.yaml.
type Config struct {
	Path string // the file loaded (absolute), "" for Default()

	// Spool is the spool directory (absolute). Relative paths in the file
	// are relative to the file's directory. Default "./spool".
	Spool string
	// InboxRoot is where the agents' ack inboxes live (absolute). The inbox
	// of agent X is <InboxRoot>/X/inbox unless the agent sets `inbox:`.
	// Default "./agent_workspaces".
	InboxRoot string
	// LockFile is the desktop lock; "" lets deliver pick the default per
	// display. Absolute when set.
	LockFile string
	// MaxMessageBytes (`max_message_bytes`) bounds a message file; default
	// 262144, allowed 1..16 MiB.
	MaxMessageBytes int64
	// Envelope (`envelope:`) is the text/template of the line pasted before
	// each message; its fields are those of EnvelopeFields.
	Envelope string
	// Timing bounds the adaptive waits of a delivery.
	Timing Timing
	// ScanInterval (`scan_interval`) is the period of the spool scan that
	// backs up fsnotify; default 2s.
	ScanInterval time.Duration
	// QuietFor (`quiet_for`): deliver only when no person used the
	// keyboard or mouse for this long; default 2s; 0 turns the wait off.
	QuietFor time.Duration
	// QuietMaxWait (`quiet_max_wait`): after waiting this long for a quiet
	// desk, urgent messages go anyway; others keep waiting. Default 2m.
	QuietMaxWait time.Duration
	// Metrics (`metrics:`) is the listen address of the daemon's Prometheus
	// /metrics endpoint; "" (the default) is off. A bare port or ":port"
	// is loopback (127.0.0.1); another host only when written out.
	Metrics string
	// AlertCommand (`alert_command:`) is run by the shell when one of the
	// daemon's own alerts starts or ends, with AGENTSPOOL_ALERT,
	// AGENTSPOOL_ALERT_STATE (firing|resolved), AGENTSPOOL_AGENT,
	// AGENTSPOOL_VALUE, AGENTSPOOL_THRESHOLD, AGENTSPOOL_SINCE in its
	// environment; "" (the default) runs nothing.
	AlertCommand string
	// Defaults are the `defaults:` section as resolved (every field set).
	Defaults AgentSettings
	// Agents in file order.
	Agents []*Agent

	// Warnings are what Parse found questionable but legal, such as two
	// agents' window matchers that overlap; the daemon logs them at start.
	Warnings []string

	// name is the file name as given to Parse, used in messages.
	name string
}

// Timing is `timing: {min: 5ms, max: 5s}`: the bounds for the adaptive
// waits (DESIGN §6).
type Timing struct {
	Min time.Duration // default 5ms
	Max time.Duration // default 5s; Min <= Max
}

// AgentSettings are the settings under `defaults:`; each may be overridden
// per agent under the agent's own key.
type AgentSettings struct {
	// Submit is the key combo that sends the input; default "enter".
	Submit string
	// UrgentSubmit is the combo for urgent messages; default: the same as
	// Submit. Set "ctrl+enter" if your app needs it to interrupt a run.
	UrgentSubmit string
	// Undo is the combo that removes a paste from the input (used when
	// focus was lost after pasting); default "ctrl+z".
	Undo string
	// Ack: wait for the recipient's ack before calling a message done;
	// default true.
	Ack bool
	// AckTimeout is how long to wait for the ack; default 30s; > 0.
	AckTimeout time.Duration
	// MaxAttempts is the number of deliveries before failed/; default 3;
	// 1..100.
	MaxAttempts int
	// Paste is "full" (the message itself, default) or "pointer" (one
	// line naming the file in the inbox).
	Paste string
	// Backoff is the delay before the first retry, doubled each attempt;
	// default 5s.
	Backoff time.Duration
	// Kind is the kind of input the agent's window has: KindAuto (the
	// default, written `auto` or not at all: a terminal is known by its
	// window at delivery, see deliver.Inspect), "chat" (a chat or editor
	// input where SelectAll and Copy select and copy) or "terminal" (where
	// ctrl+a and ctrl+c mean line-start and interrupt): a terminal gets no
	// draft check and no verifying look unless kind terminal and
	// draft_check/verify_paste are written for it, with its own copy key.
	// Whatever the kind, no key that interrupts, suspends or ends a
	// program is tapped into a window found to be a terminal.
	Kind string
	// PasteKey (`paste_key`) is the key that pastes; default: ctrl+v, or
	// in a terminal the terminal's own (ctrl+shift+v; xterm and rxvt
	// shift+Insert).
	PasteKey string
	// DraftCheck: before pasting, look whether the input already holds a
	// person's draft (SelectAll, then Copy into a private buffer, then
	// Caret to put the caret back); if it does, do not paste. Default on
	// (issue 14: a draft is never merged or destroyed by default), off for
	// kind terminal. Its cost on an empty Chromium input is a wait for the
	// select-all to show, learned (tens of ms; see deliver.inputText).
	DraftCheck bool
	// SelectAll, Copy and Caret are the draft check's keys; defaults
	// ctrl+a, ctrl+c, end.
	SelectAll, Copy, Caret string
	// VerifyPaste: after every paste, look at what the input holds
	// (SelectAll, Copy, Caret) and submit only if it is the message; the
	// X side cannot show when a Chromium window has inserted a paste.
	// Default true (off for kind terminal); the keys must work in the
	// input.
	VerifyPaste bool
	// PasteSettle is waited after the window has read the whole paste,
	// before the submit, for editors that insert a paste later from their
	// own event loop; default 0.
	PasteSettle time.Duration
	// DeliverWhen is DeliverReady (deliver only when the agent's tool's
	// hook says its turn ended: `agentspool hook`), DeliverAlways, or
	// DeliverAuto (not written: ready when the agent's hooks have written
	// its state file, else always).
	DeliverWhen string
	// UrgentAfter: an urgent message waits for a busy agent this long at
	// most, then goes anyway (with UrgentSubmit); default 1m; 0: at once.
	UrgentAfter time.Duration
	// BusyMax: a busy state older than this is not believed (the tool
	// crashed, the hook was removed) and delivery goes on; default 30m.
	BusyMax time.Duration
	// Bounce (`bounce`): when a message this agent sent (its from: names
	// the agent) ends in failed/ or hold/, the daemon queues a short
	// non-delivery report for this agent; default true.
	Bounce bool
}

// DeliverWhen values.
const (
	DeliverAuto   = ""
	DeliverReady  = "ready"
	DeliverAlways = "always"
)

// Paste modes.
const (
	PasteFull    = "full"
	PastePointer = "pointer"
)

// Agent is one recipient: a chat input at (X, Y) in a window whose title
// matches Window.
type Agent struct {
	Name string
	// X, Y is the chat input's point in virtual-screen coordinates.
	// Negative values are fine: a monitor left of or above the primary.
	X, Y int
	// Window matches the focused window's title: a substring; the exact
	// title when written =like this; or a regular expression when written
	// /like this/ (anchor it: /^Agent-1( — .*)?$/). Empty matches nothing,
	// and a matcher that matches every title (/.*/) is refused.
	Window string
	// Class, when set (`class:`), must equal the window's WM_CLASS
	// instance or class (on Windows its executable or window class): what
	// a terminal is started with (xterm -name agent-3) and an agent CLI,
	// which rewrites its title, cannot change. With class or pid set,
	// window may be left out.
	Class string
	// PID, when not 0, must equal the focused window's _NET_WM_PID.
	PID int
	// Tmux, when set (`tmux:`), makes the agent a tmux pane rather than a
	// window: any tmux target-pane ("work:2.1", "%5"). X, Y, Window,
	// Class and PID are then not written.
	Tmux string
	// TmuxSocket is the pane's tmux server socket (`tmux_socket:`, tmux
	// -S); empty: the user's default server.
	TmuxSocket string
	// TmuxBracketed (`tmux_bracketed:`): the pane's program, not an agent
	// CLI agentspool knows, asks for bracketed paste (bash, zsh), so a
	// multi-line message may be pasted into it.
	TmuxBracketed bool
	// Inbox is the agent's ack inbox (absolute).
	Inbox string
	// AckPattern, when set (ack_pattern), also takes a file in the inbox
	// for the ack of the id its group "id" captures from the whole name,
	// for an inbox tool that cannot write <id>.ack (see AckPattern and
	// package confirm). Never the default: a loose pattern lets a file the
	// recipient did not write as an ack confirm a message never pasted.
	AckPattern *regexp.Regexp
	AgentSettings
	// Line is the agent's line in the file, for messages.
	Line int

	re *regexp.Regexp // compiled Window when it is /regex/
}

// EnvelopeFields are the fields available to the `envelope:` template.
type EnvelopeFields struct {
	ID       string
	From     string
	To       string
	Priority string
	Attempt  int
}

// The kinds of agent input (AgentSettings.Kind).
const (
	KindAuto     = ""
	KindChat     = "chat"
	KindTerminal = "terminal"
)

// WindowAgents counts the agents in windows (not in tmux panes): the
// ones that need a desktop.
func (c *Config) WindowAgents() int {
	n := 0
	for _, a := range c.Agents {
		if a.Tmux == "" {
			n++
		}
	}
	return n
}

// ValidName reports whether name is a valid agent name: the one rule the
// spool uses too (safeio.ValidAgentName: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
// and no ".."). Before issue 11, config accepted Agent..1, which the spool
// refused, and then the daemon refused to start at all.
func ValidName(name string) bool { return safeio.ValidAgentName(name) }

// Default returns the configuration with no file: every default, relative
// paths resolved against the working directory, and no agents.
func Default() *Config {
	dir, err := os.Getwd()
	if err != nil {
		dir = "."
	}
	return defaults(dir)
}

// Load reads and parses the file at path. A missing file is an error that
// says so (errors.Is(err, fs.ErrNotExist) holds).
func Load(path string) (*Config, error) {
	// The safe opener: a FIFO named as the config must not hang the CLI.
	data, err := safeio.ReadFile(path, safeio.OpenOptions{MaxBytes: 16 << 20, FollowLinks: true})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config: %s: no such file (write one; see coords.yaml in the repository for an example): %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and validates data as the file at path. path names the file in
// messages and its directory is the base of relative paths; "" means the
// working directory.
func Parse(data []byte, path string) (*Config, error) {
	name, dir := path, ""
	abs := ""
	if path != "" {
		a, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		abs, dir = a, filepath.Dir(a)
	} else {
		name = "coords.yaml"
		d, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dir = d
	}
	c := defaults(dir)
	c.Path, c.name = abs, name
	p := &parser{file: name, dir: dir}
	p.parse(data, c)
	if err := p.err(); err != nil {
		return nil, err
	}
	c.Warnings = append(c.Warnings, c.overlaps()...)
	return c, nil
}

// Agent returns the agent called name.
func (c *Config) Agent(name string) (*Agent, bool) {
	for _, a := range c.Agents {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// Names returns the agents' names in file order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Agents))
	for i, a := range c.Agents {
		names[i] = a.Name
	}
	return names
}

// Summary is one line describing the configuration, for the start-up log.
func (c *Config) Summary() string {
	src := c.Path
	if src == "" {
		src = "(defaults)"
	}
	d := c.Defaults
	ack := "off"
	if d.Ack {
		ack = "timeout " + d.AckTimeout.String()
	}
	lock := c.LockFile
	if lock == "" {
		lock = "(per display)"
	}
	metrics := c.Metrics
	if metrics == "" {
		metrics = "off"
	}
	return fmt.Sprintf("config %s: %d agents [%s]; spool %s; inbox_root %s; lock %s; submit %s/%s; ack %s; attempts %d; backoff %s; paste %s; scan %s; timing %s..%s; max %d bytes; metrics %s",
		src, len(c.Agents), strings.Join(c.Names(), " "), c.Spool, c.InboxRoot, lock,
		d.Submit, d.UrgentSubmit, ack, d.MaxAttempts, d.Backoff, d.Paste,
		c.ScanInterval, c.Timing.Min, c.Timing.Max, c.MaxMessageBytes, metrics)
}

// SubmitFor returns the key combo that submits a message: UrgentSubmit for
// urgent ones (when set), else Submit.
func (a *Agent) SubmitFor(urgent bool) string {
	if urgent && a.UrgentSubmit != "" {
		return a.UrgentSubmit
	}
	return a.Submit
}
