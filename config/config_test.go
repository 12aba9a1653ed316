package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid file, for tests to extend.
const minimal = "agents:\n  A:\n    x: 1\n    y: 2\n    window: w\n"

func mustParse(t *testing.T, data, path string) *Config {
	t.Helper()
	c, err := Parse([]byte(data), path)
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", data, err)
	}
	return c
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("../coords.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Agent-1", "Agent-2", "Agent-3", "Agent-4", "Agent-5", "Agent-6", "Agent-7", "Agent-8"}
	if got := c.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	a1, _ := c.Agent("Agent-1")
	if a1.X >= 0 {
		t.Errorf("Agent-1.X = %d, want negative (the example shows a monitor left of the primary)", a1.X)
	}
	for _, a := range c.Agents {
		if !a.MatchTitle(a.Name) {
			t.Errorf("%s: window %q does not match the title %q", a.Name, a.Window, a.Name)
		}
	}
	if !filepath.IsAbs(c.Path) || !filepath.IsAbs(c.Spool) {
		t.Errorf("Path %q, Spool %q: want absolute", c.Path, c.Spool)
	}
	t.Log(c.Summary())
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "coords.yaml")
	c := mustParse(t, minimal, path)
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	if want := filepath.Join(dir, "spool"); c.Spool != want {
		t.Errorf("Spool = %q, want %q", c.Spool, want)
	}
	if want := filepath.Join(dir, "agent_workspaces"); c.InboxRoot != want {
		t.Errorf("InboxRoot = %q, want %q", c.InboxRoot, want)
	}
	if c.LockFile != "" || c.MaxMessageBytes != 262144 || c.Envelope != DefaultEnvelope ||
		c.Timing != (Timing{5 * time.Millisecond, 5 * time.Second}) || c.ScanInterval != 2*time.Second {
		t.Errorf("top-level defaults wrong: %+v", c)
	}
	want := AgentSettings{Submit: "enter", UrgentSubmit: "enter", Undo: "ctrl+z", Ack: true,
		AckTimeout: 30 * time.Second, MaxAttempts: 3, Paste: "full", Backoff: 5 * time.Second,
		Kind: KindAuto, DraftCheck: true, SelectAll: "ctrl+a", Copy: "ctrl+c", Caret: "end", VerifyPaste: true, UrgentAfter: time.Minute, BusyMax: 30 * time.Minute, Bounce: true}
	if c.QuietFor != 2*time.Second || c.QuietMaxWait != 2*time.Minute {
		t.Errorf("quiet defaults: %v %v", c.QuietFor, c.QuietMaxWait)
	}
	if c.Defaults != want {
		t.Errorf("Defaults = %+v, want %+v", c.Defaults, want)
	}
	a, ok := c.Agent("A")
	if !ok {
		t.Fatal("Agent(A) not found")
	}
	if a.AgentSettings != want || a.X != 1 || a.Y != 2 || a.Window != "w" || a.PID != 0 || a.Line != 2 {
		t.Errorf("agent = %+v", a)
	}
	if want := filepath.Join(dir, "agent_workspaces", "A", "inbox"); a.Inbox != want {
		t.Errorf("Inbox = %q, want %q", a.Inbox, want)
	}
	if _, ok := c.Agent("B"); ok {
		t.Error("Agent(B) found")
	}

	d := Default()
	if d.Path != "" || len(d.Agents) != 0 || d.Defaults != want || !filepath.IsAbs(d.Spool) {
		t.Errorf("Default() = %+v", d)
	}
}

