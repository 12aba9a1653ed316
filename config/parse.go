package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// keyError is one problem in the file, at a key and a line.
type keyError struct {
	file string
	line int // 0: unknown
	key  string
	msg  string
}

func (e *keyError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.file != "" {
		b.WriteString(e.file)
		if e.line > 0 {
			b.WriteString(":" + strconv.Itoa(e.line))
		}
		b.WriteString(": ")
	}
	if e.key != "" {
		b.WriteString(e.key + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// The keys of the file. The walk below is by hand over a yaml.Node rather
// than yaml.Unmarshal into structs so that every error can name its key and
// line, duplicate agents are caught (a Go map would keep the last), and all
// errors are reported, not the first.
var (
	settingKeys = []string{"submit", "urgent_submit", "undo", "ack", "ack_timeout", "max_attempts", "paste", "backoff",
		"kind", "draft_check", "select_all", "copy", "caret", "paste_settle", "verify_paste", "deliver_when", "urgent_after", "busy_max", "bounce", "paste_key"}
	agentKeys = append([]string{"x", "y", "window", "class", "pid", "inbox", "ack_pattern"}, settingKeys...)
	topKeys   = []string{"spool", "inbox_root", "lock_file", "max_message_bytes", "envelope", "timing", "scan_interval",
		"quiet_for", "quiet_max_wait", "metrics", "alert_command", "defaults", "agents"}
	timingKeys = []string{"min", "max"}
)

type parser struct {
	file string // the file's name in messages
	dir  string // base of relative paths
	errs []*keyError
}

func (p *parser) errf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &keyError{file: p.file, line: line, key: key, msg: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].line < p.errs[j].line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// decode parses data into its one document node; nil when the file is empty
// or has errors (recorded).
func (p *parser) decode(data []byte) (doc *yaml.Node) {
	defer func() {
		// yaml.v3 has panicked on hostile input before (CVE-2022-28948);
		// a bad config file must be an error, never a crash of the daemon.
		if r := recover(); r != nil {
			p.errf(nil, "", "yaml: cannot parse: %v", r)
			doc = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			p.errf(nil, "", "empty file: want at least an agents: section")
			return nil
		}
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errf(&extra, "", "a second YAML document (---); want one")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(n.Content) == 0 {
		p.errf(nil, "", "empty file: want at least an agents: section")
		return nil
	}
	return n.Content[0]
}

// yamlError records a syntax error of yaml.v3, moving its line to the front
// where our other messages have it.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = "yaml: " + msg[len(m[0]):]
	}
	p.errs = append(p.errs, &keyError{file: p.file, line: line, msg: msg})
}

// resolve follows aliases (*name) to the node they name. A node cannot be
// an alias of an alias, but a bound keeps a hostile file from looping.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

type entry struct {
	name string
	k, v *yaml.Node
}

// entries returns the keys of mapping n in order. Non-string keys,
// duplicates and (when known is not nil) unknown keys are errors and left
// out. A null node (a key with nothing after it) is an empty mapping.
func (p *parser) entries(n *yaml.Node, path string, known []string) []entry {
	r := resolve(n)
	if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
		return nil
	}
	if r.Kind != yaml.MappingNode {
		p.errf(n, path, "must be a mapping of keys, got %s", kindName(r))
		return nil
	}
	var out []entry
	first := make(map[string]int)
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := resolve(r.Content[i]), r.Content[i+1]
		key := join(path, k.Value)
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.errf(r.Content[i], path, "keys must be names, got %s", kindName(k))
			continue
		}
		if known != nil && !contains(known, k.Value) {
			if k.Value == "<<" {
				p.errf(r.Content[i], key, "merge keys are not supported; put shared settings under defaults:")
			} else {
				p.errf(r.Content[i], key, "unknown key (known here: %s)", strings.Join(known, ", "))
			}
			continue
		}
		if line, dup := first[k.Value]; dup {
			if path == "agents" {
				p.errf(r.Content[i], key, "duplicate agent (first at line %d)", line)
			} else {
				p.errf(r.Content[i], key, "duplicate key (first at line %d)", line)
			}
			continue
		}
		first[k.Value] = r.Content[i].Line
		out = append(out, entry{name: k.Value, k: r.Content[i], v: v})
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scalar returns the scalar under n, or records that it is not one.
func (p *parser) scalar(n *yaml.Node, key, want string) (*yaml.Node, bool) {
	r := resolve(n)
	if r.Kind != yaml.ScalarNode {
		p.errf(n, key, "must be %s, got %s", want, kindName(r))
		return nil, false
	}
	return r, true
}

func (p *parser) str(n *yaml.Node, key string) (string, bool) {
	r, ok := p.scalar(n, key, "a string")
	if !ok {
		return "", false
	}
	if r.Tag == "!!null" {
		return "", true
	}
	return r.Value, true
}

func (p *parser) integer(n *yaml.Node, key string, min, max int64) (int64, bool) {
	r, ok := p.scalar(n, key, "an integer")
	if !ok {
		return 0, false
	}
	var v int64
	if r.Tag != "!!int" || r.Decode(&v) != nil {
		p.errf(n, key, "must be an integer, got %s", kindName(r))
		return 0, false
	}
	if v < min || v > max {
		p.errf(n, key, "must be %d..%d, got %d", min, max, v)
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, key string) (bool, bool) {
	r, ok := p.scalar(n, key, "true or false")
	if !ok {
		return false, false
	}
	// yaml.v3 reads only true/false as booleans; on/off and yes/no are
	// accepted too because people write them (DESIGN says "ack: off").
	switch strings.ToLower(r.Value) {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	p.errf(n, key, "must be true or false, got %s", kindName(r))
	return false, false
}

// duration parses a Go duration ("30s", "1m30s") that must be > 0, or >= 0
// when zeroOK.
func (p *parser) duration(n *yaml.Node, key string, zeroOK bool) (time.Duration, bool) {
	r, ok := p.scalar(n, key, "a duration")
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(r.Value)
	if err != nil {
		if _, e := strconv.ParseFloat(r.Value, 64); e == nil && r.Value != "0" {
			p.errf(n, key, "bad duration %q: give a unit, e.g. %ss", r.Value, r.Value)
		} else {
			p.errf(n, key, "bad duration %q (e.g. 500ms, 30s, 2m)", r.Value)
		}
		return 0, false
	}
	if d < 0 || d == 0 && !zeroOK {
		p.errf(n, key, "bad duration %q: must be more than 0", r.Value)
		return 0, false
	}
	return d, true
}

func (p *parser) keyCombo(n *yaml.Node, key string) (string, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return "", false
	}
	keys, err := parseKeyCombo(s)
	if err != nil {
		p.errf(n, key, "%v", err)
		return "", false
	}
	return strings.Join(keys, "+"), true
}

// path resolves a path from the file: ~/ is the home directory, relative
// paths are relative to the file's directory. On Windows the file may
// spell paths as Windows does: C:\x or C:/x, \\server\share\x, ~\x; and
// \x or /x (rooted, no drive) is on the file's drive, where Windows itself
// would take the drive of whatever the working directory is.
func (p *parser) path(n *yaml.Node, key string, emptyOK bool) (string, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return "", false
	}
	if s == "" {
		if !emptyOK {
			p.errf(n, key, "must not be empty")
			return "", false
		}
		return "", true
	}
	if s == "~" || strings.HasPrefix(s, "~/") || len(s) > 1 && s[0] == '~' && os.IsPathSeparator(s[1]) {
		home, err := os.UserHomeDir()
		if err != nil {
			p.errf(n, key, "cannot expand ~: %v", err)
			return "", false
		}
		s = filepath.Join(home, s[1:])
	}
	if !filepath.IsAbs(s) {
		if vol := filepath.VolumeName(p.dir); vol != "" && os.IsPathSeparator(s[0]) {
			s = vol + s // Windows: \x is not relative to the file's directory
		} else {
			s = filepath.Join(p.dir, s)
		}
	}
	return filepath.Clean(s), true
}

// settings holds one AgentSettings being built, and whether urgent_submit
// was written (else it follows submit).
type settings struct {
	AgentSettings
	urgentSet bool
	// draftSet, verifySet: draft_check, verify_paste were written (else
	// they follow kind).
	draftSet, verifySet bool
}

func (s *settings) resolved() AgentSettings {
	out := s.AgentSettings
	if !s.urgentSet {
		out.UrgentSubmit = out.Submit
	}
	if out.Kind == KindTerminal {
		if !s.draftSet {
			out.DraftCheck = false
		}
		if !s.verifySet {
			out.VerifyPaste = false
		}
	}
	return out
}

// setting applies one key of settingKeys to s.
func (p *parser) setting(s *settings, e entry, key string) {
	switch e.name {
	case "submit":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.Submit = v
		}
	case "urgent_submit":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.UrgentSubmit, s.urgentSet = v, true
		}
	case "undo":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.Undo = v
		}
	case "ack":
		if v, ok := p.boolean(e.v, key); ok {
			s.Ack = v
		}
	case "ack_timeout":
		if v, ok := p.duration(e.v, key, false); ok {
			s.AckTimeout = v
		}
	case "max_attempts":
		if v, ok := p.integer(e.v, key, 1, 100); ok {
			s.MaxAttempts = int(v)
		}
	case "paste":
		if v, ok := p.str(e.v, key); ok {
			switch v {
			case PasteFull, PastePointer:
				s.Paste = v
			default:
				p.errf(e.v, key, "bad paste mode %q: want full or pointer", v)
			}
		}
	case "backoff":
		if v, ok := p.duration(e.v, key, true); ok {
			s.Backoff = v
		}
	case "kind":
		if v, ok := p.str(e.v, key); ok {
			switch v {
			case KindChat, KindTerminal:
				s.Kind = v
			case "auto":
				s.Kind = KindAuto
			default:
				p.errf(e.v, key, "bad kind %q: want auto (the default: a terminal is known by its window), chat (a chat or editor input) or terminal (no draft check and no verifying look: ctrl+a and ctrl+c mean something else there)", v)
			}
		}
	case "draft_check":
		if v, ok := p.boolean(e.v, key); ok {
			s.DraftCheck, s.draftSet = v, true
		}
	case "verify_paste":
		if v, ok := p.boolean(e.v, key); ok {
			s.VerifyPaste, s.verifySet = v, true
		}
	case "bounce":
		if v, ok := p.boolean(e.v, key); ok {
			s.Bounce = v
		}
	case "paste_settle":
		if v, ok := p.duration(e.v, key, true); ok {
			if v > time.Second {
				p.errf(e.v, key, "paste_settle %v is more than 1s: the keyboard is held that long per message", v)
			} else {
				s.PasteSettle = v
			}
		}
	case "deliver_when":
		if v, ok := p.str(e.v, key); ok {
			switch v {
			case DeliverReady, DeliverAlways:
				s.DeliverWhen = v
			default:
				p.errf(e.v, key, "bad value %q: want ready or always (leave it out for: ready once the agent's hooks are installed)", v)
			}
		}
	case "urgent_after":
		if v, ok := p.duration(e.v, key, true); ok {
			s.UrgentAfter = v
		}
	case "busy_max":
		if v, ok := p.duration(e.v, key, false); ok {
			s.BusyMax = v
		}
	case "paste_key":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.PasteKey = v
		}
	case "select_all":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.SelectAll = v
		}
	case "copy":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.Copy = v
		}
	case "caret":
		if v, ok := p.keyCombo(e.v, key); ok {
			s.Caret = v
		}
	}
}

