package service

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
)

// hookRig is a rig whose agent windows behave like tools with agentspool's
// hooks installed: each submit marks the agent busy (as `agentspool hook`
// does on beforeSubmitPrompt) before the ack is written. The test plays the
// end of the turn with ready().
func hookRig(t *testing.T, extra string) *rig {
	r := newRig(t, extra)
	r.desk.AddWindow("Agent-3", 104, 300, 0, 100, 100)
	r.desk.AddWindow("Agent-4", 105, 400, 0, 100, 100)
	ack := r.desk.OnSubmit
	r.desk.OnSubmit = func(w *fakedesktop.Win, text string) {
		if _, ok := r.cfg.Agent(w.Title); ok {
			if _, err := confirm.MarkState(r.sp.Root, w.Title, confirm.StateBusy, "beforeSubmitPrompt", time.Now()); err != nil {
				t.Error(err)
			}
		}
		ack(w, text)
	}
	return r
}

func (r *rig) mark(agent, state string, at time.Time) {
	r.t.Helper()
	event := "stop"
	if state == confirm.StateBusy {
		event = "beforeSubmitPrompt"
	}
	if _, err := confirm.MarkState(r.sp.Root, agent, state, event, at); err != nil {
		r.t.Fatal(err)
	}
}

// settle is several scans and ready polls: long enough for a delivery the
// daemon should not make to show up.
const settle = 700 * time.Millisecond

func (r *rig) submits(agent string) int { return len(r.desk.Window(agent).Submits) }

