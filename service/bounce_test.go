package service

import (
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
)

// bounces waits for n submits in agent's window and returns the bounce
// texts among them.
func (r *rig) bounces(agent string) []string {
	var out []string
	for _, s := range r.desk.Window(agent).Submits {
		if strings.Contains(s, "from="+BounceFrom) {
			out = append(out, s)
		}
	}
	return out
}

func TestFailedMessageBouncesToItsSender(t *testing.T) {
	r := newRig(t, "")
	// Agent-1 never acks; Agent-2 does.
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return agent != "Agent-1", 0 }
	e := r.send("Agent-1", "---\nfrom: Agent-2\n---\nplease look")
	r.send("Agent-1", "---\nfrom: someone outside\n---\nno agent to tell")
	r.start()
	r.waitState(spool.StateFailed, "Agent-1", 2)
	r.waitState(spool.StateDone, "Agent-2", 1)
	b := r.bounces("Agent-2")
	if len(b) != 1 {
		t.Fatalf("Agent-2 got %d bounces, want 1: %q", len(b), r.desk.Window("Agent-2").Submits)
	}
	for _, want := range []string{"[agentspool id=" + BouncePrefix, "to=Agent-2]",
		"your message " + e.ID + " to Agent-1 was not delivered; it is failed.",
		"Reason: no ack from Agent-1", "agentspool show " + e.ID, "agentspool retry " + e.ID} {
		if !strings.Contains(b[0], want) {
			t.Errorf("bounce lacks %q:\n%s", want, b[0])
		}
	}
	r.stop()
	if got := gather(t, r.d.metrics)["agentspool_bounces_total{agent=Agent-1}"]; got != 1 {
		t.Errorf("bounces_total = %v, want 1", got)
	}
}

func TestABounceNeverBounces(t *testing.T) {
	r := newRig(t, "")
	// Nobody acks: the message fails, its bounce to Agent-2 fails too; that
	// failure must not produce a report of its own.
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return false, 0 }
	r.send("Agent-1", "---\nfrom: Agent-2\n---\nplease look")
	r.start()
	failed := r.waitState(spool.StateFailed, "Agent-2", 1)
	if !strings.HasPrefix(failed[0].ID, BouncePrefix) {
		t.Fatalf("failed for Agent-2: %+v", failed[0])
	}
	time.Sleep(300 * time.Millisecond) // a bounce of the bounce would be queued by now
	r.stop()
	for _, st := range []spool.State{spool.StateNew, spool.StateCur, spool.StateDone} {
		if n := r.count(st); n != 0 {
			t.Errorf("%d messages in %s/: a bounce bounced", n, st)
		}
	}
	if n := r.count(spool.StateFailed); n != 2 {
		t.Errorf("%d failed, want 2 (the message and its bounce)", n)
	}
}

func TestBounceOffForTheSender(t *testing.T) {
	r := newRig(t, "")
	r.cfg.Agents[1].Bounce = false // Agent-2: bounce: false
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return agent != "Agent-1", 0 }
	r.send("Agent-1", "---\nfrom: Agent-2\n---\nplease look")
	r.start()
	r.waitState(spool.StateFailed, "Agent-1", 1)
	time.Sleep(300 * time.Millisecond)
	r.stop()
	if n := r.count(spool.StateNew) + r.count(spool.StateDone); n != 0 {
		t.Errorf("%d messages queued or done: a bounce went to an agent with bounce: false", n)
	}
}

func TestHeldMessageBouncesWithRelease(t *testing.T) {
	r := newRig(t, "")
	r.desk.AfterClick = func(d *fakedesktop.Desk, x, y int) {
		if x < 100 {
			d.Focus("Editor")
		}
	}
	e := r.send("Agent-1", "---\nfrom: Agent-2\n---\nplease look")
	r.start()
	r.waitState(spool.StateHold, "Agent-1", 1)
	r.waitState(spool.StateDone, "Agent-2", 1)
	b := r.bounces("Agent-2")
	if len(b) != 1 || !strings.Contains(b[0], "your message "+e.ID+" to Agent-1 was not delivered; it is held.") ||
		!strings.Contains(b[0], "agentspool release Agent-1") || !strings.Contains(b[0], "Reason: focus mismatch") {
		t.Fatalf("bounces to Agent-2: %q", b)
	}
}
