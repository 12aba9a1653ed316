package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/internal/safeio"
)

func parseAgents(t *testing.T, agents string) (*Config, error) {
	t.Helper()
	return Parse([]byte("agents:\n"+agents), "")
}

// Issue 11 item 10: one agent-name rule; config used to accept Agent..1,
// which the spool refused.
func TestAgentNameRuleIsTheSpools(t *testing.T) {
	if _, err := parseAgents(t, "  Agent..1: {x: 1, y: 1, window: \"A\"}\n"); err == nil {
		t.Fatal("Agent..1 accepted")
	}
}

// Issue 11 item 14: a title two agents' windows match is ambiguous and
// refused; overlaps are warned about at load; exact matching is offered;
// match-everything regexes are refused.
func TestWindowMatching(t *testing.T) {
	c, err := parseAgents(t, "  Agent-1: {x: 1, y: 1, window: \"Agent-1\"}\n  Agent-10: {x: 2, y: 2, window: \"Agent-10\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "Agent-10") {
		t.Errorf("no overlap warning: %q", c.Warnings)
	}
	a1, _ := c.Agent("Agent-1")
	a10, _ := c.Agent("Agent-10")
	var said []string
	m1 := c.Matcher(a1, func(title string, others []string) { said = append(said, others...) })
	if m1("Agent-10") {
		t.Error("Agent-1's focus check passed on the window titled Agent-10")
	}
	if len(said) != 1 || said[0] != "Agent-10" {
		t.Errorf("ambiguity reported %v", said)
	}
	// Strict: Agent-10's own window is ambiguous too (Agent-1's substring
	// matches it) — the load warning says to use =exact or anchored titles.
	if c.Matcher(a10, nil)("Agent-10") {
		t.Error("a title both matchers accept passed Agent-10's check")
	}
	if !m1("Agent-1 — chat") {
		t.Error("Agent-1's own window refused")
	}

	c, err = parseAgents(t, "  Agent-1: {x: 1, y: 1, window: \"=Agent-1\"}\n  Agent-10: {x: 2, y: 2, window: \"=Agent-10\"}\n")
	if err != nil || len(c.Warnings) != 0 {
		t.Fatalf("exact windows: %v, warnings %q", err, c.Warnings)
	}
	a1, _ = c.Agent("Agent-1")
	if c.Matcher(a1, nil)("Agent-10") || !c.Matcher(a1, nil)("Agent-1") {
		t.Error("exact matching is not exact")
	}
	for _, w := range []string{"/.*/", "/^/", "/a*/", "/./", "="} {
		if _, err := parseAgents(t, "  Agent-1: {x: 1, y: 1, window: \""+w+"\"}\n"); err == nil {
			t.Errorf("window %s accepted", w)
		}
	}
}

// Item 10: config accepts exactly the agent names the spool accepts
// (safeio.ValidAgentName, which spool.ValidAgentName is), whatever the
// name: before, config had a looser rule of its own.
func TestAgentNamesAreTheSpoolsExactly(t *testing.T) {
	for _, name := range []string{"Agent-1", "a", "A_b.c-d", "Agent..1", "a..", "-a", ".a", "_a", "Agent 1",
		"a/b", "a\\b", "é", strings.Repeat("a", 64), strings.Repeat("a", 65), "a.", "9"} {
		_, err := parseAgents(t, fmt.Sprintf("  %q: {x: 1, y: 1, window: \"=W\"}\n", name))
		if got, want := err == nil, safeio.ValidAgentName(name); got != want {
			t.Errorf("agent %q: config accepts it %v, the spool's rule %v (%v)", name, got, want, err)
		}
	}
}
