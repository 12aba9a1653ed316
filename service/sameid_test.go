package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

// Issue "Nothing silent, nothing false" item 2: acks count from the
// submit, never from the entry.

// ackBetween writes id's ack in agent's inbox, dated 100 ms after since:
// after the message entered the spool, and (once waitOlder has seen it
// 200 ms old) well before any submit of it, beyond confirm.ClockSlack on
// both sides.
func (r *rig) ackBetween(agent, id string, since time.Time) {
	r.t.Helper()
	a, _ := r.cfg.Agent(agent)
	p, err := confirm.WriteAck(a.Inbox, id)
	if err != nil {
		r.t.Fatal(err)
	}
	at := since.Add(100 * time.Millisecond)
	if err := os.Chtimes(p, at, at); err != nil {
		r.t.Fatal(err)
	}
}

// waitOlder waits until t is at least age ago.
func waitOlder(t time.Time, age time.Duration) {
	for time.Since(t) < age {
		time.Sleep(5 * time.Millisecond)
	}
}

// A message the daemon was about to paste when it died (marked pasting,
// never submitted) is delivered at the restart, even though a fresh
// <id>.ack is in the inbox (an earlier message's with the same id, written
// after this one entered): before, recover looked for the ack first and
// moved the message to done/ with no submit at all.
func TestNeverSubmittedIsNeverDoneByAnAck(t *testing.T) {
	r := newRig(t, "")
	c, err := r.sp.Claim(r.send("Agent-1", "---\nid: status\n---\nnever pasted"))
	if err != nil {
		t.Fatal(err)
	}
	c, err = r.sp.Mark(c, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r.ackBetween("Agent-1", "status", c.Entered)
	waitOlder(c.Entered, 200*time.Millisecond)
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 1)
	if n := r.submits("Agent-1"); n != 1 {
		t.Fatalf("done with %d submits, want 1: an ack made a message never submitted done", n)
	}
	r.stop()
	b, _ := os.ReadFile(filepath.Join(r.cfg.Spool, "journal.jsonl"))
	if strings.Contains(string(b), "acked before the restart") {
		t.Errorf("recovery took an ack written before any submit for this message's:\n%s", b)
	}
}

// An ack written after the message entered but before its submit is not
// its ack: the agent never acks this message, so it fails after
// max_attempts. Before, the ack counted from the entry and the message
// was done at its first submit.
func TestAckBeforeTheSubmitIsStale(t *testing.T) {
	r := newRig(t, "")
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return false, 0 }
	e := r.send("Agent-1", "---\nid: status\n---\nnot acked")
	r.ackBetween("Agent-1", "status", e.Queued)
	waitOlder(e.Queued, 200*time.Millisecond)
	r.start()
	r.waitState(spool.StateFailed, "Agent-1", 1)
	if n := r.count(spool.StateDone); n != 0 {
		t.Fatalf("%d in done/: an ack older than the submit counted", n)
	}
}

// Two live messages with one id for one agent (two drops of status.md):
// the one that entered first is delivered, the other is failed at the
// claim with a reason, never confirmed by the first one's ack. Before,
// the second was done at its submit by the first's ack.
func TestTwoLiveMessagesWithOneIDTheSecondIsRefused(t *testing.T) {
	r := newRig(t, "")
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return n == 1, 0 } // only the first submit is acked
	r.dropRaw("Agent-1", "status.md", []byte("first status"))
	// Entered first for sure: the kernel's file times are coarse (a few
	// ms), and a tie is broken by the name, where the second one's
	// Maildir name sorts before status.md.
	queued, err := r.sp.Scan(spool.StateNew, "Agent-1")
	if err != nil || len(queued) != 1 {
		t.Fatalf("queued %v, %v", queued, err)
	}
	waitOlder(queued[0].Queued, 20*time.Millisecond)
	r.send("Agent-1", "---\nid: status\n---\nsecond status")
	r.start()
	failed := r.waitState(spool.StateFailed, "Agent-1", 1)
	done := r.waitState(spool.StateDone, "Agent-1", 1)
	reason, _ := r.sp.Reason(failed[0])
	if !strings.Contains(reason, "another message with id status") || !strings.Contains(reason, "status.md") {
		t.Errorf("reason %q", reason)
	}
	if done[0].OrigName != "status.md" {
		t.Errorf("done/ holds %+v, want the first one (status.md)", done[0])
	}
	if subs := r.desk.Window("Agent-1").Submits; len(subs) != 1 || !strings.HasSuffix(subs[0], "first status") {
		t.Fatalf("submits %q, want the first message only", subs)
	}
}
