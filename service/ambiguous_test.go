package service

import (
	"strings"
	"testing"

	"github.com/agentspool/agentspool/spool"
)

// An ambiguous focused window is logged once per delivery, not once per
// poll of the focus check: before, each of the MismatchesToHold
// deliveries wrote an ERROR for every poll (hundreds in 3 s on a desk).
func TestAmbiguousWindowIsLoggedOncePerDelivery(t *testing.T) {
	r := newRig(t, "  Agent-10: {x: 350, y: 50, window: \"Agent-10\"}\n")
	r.desk.AddWindow("Agent-10", 104, 300, 0, 100, 100)
	a1, _ := r.cfg.Agent("Agent-1")
	a1.X = 350 // Agent-1's coordinates are on Agent-10's window
	r.start()
	r.send("Agent-1", "---\nid: not-for-10\n---\nfor Agent-1 only")
	r.waitState(spool.StateHold, "Agent-1", 1)
	r.stop()
	logs := r.logs.String()
	n := strings.Count(logs, "msg=\"ambiguous focused window")
	if n == 0 || n > MismatchesToHold {
		t.Errorf("%d ambiguous-window ERRORs for %d deliveries, want one per delivery:\n%s", n, MismatchesToHold, logs)
	}
}
