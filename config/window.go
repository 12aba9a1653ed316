package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Window matching: how an agent's window is known (window:, class:, pid:),
// how a title is matched and refused when ambiguous, and the ack_pattern
// an agent's inbox tool may need.

// MatchTitle reports whether title matches the agent's Window: a
// substring, the exact title when Window is =title, or a regular expression
// when Window is /regex/. An empty Window matches nothing: pasting into an
// unknown window is never right. It does not look at other agents; the
// daemon uses Config.Matcher, which also refuses ambiguous titles.
func (a *Agent) MatchTitle(title string) bool {
	if a.Window == "" {
		return false
	}
	if expr, ok := regexBody(a.Window); ok {
		re := a.re
		if re == nil {
			// An Agent built by hand, not by Parse: compile per call rather
			// than cache, so MatchTitle never writes to a shared Agent.
			var err error
			if re, err = regexp.Compile(expr); err != nil {
				return false
			}
		}
		return re.MatchString(title)
	}
	if exact, ok := strings.CutPrefix(a.Window, "="); ok {
		return title == exact
	}
	return strings.Contains(title, a.Window)
}

// MatchWindow reports whether a window of this title, WM_CLASS (instance,
// class) and pid is the agent's: each binding the agent has (window:,
// class:, pid:) must hold; an agent without window: takes any title.
func (a *Agent) MatchWindow(title, instance, class string, pid int) bool {
	if a.PID != 0 && pid != a.PID {
		return false
	}
	if a.Class != "" && !strings.EqualFold(a.Class, instance) && !strings.EqualFold(a.Class, class) {
		return false
	}
	if a.Window == "" {
		return a.Class != "" || a.PID != 0
	}
	return a.MatchTitle(title)
}

// Matcher is the focus check for agent a (issue 11 item 14): the title must
// match a's Window and no other agent's. A title that several agents'
// matchers accept (window: Agent-1 and a window titled Agent-10) is
// ambiguous: nothing is pasted, and ambiguous hears the other agents'
// names so the caller can log an ERROR naming them.
func (c *Config) Matcher(a *Agent, ambiguous func(title string, others []string)) func(string) bool {
	return func(title string) bool {
		if !a.MatchTitle(title) {
			return false
		}
		var others []string
		for _, b := range c.Agents {
			if b != a && b.MatchTitle(title) {
				others = append(others, b.Name)
			}
		}
		if len(others) > 0 {
			if ambiguous != nil {
				ambiguous(title, others)
			}
			return false
		}
		return true
	}
}

// matchesEverything reports whether a /regex/ accepts any title: it matches
// the empty title, or every one of a few unrelated ones.
func matchesEverything(re *regexp.Regexp) bool {
	if re.MatchString("") {
		return true
	}
	for _, t := range []string{"x", "Terminal", "9", "— Mozilla Firefox", "Untitled"} {
		if !re.MatchString(t) {
			return false
		}
	}
	return true
}

// overlaps lists, for the load-time warning, pairs of agents where a title
// that is literally one agent's window (substring or exact) is also
// accepted by another's matcher.
func (c *Config) overlaps() []string {
	var out []string
	for _, a := range c.Agents {
		for _, b := range c.Agents {
			if a == b {
				continue
			}
			lit, ok := literalTitle(b.Window)
			if ok && a.MatchTitle(lit) {
				out = append(out, fmt.Sprintf("%s: agents %s (window %q) and %s (window %q) overlap: a window titled %q matches both; such a title is refused as ambiguous (nothing is pasted) — use =exact titles or anchored /^...$/ regexes", c.name, a.Name, a.Window, b.Name, b.Window, lit))
			}
		}
	}
	return out
}

// literalTitle is a title that a non-regex Window certainly matches.
func literalTitle(w string) (string, bool) {
	if _, ok := regexBody(w); ok || w == "" {
		return "", false
	}
	if exact, ok := strings.CutPrefix(w, "="); ok {
		return exact, exact != ""
	}
	return w, true
}