// daemonStatus reads status.json, waiting for its first write (every
// 250ms).
func (r *rig) daemonStatus() Status {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var s Status
		b, err := os.ReadFile(filepath.Join(r.sp.Root, "status.json"))
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("status.json: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A busy agent gets nothing until its turn ends; each delivery makes it
// busy again (its hook), so it gets one message per turn. An agent without
// a state file (no hooks) is delivered to as before.
func TestBusyAgentGetsNothingUntilReady(t *testing.T) {
	r := hookRig(t, "")
	r.mark("Agent-1", confirm.StateBusy, time.Now())
	r.send("Agent-1", "first")
	r.send("Agent-1", "second")
	r.send("Agent-2", "no hooks here")
	r.start()
	r.waitState(spool.StateDone, "Agent-2", 1)
	time.Sleep(settle)
	if n := r.submits("Agent-1"); n != 0 {
		t.Fatalf("a busy agent got %d submits", n)
	}
	if st := r.daemonStatus().Agents["Agent-1"]; st.State != "waiting for the agent to be ready" || !strings.Contains(st.Detail, "busy since") {
		t.Fatalf("status of the busy agent: %+v", st)
	}
	r.mark("Agent-1", confirm.StateReady, time.Now())
	r.waitState(spool.StateDone, "Agent-1", 1)
	time.Sleep(settle)
	if n := r.submits("Agent-1"); n != 1 {
		t.Fatalf("after one ready: %d submits, want 1 (the delivery made it busy)", n)
	}
	r.mark("Agent-1", confirm.StateReady, time.Now())
	r.waitState(spool.StateDone, "Agent-1", 2)
	if got := r.desk.Window("Agent-1").Submits; !strings.HasSuffix(got[0], "first") || !strings.HasSuffix(got[1], "second") {
		t.Fatalf("order: %q", got)
	}
}

// deliver_when: always ignores the state file.
func TestDeliverWhenAlwaysIgnoresBusy(t *testing.T) {
	r := hookRig(t, "  Agent-3: {x: 350, y: 50, window: \"Agent-3\", deliver_when: always}\n")
	r.mark("Agent-3", confirm.StateBusy, time.Now())
	r.send("Agent-3", "one")
	r.send("Agent-3", "two")
	r.start()
	r.waitState(spool.StateDone, "Agent-3", 2)
}

// An urgent message waits for a busy agent at most urgent_after, then goes
// with the urgent submit; a normal one behind it still waits.
func TestUrgentGoesToABusyAgentAfterUrgentAfter(t *testing.T) {
	r := hookRig(t, "  Agent-3: {x: 350, y: 50, window: \"Agent-3\", urgent_after: 800ms, urgent_submit: ctrl+enter}\n")
	r.mark("Agent-3", confirm.StateBusy, time.Now())
	r.send("Agent-3", "normal")
	sent := time.Now()
	r.send("Agent-3", "---\npriority: urgent\n---\nurgent")
	r.start()
	r.waitState(spool.StateDone, "Agent-3", 1)
	if waited := time.Since(sent); waited < 800*time.Millisecond {
		t.Fatalf("urgent delivered after %v, before urgent_after", waited)
	}
	w := r.desk.Window("Agent-3")
	if len(w.Submits) != 1 || !strings.HasSuffix(w.Submits[0], "urgent") {
		t.Fatalf("submits %q", w.Submits)
	}
	time.Sleep(settle)
	if n := r.submits("Agent-3"); n != 1 {
		t.Fatalf("the normal message went to the busy agent too (%d submits)", n)
	}
	if !strings.Contains(r.logs.String(), "urgent message goes to a busy agent") {
		t.Fatalf("not logged:\n%s", r.logs.String())
	}
}

// A busy state older than busy_max is not believed: delivery goes on, and
// it is logged once, not for every message.
func TestBusyMaxExpiry(t *testing.T) {
	r := hookRig(t, "  Agent-4: {x: 450, y: 50, window: \"Agent-4\", busy_max: 1s}\n")
	// Busy since long ago: expired at once. The submits mark it busy again
	// (now), but the Since of a busy state that stays busy does not move.
	r.mark("Agent-4", confirm.StateBusy, time.Now().Add(-time.Hour))
	for i := 0; i < 3; i++ {
		r.send("Agent-4", "m")
	}
	r.start()
	r.waitState(spool.StateDone, "Agent-4", 3)
	if n := strings.Count(r.logs.String(), "longer than busy_max"); n != 1 {
		t.Fatalf("busy_max logged %d times, want once:\n%s", n, r.logs.String())
	}
	j, _ := os.ReadFile(filepath.Join(r.sp.Root, "journal.jsonl"))
	if !strings.Contains(string(j), `"event":"busy_max"`) {
		t.Fatalf("journal lacks the busy_max event:\n%s", j)
	}

	// A fresh busy state holds until busy_max, then the message goes.
	r.mark("Agent-4", confirm.StateReady, time.Now())
	r.mark("Agent-4", confirm.StateBusy, time.Now())
	start := time.Now()
	r.send("Agent-4", "late")
	r.waitState(spool.StateDone, "Agent-4", 4)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("delivered after %v to an agent busy for less than busy_max", d)
	}
}

// A submit the agent's hook saw merged with other text is journalled,
// logged and counted in status.json.
func TestMergedSubmitIsRecorded(t *testing.T) {
	r := newRig(t, "")
	r.ack = func(agent, id string, n int) (bool, time.Duration) {
		a, _ := r.cfg.Agent(agent)
		submit := confirm.SubmitAlone
		if n == 2 {
			submit = confirm.SubmitMerged
		}
		if _, err := confirm.WriteHookAck(a.Inbox, id, "beforeSubmitPrompt", submit, "other text before the envelope"); err != nil {
			t.Error(err)
		}
		return false, 0
	}
	r.send("Agent-1", "one")
	e := r.send("Agent-1", "two")
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 2)
	deadline := time.Now().Add(5 * time.Second)
	for r.daemonStatus().Agents["Agent-1"].Merged != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("status.json: %+v", r.daemonStatus().Agents["Agent-1"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	j, _ := os.ReadFile(filepath.Join(r.sp.Root, "journal.jsonl"))
	if strings.Count(string(j), `"event":"merged"`) != 1 || !strings.Contains(string(j), `"id":"`+e.ID+`","agent":"Agent-1"`) {
		t.Fatalf("journal:\n%s", j)
	}
}

// An agent that turns busy while its claimed message waits for the
// desktop gets nothing: the message goes back to new/ and waits.
func TestAgentTurnedBusyBeforeThePaste(t *testing.T) {
	r := hookRig(t, "")
	r.mark("Agent-1", confirm.StateReady, time.Now())
	r.mark("Agent-2", confirm.StateReady, time.Now())
	// Agent-1's submit makes Agent-2 busy too: a person's prompt there,
	// while Agent-2's message may already be claimed.
	prev := r.desk.OnSubmit
	r.desk.OnSubmit = func(w *fakedesktop.Win, text string) {
		prev(w, text)
		if w.Title == "Agent-1" {
			confirm.MarkState(r.sp.Root, "Agent-2", confirm.StateBusy, "beforeSubmitPrompt", time.Now())
		}
	}
	r.send("Agent-1", "one")
	r.send("Agent-2", "two")
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 1)
	time.Sleep(settle)
	if n := r.submits("Agent-2"); n != 0 {
		t.Fatalf("Agent-2 got %d submits while busy", n)
	}
	// Which way it was kept out depends on the race (claimed already, or
	// not yet); both must hold.
	t.Logf("put back before the paste: %v", strings.Contains(r.logs.String(), "turned busy before the paste"))
	r.mark("Agent-2", confirm.StateReady, time.Now())
	r.waitState(spool.StateDone, "Agent-2", 1)
}