func (p *parser) parse(data []byte, c *Config) {
	root := p.decode(data)
	if root == nil {
		return
	}
	top := p.entries(root, "", topKeys)
	if top == nil && len(p.errs) == 0 {
		p.errf(root, "", "empty file: want at least an agents: section")
		return
	}
	// Scalars and defaults first, whatever their place in the file: the
	// agents inherit from defaults and inbox_root.
	var agents *entry
	def := settings{AgentSettings: DefaultAgentSettings}
	for i, e := range top {
		key := e.name
		switch e.name {
		case "spool":
			if v, ok := p.path(e.v, key, false); ok {
				c.Spool = v
			}
		case "inbox_root":
			if v, ok := p.path(e.v, key, false); ok {
				c.InboxRoot = v
			}
		case "lock_file":
			if v, ok := p.path(e.v, key, true); ok {
				c.LockFile = v
			}
		case "max_message_bytes":
			if v, ok := p.integer(e.v, key, 1, MaxMaxMessageBytes); ok {
				c.MaxMessageBytes = v
			}
		case "envelope":
			if v, ok := p.str(e.v, key); ok {
				if _, err := renderEnvelope(v, EnvelopeFields{ID: "id", From: "from", To: "to", Priority: "normal", Attempt: 1}); err != nil {
					p.errf(e.v, key, "bad template %q: %v (fields: .ID .From .To .Priority .Attempt)", v, err)
				} else {
					c.Envelope = v
				}
			}
		case "scan_interval":
			if v, ok := p.duration(e.v, key, false); ok {
				c.ScanInterval = v
			}
		case "quiet_for":
			if v, ok := p.duration(e.v, key, true); ok {
				c.QuietFor = v
			}
		case "quiet_max_wait":
			if v, ok := p.duration(e.v, key, true); ok {
				c.QuietMaxWait = v
			}
		case "metrics":
			if v, ok := p.str(e.v, key); ok {
				if addr, err := metricsAddr(v); err != nil {
					p.errf(e.v, key, "%v", err)
				} else {
					c.Metrics = addr
				}
			}
		case "alert_command":
			if v, ok := p.str(e.v, key); ok {
				c.AlertCommand = strings.TrimSpace(v)
			}
		case "timing":
			p.timing(e, c)
		case "defaults":
			for _, d := range p.entries(e.v, key, settingKeys) {
				p.setting(&def, d, join(key, d.name))
			}
		case "agents":
			agents = &top[i]
		}
	}
	c.Defaults = def.resolved()
	if agents == nil {
		p.errf(root, "agents", "required key missing: name at least one agent")
		return
	}
	for _, e := range p.entries(agents.v, "agents", nil) {
		if a := p.agent(e, def, c); a != nil {
			c.Agents = append(c.Agents, a)
		}
	}
	if len(c.Agents) == 0 && len(p.errs) == 0 {
		p.errf(agents.k, "agents", "no agents: name at least one")
	}
	p.sameWindow(c.Agents)
}