func TestOverrides(t *testing.T) {
	data := `
spool: /var/spool/agents
inbox_root: inboxes
lock_file: run/desk.lock
max_message_bytes: 1024
envelope: "<{{.ID}} {{.Priority}} #{{.Attempt}}>"
timing: {min: 1ms, max: 10s}
scan_interval: 500ms
defaults:
  submit: Ctrl+Enter
  ack: off
  ack_timeout: 1m
  max_attempts: 5
  paste: pointer
  backoff: 0s
agents:
  Plain:
    x: 10
    y: 20
    window: Plain
  Custom:
    x: -5
    y: -6
    window: "/^Custom \\d+$/"
    pid: 4242
    inbox: /tmp/custom-inbox
    submit: shift+enter
    undo: ctrl+shift+z
    ack: true
    ack_timeout: 90s
    max_attempts: 1
    paste: full
    backoff: 1s
  Urgent:
    x: 0
    y: 0
    window: U
    urgent_submit: alt+enter
`
	dir := t.TempDir()
	c := mustParse(t, data, filepath.Join(dir, "sub", "coords.yaml"))
	// rooted is a rooted path of the file: on Windows, on its drive.
	rooted := func(p string) string { return filepath.VolumeName(dir) + filepath.FromSlash(p) }
	if c.Spool != rooted("/var/spool/agents") {
		t.Errorf("Spool = %q", c.Spool)
	}
	if want := filepath.Join(dir, "sub", "inboxes"); c.InboxRoot != want {
		t.Errorf("InboxRoot = %q, want %q", c.InboxRoot, want)
	}
	if want := filepath.Join(dir, "sub", "run", "desk.lock"); c.LockFile != want {
		t.Errorf("LockFile = %q, want %q", c.LockFile, want)
	}
	if c.MaxMessageBytes != 1024 || c.ScanInterval != 500*time.Millisecond || c.Timing != (Timing{time.Millisecond, 10 * time.Second}) {
		t.Errorf("top-level = %+v", c)
	}
	s, err := c.RenderEnvelope(EnvelopeFields{ID: "m1", Priority: "urgent", Attempt: 2})
	if err != nil || s != "<m1 urgent #2>" {
		t.Errorf("RenderEnvelope = %q, %v", s, err)
	}
	def := AgentSettings{Submit: "ctrl+enter", UrgentSubmit: "ctrl+enter", Undo: "ctrl+z", Ack: false,
		AckTimeout: time.Minute, MaxAttempts: 5, Paste: "pointer", Backoff: 0,
		Kind: KindAuto, DraftCheck: true, SelectAll: "ctrl+a", Copy: "ctrl+c", Caret: "end", VerifyPaste: true, UrgentAfter: time.Minute, BusyMax: 30 * time.Minute, Bounce: true}
	if c.Defaults != def {
		t.Errorf("Defaults = %+v, want %+v", c.Defaults, def)
	}
	plain, _ := c.Agent("Plain")
	if plain.AgentSettings != def {
		t.Errorf("Plain = %+v, want the defaults %+v", plain.AgentSettings, def)
	}
	if want := filepath.Join(dir, "sub", "inboxes", "Plain", "inbox"); plain.Inbox != want {
		t.Errorf("Plain.Inbox = %q, want %q", plain.Inbox, want)
	}
	custom, _ := c.Agent("Custom")
	want := AgentSettings{Submit: "shift+enter", UrgentSubmit: "shift+enter", Undo: "ctrl+shift+z", Ack: true,
		AckTimeout: 90 * time.Second, MaxAttempts: 1, Paste: "full", Backoff: time.Second,
		Kind: KindAuto, DraftCheck: true, SelectAll: "ctrl+a", Copy: "ctrl+c", Caret: "end", VerifyPaste: true, UrgentAfter: time.Minute, BusyMax: 30 * time.Minute, Bounce: true}
	if custom.AgentSettings != want {
		t.Errorf("Custom = %+v, want %+v", custom.AgentSettings, want)
	}
	if custom.X != -5 || custom.Y != -6 || custom.PID != 4242 || custom.Inbox != rooted("/tmp/custom-inbox") {
		t.Errorf("Custom = %+v", custom)
	}
	urgent, _ := c.Agent("Urgent")
	if urgent.SubmitFor(false) != "ctrl+enter" || urgent.SubmitFor(true) != "alt+enter" {
		t.Errorf("Urgent submit = %q / %q", urgent.SubmitFor(false), urgent.SubmitFor(true))
	}
	if custom.SubmitFor(true) != "shift+enter" {
		t.Errorf("Custom urgent submit = %q: urgent_submit unset should follow the agent's submit", custom.SubmitFor(true))
	}
	if got := c.Names(); !reflect.DeepEqual(got, []string{"Plain", "Custom", "Urgent"}) {
		t.Errorf("Names = %v: want file order", got)
	}
}

