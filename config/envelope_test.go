package config

import (
	"testing"
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