// sameWindow refuses two agents bound to windows only by one class (and
// the same pid, if any): one window would satisfy both, and a message
// for one could be pasted into the other's.
func (p *parser) sameWindow(agents []*Agent) {
	for i, a := range agents {
		for _, b := range agents[:i] {
			if a.Window == "" && b.Window == "" && a.Class != "" && strings.EqualFold(a.Class, b.Class) && a.PID == b.PID {
				p.errs = append(p.errs, &keyError{file: p.file, line: a.Line, key: join("agents."+a.Name, "class"),
					msg: fmt.Sprintf("agents %s and %s are both bound to class %q alone: one window would be taken for both; give each terminal its own class (xterm -name, --class) or add window:/pid:", b.Name, a.Name, a.Class)})
			}
		}
	}
}

func (p *parser) timing(e entry, c *Config) {
	t := c.Timing
	for _, d := range p.entries(e.v, "timing", timingKeys) {
		if v, ok := p.duration(d.v, "timing."+d.name, false); ok {
			if d.name == "min" {
				t.Min = v
			} else {
				t.Max = v
			}
		}
	}
	if t.Min > t.Max {
		p.errf(e.v, "timing", "min %s is more than max %s", t.Min, t.Max)
		return
	}
	c.Timing = t
}

func (p *parser) agent(e entry, def settings, c *Config) *Agent {
	base := "agents." + e.name
	ok := true
	if !ValidName(e.name) {
		p.errf(e.k, base, "bad agent name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ without \"..\"", e.name)
		ok = false
	}
	a := &Agent{Name: e.name, Line: e.k.Line}
	s := def
	var hasX, hasY, hasWindow, hasClass bool
	for _, f := range p.entries(e.v, base, agentKeys) {
		key := join(base, f.name)
		switch f.name {
		case "x", "y":
			v, good := p.integer(f.v, key, math.MinInt32, math.MaxInt32)
			if !good {
				ok = false
			} else if f.name == "x" {
				a.X = int(v)
			} else {
				a.Y = int(v)
			}
			// Present though bad: the error is already said; not "missing".
			hasX = hasX || f.name == "x"
			hasY = hasY || f.name == "y"
		case "window":
			hasWindow = true
			if !p.window(f.v, key, a) {
				ok = false
			}
		case "class":
			if v, good := p.str(f.v, key); !good {
				ok = false
			} else if strings.TrimSpace(v) == "" {
				p.errf(f.v, key, "must not be empty: leave it out, or name the window's WM_CLASS instance or class (agentspool coords capture shows it)")
				ok = false
			} else {
				a.Class, hasClass = v, true
			}
		case "pid":
			if v, good := p.integer(f.v, key, 0, math.MaxInt32); good {
				a.PID = int(v)
			} else {
				ok = false
			}
		case "inbox":
			if v, good := p.path(f.v, key, false); good {
				a.Inbox = v
			} else {
				ok = false
			}
		case "ack_pattern":
			if v, good := p.str(f.v, key); !good {
				ok = false
			} else if re, err := AckPattern(v); err != nil {
				p.errf(f.v, key, "%v", err)
				ok = false
			} else {
				a.AckPattern = re
			}
		default:
			n := len(p.errs)
			p.setting(&s, f, key)
			ok = ok && len(p.errs) == n
		}
	}
	for _, m := range []struct {
		has  bool
		name string
	}{{hasX, "x"}, {hasY, "y"}, {hasWindow || hasClass || a.PID != 0, "window"}} {
		if !m.has {
			if m.name == "window" {
				p.errf(e.k, join(base, m.name), "required key missing: name the agent's window by its title (window:), or by what lasts (class:, pid:; agentspool coords capture %s --at X,Y writes it)", e.name)
			} else {
				p.errf(e.k, join(base, m.name), "required key missing")
			}
			ok = false
		}
	}
	if !ok {
		return nil
	}
	a.AgentSettings = s.resolved()
	if a.Kind == KindTerminal && (a.DraftCheck || a.VerifyPaste) && a.Copy == DefaultAgentSettings.Copy {
		// In a terminal ctrl+c interrupts the program the agent runs.
		p.errf(e.k, join(base, "copy"), "kind terminal with draft_check or verify_paste on needs the terminal's own select_all and copy keys: ctrl+c would interrupt the agent (and no ctrl+c/z/d/\\ with any modifier is ever tapped into a terminal: a look in a terminal needs keys without them)")
		return nil
	}
	if a.Inbox == "" {
		a.Inbox = filepath.Join(c.InboxRoot, a.Name, "inbox")
	}
	return a
}

