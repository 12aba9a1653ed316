package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// An agent in a tmux pane is written with tmux: (and tmux_socket:), and
// nothing of a window's.
func TestPaneAgents(t *testing.T) {
	c := mustParse(t, `agents:
  Claude:
    tmux: "work:1.0"
  Shell:
    tmux: "%5"
    tmux_socket: /run/user/1000/tmux-1000/agents
    tmux_bracketed: true
  Desk:
    x: 1
    y: 2
    window: Cursor
`, "/etc/coords.yaml")
	a, _ := c.Agent("Claude")
	if a.Tmux != "work:1.0" || a.TmuxSocket != "" || a.TmuxBracketed {
		t.Errorf("Claude: %+v", a)
	}
	s, _ := c.Agent("Shell")
	sock, _ := filepath.Abs("/run/user/1000/tmux-1000/agents") // Z:\run\… under Wine
	if s.Tmux != "%5" || s.TmuxSocket != sock || !s.TmuxBracketed {
		t.Errorf("Shell: %+v", s)
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"a window's keys beside tmux", "agents:\n  A:\n    tmux: w:1\n    x: 1\n", "either a window"},
		{"a socket without a pane", "agents:\n  A:\n    tmux_socket: /tmp/s\n", "name its pane"},
		{"an option for a target", "agents:\n  A:\n    tmux: -t\n", "not a tmux target-pane"},
		{"an empty target", "agents:\n  A:\n    tmux: \"\"\n", "must not be empty"},
		{"a bare name (tmux may take it for another session's window)", "agents:\n  A:\n    tmux: pa\n", "names no session"},
		{"no session", "agents:\n  A:\n    tmux: \":1.0\"\n", "names no session"},
		{"a bad pane id", "agents:\n  A:\n    tmux: \"%x\"\n", "not a tmux pane id"},
		{"one pane for two agents", "agents:\n  A:\n    tmux: w:1\n  B:\n    tmux: w:1\n", "both the tmux pane"},
		{"neither a window nor a pane", "agents:\n  A:\n    submit: enter\n", "or tmux: for an agent in a tmux pane"},
	} {
		_, err := Parse([]byte(c.yaml), "coords.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}