func TestDefaultsUrgentSubmitInherited(t *testing.T) {
	c := mustParse(t, "defaults:\n  urgent_submit: ctrl+enter\n"+minimal+"    submit: shift+enter\n", "coords.yaml")
	a, _ := c.Agent("A")
	if a.Submit != "shift+enter" || a.UrgentSubmit != "ctrl+enter" {
		t.Errorf("A = %+v: an explicit defaults.urgent_submit is inherited", a.AgentSettings)
	}
}

func TestRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "etc", "coords.yaml")
	data := "spool: ../var/spool\n" + minimal + "    inbox: ./a/../inbox-A\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	// Load from another working directory through a relative path: the
	// paths still resolve against the file's directory.
	t.Chdir(dir)
	c, err := Load(filepath.Join("etc", "coords.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	if want := filepath.Join(dir, "var", "spool"); c.Spool != want {
		t.Errorf("Spool = %q, want %q", c.Spool, want)
	}
	a, _ := c.Agent("A")
	if want := filepath.Join(dir, "etc", "inbox-A"); a.Inbox != want {
		t.Errorf("Inbox = %q, want %q", a.Inbox, want)
	}

	home, err := os.UserHomeDir()
	if err == nil {
		c := mustParse(t, "spool: ~/q\n"+minimal, path)
		if want := filepath.Join(home, "q"); c.Spool != want {
			t.Errorf("Spool = %q, want %q", c.Spool, want)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(missing) = %v; want a not-exist error naming the file", err)
	}
}

// TestErrors checks that each kind of mistake is reported with its key and
// line, in the form "config: coords.yaml:LINE: KEY: ...".
func TestErrors(t *testing.T) {
	agent := func(extra string) string { return minimal + extra }
	tests := []struct {
		name string
		data string
		want []string // substrings of the error
	}{
		{"empty", "", []string{"coords.yaml: empty file"}},
		{"comments only", "# nothing\n\n", []string{"coords.yaml: empty file"}},
		{"empty mapping", "{}\n", []string{"empty file"}},
		{"top not a mapping", "- a\n- b\n", []string{"coords.yaml:1: must be a mapping"}},
		{"broken yaml", "agents:\n  A: [\n", []string{"coords.yaml:", "yaml: "}},
		{"broken yaml line", "spool: a\nagents:\n\tA: 1\n", []string{"coords.yaml:3: yaml: "}},
		{"two documents", minimal + "---\nspool: x\n", []string{"coords.yaml:6: a second YAML document"}},
		{"unknown top key", "spol: x\n" + minimal, []string{"coords.yaml:1: spol: unknown key"}},
		{"unknown defaults key", "defaults:\n  sumbit: enter\n" + minimal, []string{"coords.yaml:2: defaults.sumbit: unknown key"}},
		{"unknown agent key", agent("    colour: red\n"), []string{"coords.yaml:6: agents.A.colour: unknown key"}},
		{"unknown timing key", "timing:\n  mid: 1s\n" + minimal, []string{"coords.yaml:2: timing.mid: unknown key"}},
		{"merge key", "defaults:\n  <<: {ack: true}\n" + minimal, []string{"coords.yaml:2: defaults.<<: merge keys are not supported"}},
		{"duplicate top key", "spool: a\nspool: b\n" + minimal, []string{"coords.yaml:2: spool: duplicate key (first at line 1)"}},
		{"duplicate agent", minimal + "  A:\n    x: 3\n    y: 4\n    window: v\n", []string{"coords.yaml:6: agents.A: duplicate agent (first at line 2)"}},
		{"duplicate agent key", agent("    x: 5\n"), []string{"coords.yaml:6: agents.A.x: duplicate key (first at line 3)"}},
		{"bad agent name", "agents:\n  -bad:\n    x: 1\n    y: 1\n    window: w\n", []string{`coords.yaml:2: agents.-bad: bad agent name "-bad"`}},
		{"agent name with space", "agents:\n  'a b': {x: 1, y: 1, window: w}\n", []string{`coords.yaml:2: agents.a b: bad agent name`}},
		{"agent name too long", "agents:\n  " + strings.Repeat("a", 65) + ": {x: 1, y: 1, window: w}\n", []string{"coords.yaml:2:", "bad agent name"}},
		{"agent not a mapping", "agents:\n  A: 5\n", []string{"coords.yaml:2: agents.A: must be a mapping"}},
		{"agents not a mapping", "agents: [a, b]\n", []string{"coords.yaml:1: agents: must be a mapping"}},
		{"no agents key", "spool: x\n", []string{"coords.yaml:1: agents: required key missing"}},
		{"no agents", "agents: {}\n", []string{"coords.yaml:1: agents: no agents"}},
		{"missing x", "agents:\n  A:\n    y: 1\n    window: w\n", []string{"coords.yaml:2: agents.A.x: required key missing"}},
		{"missing y", "agents:\n  A:\n    x: 1\n    window: w\n", []string{"coords.yaml:2: agents.A.y: required key missing"}},
		{"missing window", "agents:\n  A:\n    x: 1\n    y: 1\n", []string{"coords.yaml:2: agents.A.window: required key missing"}},
		{"empty window", "agents:\n  A:\n    x: 1\n    y: 1\n    window: ''\n", []string{"coords.yaml:5: agents.A.window: must not be empty"}},
		{"bad regex", "agents:\n  A:\n    x: 1\n    y: 1\n    window: /a(b/\n", []string{"coords.yaml:5: agents.A.window: bad regex /a(b/"}},
		{"empty regex", "agents:\n  A:\n    x: 1\n    y: 1\n    window: //\n", []string{"coords.yaml:5: agents.A.window: empty regex"}},
		{"x not integer", "agents:\n  A:\n    x: left\n    y: 1\n    window: w\n", []string{`coords.yaml:3: agents.A.x: must be an integer, got "left"`}},
		{"x float", "agents:\n  A:\n    x: 1.5\n    y: 1\n    window: w\n", []string{`coords.yaml:3: agents.A.x: must be an integer`}},
		{"x quoted", "agents:\n  A:\n    x: '1'\n    y: 1\n    window: w\n", []string{`coords.yaml:3: agents.A.x: must be an integer`}},
		{"y huge", "agents:\n  A:\n    x: 1\n    y: 99999999999\n    window: w\n", []string{`coords.yaml:4: agents.A.y: must be`}},
		{"negative pid", agent("    pid: -3\n"), []string{"coords.yaml:6: agents.A.pid: must be 0..", "got -3"}},
		{"empty inbox", agent("    inbox: ''\n"), []string{"coords.yaml:6: agents.A.inbox: must not be empty"}},
		{"ack pattern without id", agent("    ack_pattern: 'MESSAGE_.*\\.md'\n"), []string{`coords.yaml:6: agents.A.ack_pattern: regex "MESSAGE_.*\\.md" must have exactly one group named id`}},
		{"ack pattern bad regex", agent("    ack_pattern: '(?P<id>'\n"), []string{`coords.yaml:6: agents.A.ack_pattern: bad regex "(?P<id>"`}},
		{"ack pattern of a bare id", agent("    ack_pattern: '(?P<id>.+)'\n"), []string{`coords.yaml:6: agents.A.ack_pattern: regex "(?P<id>.+)" takes a file named m1 for the ack of "m1"`}},
		{"ack pattern of a message copy", agent("    ack_pattern: '(?P<id>[^.]+)\\.md'\n"), []string{`takes a file named m1.md for the ack of "m1"`}},
		{"bad duration", agent("    ack_timeout: 3 sec\n"), []string{`coords.yaml:6: agents.A.ack_timeout: bad duration "3 sec"`}},
		{"duration without unit", agent("    backoff: 5\n"), []string{`coords.yaml:6: agents.A.backoff: bad duration "5": give a unit`}},
		{"negative duration", "defaults:\n  backoff: -1s\n" + minimal, []string{`coords.yaml:2: defaults.backoff: bad duration "-1s"`}},
		{"zero ack timeout", "defaults:\n  ack_timeout: 0s\n" + minimal, []string{`coords.yaml:2: defaults.ack_timeout: bad duration "0s": must be more than 0`}},
		{"bad scan interval", "scan_interval: soon\n" + minimal, []string{`coords.yaml:1: scan_interval: bad duration "soon"`}},
		{"bad metrics address", "metrics: 127.0.0.1\n" + minimal, []string{`coords.yaml:1: metrics: bad listen address "127.0.0.1": want host:port`}},
		{"bad metrics port", "metrics: 127.0.0.1:99999\n" + minimal, []string{`coords.yaml:1: metrics: bad port "99999"`}},
		{"metrics host name", "metrics: example.com:9464\n" + minimal, []string{`coords.yaml:1: metrics: bad host "example.com"`}},
		{"metrics not a string", "metrics: [1]\n" + minimal, []string{`coords.yaml:1: metrics: must be a string`}},
		{"bad timing", "timing:\n  min: 1x\n" + minimal, []string{`coords.yaml:2: timing.min: bad duration "1x"`}},
		{"timing min>max", "timing: {min: 2s, max: 1s}\n" + minimal, []string{"coords.yaml:1: timing: min 2s is more than max 1s"}},
		{"bad key combo", agent("    submit: ctrl+foo\n"), []string{`coords.yaml:6: agents.A.submit: bad key combo "ctrl+foo": unknown key "foo"`}},
		{"bad urgent combo", "defaults:\n  urgent_submit: enter+ctrl\n" + minimal, []string{`coords.yaml:2: defaults.urgent_submit: bad key combo "enter+ctrl"`}},
		{"bad undo combo", "defaults:\n  undo: ctrl\n" + minimal, []string{`coords.yaml:2: defaults.undo: bad key combo "ctrl": ends with modifier`}},
		{"bad paste", agent("    paste: half\n"), []string{`coords.yaml:6: agents.A.paste: bad paste mode "half"`}},
		{"bad ack", agent("    ack: maybe\n"), []string{`coords.yaml:6: agents.A.ack: must be true or false, got "maybe"`}},
		{"max_attempts 0", agent("    max_attempts: 0\n"), []string{`coords.yaml:6: agents.A.max_attempts: must be 1..100, got 0`}},
		{"max_attempts 101", "defaults:\n  max_attempts: 101\n" + minimal, []string{`coords.yaml:2: defaults.max_attempts: must be 1..100, got 101`}},
		{"max_message_bytes 0", "max_message_bytes: 0\n" + minimal, []string{`coords.yaml:1: max_message_bytes: must be 1..16777216, got 0`}},
		{"max_message_bytes huge", "max_message_bytes: 16777217\n" + minimal, []string{`coords.yaml:1: max_message_bytes: must be 1..16777216`}},
		{"bad envelope syntax", "envelope: '{{.ID'\n" + minimal, []string{`coords.yaml:1: envelope: bad template`}},
		{"bad envelope field", "envelope: '{{.Sender}}'\n" + minimal, []string{`coords.yaml:1: envelope: bad template`, "Sender"}},
		{"envelope loop", "envelope: '{{range 100000000}}{{end}}{{.ID}}'\n" + minimal, []string{`coords.yaml:1: envelope: bad template`, "{{range}} is not allowed"}},
		{"envelope recursion", "envelope: '{{define \"x\"}}{{template \"x\"}}{{end}}{{template \"x\"}}'\n" + minimal, []string{`coords.yaml:1: envelope: bad template`, "not allowed"}},
		{"multi-line envelope", "envelope: \"a\\n{{.ID}}\"\n" + minimal, []string{`coords.yaml:1: envelope: bad template`, "one line"}},
		{"empty spool", "spool: ''\n" + minimal, []string{`coords.yaml:1: spool: must not be empty`}},
		{"spool a list", "spool: [a]\n" + minimal, []string{`coords.yaml:1: spool: must be a string, got a list`}},
		{"defaults a list", "defaults: [a]\n" + minimal, []string{`coords.yaml:1: defaults: must be a mapping`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), "coords.yaml")
			if err == nil {
				t.Fatalf("Parse:\n%s\nno error; want %q", tt.data, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse:\n%s\nerror:\n%v\nwant it to contain %q", tt.data, err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "config: coords.yaml") {
				t.Errorf("error %q: want the prefix config: coords.yaml", err)
			}
		})
	}
}