func (p *parser) window(n *yaml.Node, key string, a *Agent) bool {
	w, ok := p.str(n, key)
	if !ok {
		return false
	}
	if w == "" {
		p.errf(n, key, "must not be empty: it is what keeps a message out of the wrong window")
		return false
	}
	if expr, isRE := regexBody(w); isRE {
		if expr == "" {
			p.errf(n, key, "empty regex // would match every window")
			return false
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			p.errf(n, key, "bad regex %s: %v", w, err)
			return false
		}
		if matchesEverything(re) {
			p.errf(n, key, "regex %s matches every window title: it would let any window pass for the agent's; anchor it, e.g. /^Agent-1( — .*)?$/", w)
			return false
		}
		a.re = re
	}
	if w == "=" {
		p.errf(n, key, "=: an exact title must not be empty")
		return false
	}
	a.Window = w
	return true
}

// AckPattern compiles an agent's ack_pattern: a regular expression (RE2)
// over a whole file name in the agent's inbox, with one group named "id"
// capturing the message id (e.g. MESSAGE_[0-9]+_(?P<id>.+)\.md). It is
// refused when it has no such group, or when a file named like a bare id
// or like a message (m1, m1.md) would count as an ack: the pattern must
// hold text of its own around the id.
func AckPattern(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("bad regex %q: %v", expr, err)
	}
	n := 0
	for _, name := range re.SubexpNames() {
		if name == "id" {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("regex %q must have exactly one group named id, as in MESSAGE_[0-9]+_(?P<id>.+)\\.md, to say where the message id is in the name", expr)
	}
	for _, name := range []string{"m1", "m1.md", "m1.txt"} {
		if m := re.FindStringSubmatch(name); m != nil {
			return nil, fmt.Errorf("regex %q takes a file named %s for the ack of %q: an ack pattern must hold text of its own around the id", expr, name, m[re.SubexpIndex("id")])
		}
	}
	return re, nil
}

// metricsAddr checks the `metrics:` listen address. Empty is off. A bare
// port ("9464") or ":9464" listens on loopback only: Go would take ":9464"
// as every interface, and the figures name the person's agents. Any other
// host must be written out (an IP address or localhost), so an address
// reachable from the network is never an accident.
func metricsAddr(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if _, err := strconv.Atoi(v); err == nil {
		v = ":" + v
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("bad listen address %q: want host:port, e.g. 127.0.0.1:9464 (empty: off)", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("bad port %q in %q: want 0..65535", port, v)
	}
	switch {
	case host == "":
		host = "127.0.0.1"
	case host == "localhost":
	case net.ParseIP(host) == nil:
		return "", fmt.Errorf("bad host %q in %q: want an IP address or localhost (a name could resolve to a public address)", host, v)
	}
	return net.JoinHostPort(host, port), nil
}
