package config

import (
	"strings"
	"testing"
	"time"
)

func TestFindEnvelopesDefaultAndCustom(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		text string
		want []Envelope
	}{
		{DefaultEnvelope, "draft\n[agentspool id=a.1 from=Agent-6 to=Agent-3]\nhello [agentspool id=b2 from=- to=Agent-1] x",
			[]Envelope{{ID: "a.1", From: "Agent-6", To: "Agent-3"}, {ID: "b2", From: "-", To: "Agent-1"}}},
		{"<<msg {{.ID}} for {{.To}} (try {{.Attempt}}, {{.Priority}})>>", "<<msg X9 for Agent-2 (try 12, urgent)>>\nbody",
			[]Envelope{{ID: "X9", To: "Agent-2"}}},
		{"[{{.ID}}]", "[id] and (noise [] [ bad id ])", []Envelope{{ID: "id"}}},
	} {
		c := &Config{Envelope: tc.tmpl}
		got, err := c.FindEnvelopes(tc.text)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%q in %q: got %+v, want %+v", tc.tmpl, tc.text, got, tc.want)
		}
		for i := range got {
			g := got[i]
			if g.ID != tc.want[i].ID || g.From != tc.want[i].From || g.To != tc.want[i].To {
				t.Fatalf("%q: envelope %d = %+v, want %+v", tc.tmpl, i, g, tc.want[i])
			}
			if tc.text[g.Start] != tc.text[g.Start] || g.End <= g.Start {
				t.Fatalf("bad offsets %+v", g)
			}
		}
	}
	if _, err := (&Config{Envelope: "no id {{.To}}"}).FindEnvelopes("x"); err == nil {
		t.Fatal("a template without {{.ID}} should be refused for parsing")
	}
}

func TestDeliverWhenKeys(t *testing.T) {
	c, err := Parse([]byte(`defaults:
  deliver_when: always
  urgent_after: 0s
agents:
  A: {x: 1, y: 2, window: a, deliver_when: ready, busy_max: 2h, urgent_after: 20s}
  B: {x: 1, y: 2, window: b}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Agent("A")
	b, _ := c.Agent("B")
	if a.DeliverWhen != DeliverReady || a.BusyMax != 2*time.Hour || a.UrgentAfter != 20*time.Second {
		t.Fatalf("A: %+v", a.AgentSettings)
	}
	if b.DeliverWhen != DeliverAlways || b.BusyMax != 30*time.Minute || b.UrgentAfter != 0 {
		t.Fatalf("B: %+v", b.AgentSettings)
	}
	c, _ = Parse([]byte("agents:\n  A: {x: 1, y: 2, window: a}\n"), "")
	if a, _ := c.Agent("A"); a.DeliverWhen != DeliverAuto || a.UrgentAfter != time.Minute {
		t.Fatalf("defaults: %+v", a.AgentSettings)
	}
	_, err = Parse([]byte("agents:\n  A: {x: 1, y: 2, window: a, deliver_when: idle}\n  B: {x: 1, y: 2, window: b, busy_max: 0s}\n"), "c.yaml")
	for _, want := range []string{"c.yaml:2: agents.A.deliver_when: bad value \"idle\"", "c.yaml:3: agents.B.busy_max"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}