// regexBody returns the expression of a /regex/ window matcher.
func regexBody(w string) (string, bool) {
	if len(w) >= 2 && w[0] == '/' && w[len(w)-1] == '/' {
		return w[1 : len(w)-1], true
	}
	return "", false
}

// window reads an agent's window: (see MatchTitle), refusing what would
// match no title or every title.
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

// checkClass is the check of class: beyond being a string.
func checkClass(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", errors.New("must not be empty: leave it out, or name the window's WM_CLASS instance or class (agentspool coords capture shows it)")
	}
	return v, nil
}

// agentWindow: an agent names its window by title, class or pid, at least
// one (a window: written but bad has its own error).
func (p *parser) agentWindow(e entry, a *Agent, hasWindow bool) bool {
	if hasWindow || a.Class != "" || a.PID != 0 {
		return true
	}
	p.errf(e.k, join("agents."+e.name, "window"), "required key missing: name the agent's window by its title (window:), or by what lasts (class:, pid:; agentspool coords capture %s --at X,Y writes it)", e.name)
	return false
}

// agentPane: an agent in a tmux pane names its pane (tmux:) and nothing
// of a window's.
func (p *parser) agentPane(e entry, present map[string]bool) bool {
	base := "agents." + e.name
	if !present["tmux"] {
		p.errf(e.k, join(base, "tmux"), "required key missing: tmux_socket and tmux_bracketed are for an agent in a tmux pane; name its pane (tmux: work:2.1, or %%5)")
		return false
	}
	for _, k := range []string{"x", "y", "window", "class", "pid"} {
		if present[k] {
			p.errf(e.k, join(base, k), "an agent is either a window (x, y, window, class, pid) or a tmux pane (tmux:), not both: leave %s out", k)
			return false
		}
	}
	return true
}

// samePane refuses two agents written with one pane (the same target on
// the same server): a message for one would be pasted into the other's.
// (Two targets that name one pane, work:1.0 and %3, are told apart only
// by tmux: the daemon's lock is per pane id.)
func (p *parser) samePane(agents []*Agent) {
	for i, a := range agents {
		for _, b := range agents[:i] {
			if a.Tmux != "" && a.Tmux == b.Tmux && a.TmuxSocket == b.TmuxSocket {
				p.errs = append(p.errs, &keyError{file: p.file, line: a.Line, key: join("agents."+a.Name, "tmux"),
					msg: fmt.Sprintf("agents %s and %s are both the tmux pane %q: give each its own pane", b.Name, a.Name, a.Tmux)})
			}
		}
	}
}

// checkTmuxTarget is the check of tmux: a target-pane as tmux takes it
// (session:window.pane, %pane-id, …), one that cannot be read as an
// option or a second argument.
func checkTmuxTarget(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", errors.New("must not be empty: name the agent's pane (work:2.1, %5; tmux display -p '#{pane_id}' in the pane shows it)")
	case strings.HasPrefix(v, "-"), strings.ContainsAny(v, " \t\n"):
		return "", fmt.Errorf("%q is not a tmux target-pane (work:2.1, %%5)", v)
	case strings.HasPrefix(v, "%"):
		if _, err := strconv.Atoi(v[1:]); err != nil {
			return "", fmt.Errorf("%q is not a tmux pane id (%%5)", v)
		}
	case strings.HasPrefix(v, ":") || !strings.Contains(v, ":"):
		// tmux takes a bare name for a pane, a window or a session,
		// whichever it finds first, and by prefix: "pa" finds a window
		// "pandas" in another session.
		return "", fmt.Errorf("%q names no session: write SESSION: (its active pane), SESSION:WINDOW.PANE (work:2.1) or a pane id (%%5); a bare name may be taken by tmux for another session's window", v)
	}
	return v, nil
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
