package config

import (
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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
		p.errf(e.k, join(base, "copy"), "kind terminal with draft_check or verify_paste on needs the terminal's own copy key (e.g. copy: ctrl+shift+c, select_all: the terminal's select-all): ctrl+c would interrupt the agent")
		return nil
	}
	if a.Inbox == "" {
		a.Inbox = filepath.Join(c.InboxRoot, a.Name, "inbox")
	}
	return a
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
