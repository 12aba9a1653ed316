package config

import (
	"os"
	"strings"
	"testing"
)

func TestEditAgentsKeepsTheRestOfTheFile(t *testing.T) {
	data, err := os.ReadFile("../coords.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := EditAgents(data, []AgentEdit{
		{Name: "Agent-4", X: 11, Y: -22, Window: `Cursor "4"`},
		{Name: "Agent-7", X: 5, Y: 6}, // keeps its /regex/ window
		{Name: "Agent-9", X: 100, Y: 200, Window: "Agent-9 — Cursor"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(out, "coords.yaml")
	if err != nil {
		t.Fatalf("edited file does not parse: %v\n%s", err, out)
	}
	for _, want := range []struct {
		name   string
		x, y   int
		window string
	}{{"Agent-4", 11, -22, `Cursor "4"`}, {"Agent-7", 5, 6, "/^Agent-7( — .*)?$/"}, {"Agent-9", 100, 200, "Agent-9 — Cursor"}, {"Agent-1", -1269, 496, "Agent-1"}} {
		a, ok := c.Agent(want.name)
		if !ok || a.X != want.x || a.Y != want.y || a.Window != want.window {
			t.Errorf("%s = %+v, want (%d, %d) %q", want.name, a, want.x, want.y, want.window)
		}
	}
	if got := c.Names(); got[len(got)-1] != "Agent-9" {
		t.Errorf("order %v: the new agent should come last", got)
	}
	// Every line of the original is still in its place but the edited
	// values; the new agent is appended.
	outLines := strings.Split(string(out), "\n")
	inLines := strings.Split(string(data), "\n")
	changed := 0
	for i, l := range inLines[:len(inLines)-1] { // the last is "" after the final newline
		if outLines[i] != l {
			changed++
			if !strings.Contains(l, "x:") && !strings.Contains(l, "y:") && !strings.Contains(l, "window:") {
				t.Errorf("line %d changed: %q -> %q", i+1, l, outLines[i])
			}
		}
	}
	if changed != 5 { // Agent-4 x, y, window; Agent-7 x, y
		t.Errorf("%d lines changed, want 5:\n%s", changed, out)
	}
	if len(outLines) != len(strings.Split(string(data), "\n"))+4 {
		t.Errorf("want 4 added lines (the new agent):\n%s", out)
	}
}

func TestEditAgentsShapes(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"comments only", "# my agents\n"},
		{"no agents key", "spool: ./s # the spool\n"},
		{"null agents", "agents:\n"},
		{"flow agents", "agents: {Agent-1: {x: 1, y: 2, window: a}}\n"},
		{"flow agent", "agents:\n  Agent-1: {x: 1, y: 2, window: a}\n  Agent-2: {x: 3, y: 4, window: b}\n"},
		{"missing keys", "agents:\n  Agent-2:\n    x: 1\n    y: 2\n    window: b\n  Agent-1:\n    submit: enter\n"},
		{"single quoted", "agents:\n  Agent-1:\n    x: 1\n    y: 2\n    window: 'it''s' # kept\n"},
		{"no final newline", "agents:\n  Agent-2:\n    x: 1\n    y: 2\n    window: b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := EditAgents([]byte(tc.in), []AgentEdit{{Name: "Agent-1", X: -7, Y: 8, Window: "A 1"}})
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(out, "")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			a, ok := c.Agent("Agent-1")
			if !ok || a.X != -7 || a.Y != 8 || a.Window != "A 1" {
				t.Errorf("Agent-1 = %+v\n%s", a, out)
			}
			if strings.Contains(tc.in, "#") && !strings.Contains(string(out), "#") {
				t.Errorf("comment lost:\n%s", out)
			}
		})
	}
}

func TestEditAgentsRefuses(t *testing.T) {
	if _, err := EditAgents([]byte("agents:\n"), []AgentEdit{{Name: "bad name", X: 1, Y: 1, Window: "w"}}); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := EditAgents([]byte("- a\n- b\n"), []AgentEdit{{Name: "A", X: 1, Y: 1, Window: "w"}}); err == nil {
		t.Error("a list accepted as the file")
	}
	if _, err := EditAgents([]byte("agents:\n"), []AgentEdit{{Name: "A", X: 1, Y: 1}}); err == nil {
		t.Error("a new agent without a window accepted")
	}
}

func TestParseCursorCoords(t *testing.T) {
	data, err := os.ReadFile("../cmd/agentspool/testdata/cursor_agent_coords.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCursorCoords(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []ImportedAgent{{"Agent-1", -1269, 496, ""}, {"Agent-2", 1440, 980, "Agent-2 — Cursor"}, {"Agent-3", 2400, 980, ""}, {"Agent-10", 3360, 2060, ""}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("agent %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{
		`{}`, `{"agents": []}`, `{"agents": {}}`, `not json`,
		`{"agents": {"Agent 1": {"chat_input_coordinates": [1, 2]}}}`,
		`{"agents": {"A": {"chat_input_coordinates": [1]}}}`,
		`{"agents": {"A": {"chat_input_coordinates": [1.5, 2]}}}`,
		`{"agents": {"A": {"chat_input_coordinates": [1, 2]}, "A": {"chat_input_coordinates": [1, 2]}}}`,
	} {
		if _, err := ParseCursorCoords([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestEditAgentsBindsByClassAndDropsATitle(t *testing.T) {
	in := "# agents\nagents:\n  Agent-1:\n    x: 1\n    y: 2\n    window: \"✳ Claude Code\" # rewritten by the CLI\n    submit: enter\n  Agent-2:\n    x: 3\n    y: 4\n    window: b\n"
	out, err := EditAgents([]byte(in), []AgentEdit{
		{Name: "Agent-1", X: 10, Y: 20, Class: "agent-1", DropWindow: true},
		{Name: "Agent-3", X: 30, Y: 40, Class: "xterm", PID: 4242},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(out, "")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a1, _ := c.Agent("Agent-1")
	a3, _ := c.Agent("Agent-3")
	if a1 == nil || a1.Window != "" || a1.Class != "agent-1" || a1.X != 10 || a1.Submit != "enter" {
		t.Errorf("Agent-1 = %+v\n%s", a1, out)
	}
	if a3 == nil || a3.Class != "xterm" || a3.PID != 4242 || a3.Window != "" {
		t.Errorf("Agent-3 = %+v\n%s", a3, out)
	}
	if !strings.Contains(string(out), "# agents") {
		t.Errorf("comment lost:\n%s", out)
	}
	// Two agents bound by one class alone: one window would be both's.
	if _, err := Parse([]byte("agents:\n  A:\n    x: 1\n    y: 1\n    class: xterm\n  B:\n    x: 2\n    y: 2\n    class: XTerm\n"), ""); err == nil || !strings.Contains(err.Error(), "both bound to class") {
		t.Errorf("err = %v", err)
	}
}