// TestAllErrors checks that errors are collected, not stopped at the first,
// and come in line order.
func TestAllErrors(t *testing.T) {
	data := `agents:
  A:
    x: 1
    y: 1
    window: w
    ack_timeout: 3 sec
  B:
    y: 2
    window: v
bogus: 1
defaults:
  paste: half
`
	_, err := Parse([]byte(data), "coords.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`config: coords.yaml:6: agents.A.ack_timeout: bad duration "3 sec"`,
		`config: coords.yaml:7: agents.B.x: required key missing`,
		`config: coords.yaml:10: bogus: unknown key`,
		`config: coords.yaml:12: defaults.paste: bad paste mode "half"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("error:\n%v\nwant %d lines", err, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestAliases(t *testing.T) {
	data := `defaults:
  ack_timeout: &slow 2m
agents:
  A: &a
    x: 1
    y: 2
    window: w
    backoff: *slow
  B: *a
`
	c := mustParse(t, data, "coords.yaml")
	b, _ := c.Agent("B")
	if b.X != 1 || b.Backoff != 2*time.Minute || b.AckTimeout != 2*time.Minute {
		t.Errorf("B = %+v", b)
	}
	// A self-referencing anchor must end in an error, not a loop.
	if _, err := Parse([]byte("agents: &x\n  A: *x\n"), "coords.yaml"); err == nil {
		t.Error("self-referencing alias: no error")
	}
}

func TestMatchTitle(t *testing.T) {
	tests := []struct {
		window, title string
		want          bool
	}{
		{"Agent-1", "Agent-1", true},
		{"Agent-1", "Cursor — Agent-1 — project", true},
		{"Agent-1", "agent-1", false}, // substring match is case-sensitive
		{"Agent-1", "Agent-", false},
		{"/^Agent-7( — .*)?$/", "Agent-7", true},
		{"/^Agent-7( — .*)?$/", "Agent-7 — repo", true},
		{"/^Agent-7( — .*)?$/", "Agent-70", false},
		{"/(?i)cursor/", "CURSOR", true},
		{"/", "a/b", true}, // one slash is a substring
		{"", "anything", false},
	}
	for _, tt := range tests {
		// An Agent built by hand (no compiled regex) ...
		a := &Agent{Window: tt.window}
		if got := a.MatchTitle(tt.title); got != tt.want {
			t.Errorf("hand-built %q.MatchTitle(%q) = %v, want %v", tt.window, tt.title, got, tt.want)
		}
		if tt.window == "" {
			continue
		}
		// ... and one from Parse agree.
		c := mustParse(t, "agents:\n  A:\n    x: 1\n    y: 1\n    window: '"+tt.window+"'\n", "coords.yaml")
		if got := c.Agents[0].MatchTitle(tt.title); got != tt.want {
			t.Errorf("parsed %q.MatchTitle(%q) = %v, want %v", tt.window, tt.title, got, tt.want)
		}
	}
}

func TestParseKeyCombo(t *testing.T) {
	good := []struct {
		in   string
		want []string
	}{
		{"enter", []string{"enter"}},
		{"Return", []string{"return"}},
		{"ctrl+enter", []string{"ctrl", "enter"}},
		{"CTRL+Shift+Z", []string{"ctrl", "shift", "z"}},
		{" alt + tab ", []string{"alt", "tab"}},
		{"super+space", []string{"super", "space"}},
		{"cmd+enter", []string{"cmd", "enter"}},
		{"escape", []string{"escape"}},
		{"backspace", []string{"backspace"}},
		{"delete", []string{"delete"}},
		{"ctrl+0", []string{"ctrl", "0"}},
		{"f1", []string{"f1"}},
		{"shift+F12", []string{"shift", "f12"}},
	}
	for _, tt := range good {
		got, err := ParseKeyCombo(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseKeyCombo(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty key combo"},
		{"  ", "empty key combo"},
		{"ctrl+", "empty part"},
		{"+enter", "empty part"},
		{"ctrl++enter", "empty part"},
		{"ctrl", `ends with modifier "ctrl"`},
		{"ctrl+shift", `ends with modifier "shift"`},
		{"ctrl+ctrl+enter", `modifier "ctrl" twice`},
		{"enter+ctrl", `key "enter" must come last`},
		{"a+b", `key "a" must come last`},
		{"ctrl+foo", `unknown key "foo"`},
		{"f13", `unknown key "f13"`},
		{"meta+enter", `unknown key "meta"`},
		{"ctrl+é", `unknown key "é"`},
	}
	for _, tt := range bad {
		_, err := ParseKeyCombo(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("ParseKeyCombo(%q) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	path, _ := filepath.Abs(filepath.FromSlash("/etc/agentspool/coords.yaml")) // Windows: on the working directory's drive
	c := mustParse(t, minimal, path)
	s := c.Summary()
	if strings.Contains(s, "\n") || !strings.Contains(s, path) || !strings.Contains(s, "1 agents [A]") {
		t.Errorf("Summary() = %q", s)
	}
}

func FuzzParse(f *testing.F) {
	// Seeds beyond testdata/fuzz/FuzzParse.
	f.Add([]byte(minimal))
	if data, err := os.ReadFile("../coords.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "coords.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("error without prefix: %q", err)
			}
			return
		}
		// What Parse accepts is usable: the invariants validation promises.
		if len(c.Agents) == 0 {
			t.Fatal("accepted a file with no agents")
		}
		seen := make(map[string]bool)
		for _, a := range c.Agents {
			// Bound to something: a window by its title, class or pid (an
			// agent CLI rewrites its title), or a tmux pane.
			bound := a.Window != "" || a.Class != "" || a.PID != 0 || a.Tmux != ""
			if !ValidName(a.Name) || seen[a.Name] || !bound || a.Inbox == "" {
				t.Fatalf("accepted agent %+v", a)
			}
			seen[a.Name] = true
			if a.AckTimeout <= 0 || a.MaxAttempts < 1 || a.MaxAttempts > 100 || a.Backoff < 0 ||
				(a.Paste != PasteFull && a.Paste != PastePointer) {
				t.Fatalf("accepted settings %+v", a.AgentSettings)
			}
			for _, k := range []string{a.Submit, a.UrgentSubmit, a.Undo} {
				if _, err := ParseKeyCombo(k); err != nil {
					t.Fatalf("accepted key combo: %v", err)
				}
			}
			a.MatchTitle("title")
		}
		if c.Timing.Min <= 0 || c.Timing.Min > c.Timing.Max || c.ScanInterval <= 0 ||
			c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxMaxMessageBytes {
			t.Fatalf("accepted %+v", c)
		}
		if _, err := c.RenderEnvelope(EnvelopeFields{ID: "x", From: "y", To: "z", Priority: "normal", Attempt: 1}); err != nil {
			t.Fatalf("accepted envelope %q: %v", c.Envelope, err)
		}
	})
}

func TestQuietAndDraftCheckKeys(t *testing.T) {
	c, err := Parse([]byte(`quiet_for: 500ms
quiet_max_wait: 10s
agents:
  A:
    x: 1
    y: 2
    window: w
    draft_check: true
    select_all: ctrl+slash
    copy: ctrl+c
    caret: ctrl+end
`), "")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Agent("A")
	if c.QuietFor != 500*time.Millisecond || c.QuietMaxWait != 10*time.Second || !a.DraftCheck ||
		a.SelectAll != "ctrl+slash" || a.Caret != "ctrl+end" {
		t.Fatalf("got %+v / %+v", c, a.AgentSettings)
	}
	_, err = Parse([]byte("quiet_for: soon\nagents:\n  A: {x: 1, y: 2, window: w, caret: ctrl+pgdn}\n"), "c.yaml")
	for _, want := range []string{"c.yaml:1: quiet_for", "c.yaml:3: agents.A.caret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

func TestMetricsAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"''", ""},
		{"9464", "127.0.0.1:9464"},
		{"':9464'", "127.0.0.1:9464"},
		{"127.0.0.1:0", "127.0.0.1:0"},
		{"localhost:9464", "localhost:9464"},
		{"'[::1]:9464'", "[::1]:9464"},
		{"0.0.0.0:9464", "0.0.0.0:9464"}, // written out: allowed
	} {
		y := "agents:\n  A: {x: 1, y: 1, window: w}\n"
		if tc.in != "" {
			y = "metrics: " + tc.in + "\n" + y
		}
		c, err := Parse([]byte(y), "coords.yaml")
		if err != nil {
			t.Fatalf("metrics: %s: %v", tc.in, err)
		}
		if c.Metrics != tc.want {
			t.Errorf("metrics: %s = %q, want %q", tc.in, c.Metrics, tc.want)
		}
	}
}

func TestBounceKey(t *testing.T) {
	c := mustParse(t, "defaults:\n  bounce: false\nagents:\n  A: {x: 1, y: 1, window: w}\n  B: {x: 2, y: 1, window: v, bounce: on}\n", "coords.yaml")
	a, _ := c.Agent("A")
	b, _ := c.Agent("B")
	if a.Bounce || !b.Bounce {
		t.Errorf("bounce: A %v (defaults false), B %v (on)", a.Bounce, b.Bounce)
	}
	if _, err := Parse([]byte("agents:\n  A: {x: 1, y: 1, window: w, bounce: maybe}\n"), "coords.yaml"); err == nil ||
		!strings.Contains(err.Error(), "coords.yaml:2: agents.A.bounce: must be true or false") {
		t.Errorf("bad bounce: %v", err)
	}
}

func TestAlertCommandKey(t *testing.T) {
	c := mustParse(t, "alert_command: ' notify-send \"$AGENTSPOOL_ALERT\" '\n"+minimal, "coords.yaml")
	if c.AlertCommand != `notify-send "$AGENTSPOOL_ALERT"` {
		t.Errorf("AlertCommand = %q", c.AlertCommand)
	}
	if _, err := Parse([]byte("alert_command: [a]\n"+minimal), "coords.yaml"); err == nil ||
		!strings.Contains(err.Error(), "coords.yaml:1: alert_command: must be a string") {
		t.Errorf("bad alert_command: %v", err)
	}
}

// The draft check is on by default for chat inputs and off for a
// terminal, where ctrl+a and ctrl+c mean line-start and interrupt (issue 14
// item 4); a terminal with a look needs its own copy key.
func TestKindSetsTheDraftCheckAndTheLook(t *testing.T) {
	c, err := Parse([]byte(`defaults:
  kind: chat
agents:
  Chat: {x: 1, y: 2, window: c}
  Term: {x: 1, y: 2, window: t, kind: terminal}
  TermChecked: {x: 1, y: 2, window: u, kind: terminal, draft_check: true, copy: ctrl+shift+c, select_all: ctrl+shift+a}
  ChatUnchecked: {x: 1, y: 2, window: v, draft_check: false}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		agent         string
		draft, verify bool
	}{{"Chat", true, true}, {"Term", false, false}, {"TermChecked", true, false}, {"ChatUnchecked", false, true}} {
		a, _ := c.Agent(tc.agent)
		if a.DraftCheck != tc.draft || a.VerifyPaste != tc.verify {
			t.Errorf("%s: draft_check %v, verify_paste %v; want %v, %v", tc.agent, a.DraftCheck, a.VerifyPaste, tc.draft, tc.verify)
		}
	}
	for in, want := range map[string]string{
		"agents:\n  T: {x: 1, y: 2, window: t, kind: terminal, verify_paste: true}\n": "c.yaml:2: agents.T.copy: kind terminal with draft_check or verify_paste on needs the terminal's own select_all and copy keys",
		"agents:\n  T: {x: 1, y: 2, window: t, kind: xterm}\n":                        `c.yaml:2: agents.T.kind: bad kind "xterm"`,
	} {
		if _, err := Parse([]byte(in), "c.yaml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

// An agent's ack_pattern (issue 11 item 1) compiles anchored to the whole
// name, with its id group; it is no default.
func TestAckPatternIsAnchoredAndNeverTheDefault(t *testing.T) {
	c, err := Parse([]byte("agents:\n  A: {x: 1, y: 2, window: w, ack_pattern: 'MESSAGE_[0-9]+_(?P<id>.+)\\.md'}\n  B: {x: 1, y: 2, window: v}\n"), "coords.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Agent("A")
	b, _ := c.Agent("B")
	if b.AckPattern != nil {
		t.Fatalf("B has ack pattern %v without writing one", b.AckPattern)
	}
	for name, want := range map[string]bool{"MESSAGE_12_abc.md": true, "xMESSAGE_12_abc.md": false, "MESSAGE_12_abc.md.bak": false, "MESSAGE__abc.md": false} {
		if got := a.AckPattern.MatchString(name); got != want {
			t.Errorf("%s matches: %v, want %v", name, got, want)
		}
	}
}
