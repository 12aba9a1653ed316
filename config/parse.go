package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Parse's walk over the file: the top level in file order, then the
// agents, each key read through the schema (schema.go); then the rules
// that join keys, each a small function: below, and for an agent's window
// (agentWindow, sameWindow) in window.go.

func (p *parser) parse(data []byte, c *Config) {
	root := p.decode(data)
	if root == nil {
		return
	}
	top := p.entries(root, "", keysIn(atTop))
	if top == nil && len(p.errs) == 0 {
		p.errf(root, "", "empty file: want at least an agents: section")
		return
	}
	// Scalars and defaults first, whatever their place in the file: the
	// agents inherit from defaults and inbox_root.
	var agents *entry
	def := settings{AgentSettings: DefaultAgentSettings}
	for i, e := range top {
		switch e.name {
		case "timing":
			p.timing(e, c)
		case "defaults":
			p.walk(e.v, e.name, inDefaults, dest{s: &def})
		case "agents":
			agents = &top[i]
		default:
			_, d := directiveFor(atTop, e.name)
			d.read(p, e.v, e.name, dest{dir: p.dir, c: c})
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
	p.samePane(c.Agents)
}

// timing reads timing: and checks that its bounds are in order.
func (p *parser) timing(e entry, c *Config) {
	t := c.Timing
	p.walk(e.v, "timing", inTiming, dest{t: &t})
	if t.Min > t.Max {
		p.errf(e.v, "timing", "min %s is more than max %s", t.Min, t.Max)
		return
	}
	c.Timing = t
}

// agent reads one agent, its settings over def; nil when it has errors.
func (p *parser) agent(e entry, def settings, c *Config) *Agent {
	base := "agents." + e.name
	ok := true
	if !ValidName(e.name) {
		p.errf(e.k, base, "bad agent name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ without \"..\"", e.name)
		ok = false
	}
	a := &Agent{Name: e.name, Line: e.k.Line}
	s := def
	present, good := p.walk(e.v, base, inAgent, dest{dir: p.dir, s: &s, a: a})
	ok = ok && good
	// A key present though bad is not also missing: its error is said.
	if present["tmux"] || present["tmux_socket"] || present["tmux_bracketed"] {
		if !p.agentPane(e, present) {
			ok = false
		}
	} else {
		for _, d := range directives {
			if d.required && d.in&inAgent != 0 && !present[d.name] {
				p.errf(e.k, join(base, d.name), "required key missing (or tmux: for an agent in a tmux pane)")
				ok = false
			}
		}
		if !p.agentWindow(e, a, present["window"]) {
			ok = false
		}
	}
	if !ok {
		return nil
	}
	a.AgentSettings = s.resolved()
	if !p.terminalCopy(e, a) {
		return nil
	}
	if a.Inbox == "" {
		a.Inbox = filepath.Join(c.InboxRoot, a.Name, "inbox")
	}
	return a
}

// resolved are the settings with the keys not written following others:
// urgent_submit is submit's; for kind terminal, draft_check and
// verify_paste are off.
func (s *settings) resolved() AgentSettings {
	out := s.AgentSettings
	if !s.wrote("urgent_submit") {
		out.UrgentSubmit = out.Submit
	}
	if out.Kind == KindTerminal {
		if !s.wrote("draft_check") {
			out.DraftCheck = false
		}
		if !s.wrote("verify_paste") {
			out.VerifyPaste = false
		}
	}
	return out
}

// terminalCopy: kind terminal with a look into the input needs a copy key
// of its own. In a terminal ctrl+c interrupts the program the agent runs.
func (p *parser) terminalCopy(e entry, a *Agent) bool {
	if a.Kind == KindTerminal && (a.DraftCheck || a.VerifyPaste) && a.Copy == DefaultAgentSettings.Copy {
		p.errf(e.k, join("agents."+e.name, "copy"), "kind terminal with draft_check or verify_paste on needs the terminal's own select_all and copy keys: ctrl+c would interrupt the agent (and no ctrl+c/z/d/\\ with any modifier is ever tapped into a terminal: a look in a terminal needs keys without them)")
		return false
	}
	return true
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
