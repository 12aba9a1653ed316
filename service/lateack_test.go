package service

import (
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

// A submit the agent's tool reports late (Codex queues a prompt typed
// while a turn runs; its UserPromptSubmit hook fires when the turn ends):
// the ack times out, the message goes back to new/, the hook acks it
// there, and the daemon moves it to done/ at its retry without a second
// paste. The agent's busy state keeps the retry back until the turn ends,
// so no timing decides the outcome.
func TestLateHookAckInNewIsNeverPastedAgain(t *testing.T) {
	r := hookRig(t, "")
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return false, 0 } // the hook does not run on the submit
	r.mark("Agent-1", confirm.StateReady, time.Now())
	e := r.send("Agent-1", "a late submit")
	r.start()

	// The ack timeout (300ms) puts it back in new/, attempt 1; the
	// submit made the agent busy, so it stays there.
	back := r.waitRetried("Agent-1", e.ID)
	if n := r.submits("Agent-1"); n != 1 {
		t.Fatalf("%d submits before the late ack, want 1", n)
	}
	// The tool's hook fires now: `agentspool hook` acks the message where
	// it is (new/), and the turn ends.
	a, _ := r.cfg.Agent("Agent-1")
	if _, err := confirm.WriteHookAck(a.Inbox, back.ID, "UserPromptSubmit", confirm.SubmitAlone, ""); err != nil {
		t.Fatal(err)
	}
	r.mark("Agent-1", confirm.StateReady, time.Now())

	done := r.waitState(spool.StateDone, "Agent-1", 1)
	if done[0].ID != e.ID {
		t.Fatalf("done: %+v", done[0])
	}
	if n := r.submits("Agent-1"); n != 1 {
		t.Fatalf("%d submits, want 1: an acked message was pasted again", n)
	}
	r.stop()
	if !strings.Contains(r.logs.String(), "acked before the retry") {
		t.Fatalf("logs do not show the ack found before the retry:\n%s", r.logs.String())
	}
}

// waitRetried polls until id is back in agent's new/ with an attempt
// counted.
func (r *rig) waitRetried(agent, id string) spool.Entry {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		es, err := r.sp.Scan(spool.StateNew, agent)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, e := range es {
			if e.ID == id && e.Attempt > 0 {
				return e
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after 15s %s is not back in new/\nlogs:\n%s", id, r.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
