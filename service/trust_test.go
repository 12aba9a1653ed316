//go:build unix

package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

// Issue 11 regression tests against the daemon on the fake desktop.

func (r *rig) reasons() map[string]string {
	out := map[string]string{}
	es, _ := r.sp.Scan(spool.StateFailed, "")
	for _, e := range es {
		txt, _ := r.sp.Reason(e)
		out[e.Name] = txt
	}
	return out
}

// Items 5, 4 (claim time), 7, 8: hostile entries end in failed/ with a
// reason; nothing secret is pasted; a long name is delivered once.
func TestHostileEntriesFailWithReason(t *testing.T) {
	r := newRig(t, "")
	new1 := filepath.Join(r.cfg.Spool, "new", "Agent-1")
	os.MkdirAll(new1, 0o700)
	secret := filepath.Join(r.dir, "secret")
	os.WriteFile(secret, []byte("SECRET-TOKEN-1234"), 0o600)
	os.Symlink(secret, filepath.Join(new1, "link.md"))
	os.Symlink(filepath.Join(r.dir, "nowhere"), filepath.Join(new1, "dangling.md"))
	if err := syscall.Mkfifo(filepath.Join(new1, "fifo.md"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(new1, "adir"), 0o700)
	wantFailed := 5
	if os.Getuid() == 0 {
		p := r.dropRaw("Agent-1", "theirs.md", []byte("rm -rf ~"))
		os.Chown(p, 65534, 65534)
		wantFailed++
	}
	r.dropRaw("Agent-1", "a\nnewline.md", []byte("hello"))
	r.dropRaw("Agent-1", "co:lon:x.md", []byte("hello"))
	wantFailed++
	long := strings.Repeat("L", 240) + ".md"
	r.dropRaw("Agent-2", long, []byte("---\nid: long-one\n---\nlong named"))
	r.start()
	r.waitState(spool.StateFailed, "Agent-1", wantFailed)
	r.waitState(spool.StateDone, "Agent-2", 1)
	for name, why := range r.reasons() {
		if strings.TrimSpace(why) == "" {
			t.Errorf("%q failed without a reason", name)
		}
		t.Logf("%q: %s", name, strings.SplitN(why, "\n", 2)[0])
	}
	for _, w := range []string{"Agent-1", "Agent-2"} {
		for _, s := range r.desk.Window(w).Submits {
			if strings.Contains(s, "SECRET-TOKEN") {
				t.Fatalf("the secret was pasted into %s: %q", w, s)
			}
			if w == "Agent-1" {
				t.Errorf("a hostile entry was pasted into Agent-1: %q", s)
			}
		}
	}
	if n := len(r.desk.Window("Agent-2").Submits); n != 1 {
		t.Errorf("long-named message pasted %d times, want 1", n)
	}
	if d := r.waitState(spool.StateDone, "Agent-2", 1); d[0].OrigName != long || d[0].ID != "long-one" {
		t.Errorf("done/ holds %+v; want the long name kept as the sender's", d[0])
	}
}

// Item 2: a stale <id>.ack does not mark a later message with that id done.
func TestStaleAckDoesNotMarkDone(t *testing.T) {
	r := newRig(t, "")
	a1, _ := r.cfg.Agent("Agent-1")
	os.MkdirAll(a1.Inbox, 0o700)
	stale := filepath.Join(a1.Inbox, "hello.ack")
	os.WriteFile(stale, []byte("old"), 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return false, 0 } // the agent never acks
	r.start()
	r.dropRaw("Agent-1", "hello.md", []byte("say hi"))
	// Never acked: after max_attempts it fails; the stale ack must not
	// have made it done.
	r.waitState(spool.StateFailed, "Agent-1", 1)
	if n := r.count(spool.StateDone); n != 0 {
		t.Fatalf("%d in done/: the stale ack counted", n)
	}
	if n := len(r.desk.Window("Agent-1").Submits); n != 3 {
		t.Errorf("pasted %d times, want max_attempts=3", n)
	}
}

// Item 4: the daemon refuses a spool another user could feed.
func TestRefusesGroupWritableSpool(t *testing.T) {
	r := newRig(t, "")
	os.Chmod(filepath.Join(r.cfg.Spool, "new"), 0o777)
	r.start()
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(err.Error(), "writable by group or others") || !strings.Contains(err.Error(), "chmod go-w") {
			t.Fatalf("Run = %v", err)
		}
		r.cancel = nil
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon started on a world-writable spool")
	}
}

// Item 12 and structure: the outcome is a pure function of its inputs.
func TestOutcomeIsPure(t *testing.T) {
	a := &config.Agent{Name: "A", AgentSettings: config.AgentSettings{Ack: true, MaxAttempts: 3, Backoff: time.Second}}
	e := spool.Entry{Agent: "A", ID: "m"}
	if s := outcome(nil, deliver.Report{}, &spool.Message{}, e, a, counters{}); s.Kind != stepAwaitAck {
		t.Errorf("ok → %v", s.Kind)
	}
	off := false
	if s := outcome(nil, deliver.Report{}, &spool.Message{Ack: &off}, e, a, counters{}); s.Kind != stepDone {
		t.Errorf("ok, ack off → %v", s.Kind)
	}
	c := counters{}
	var s step
	for range guiFailuresToFail {
		s = outcome(errors.New("boom"), deliver.Report{}, nil, e, a, c)
		c = s.Counters
		// Other messages to the agent were submitted in between: its
		// failures are not systematic, only this message's are counted.
		c.Fails = [numFailClasses]int{}
	}
	if s.Kind != stepFail {
		t.Errorf("after %d desktop refusals → %v", guiFailuresToFail, s.Kind)
	}
	// A message a terminal would take as keys (a control character in
	// it) fails at once, the agent not held: no attempt can mend it.
	if s := outcome(fmt.Errorf("attempt: %w", deliver.UnsafeText("stop\x03", "a terminal")), deliver.Report{}, nil, e, a, counters{}); s.Kind != stepFail || s.HoldAgent || !strings.Contains(s.Reason, "control character") {
		t.Errorf("a control character → %v (hold agent %v): %q", s.Kind, s.HoldAgent, s.Reason)
	}
	// No input prompt in a pane (a CLI starting, or at work with its
	// input hidden; a shell at its $ prompt): looked at again after 2, 4,
	// 8, 16 s, and the agent held after the fifth look, with the reason.
	{
		ap := *a
		ap.Tmux = "work:1.0"
		c := counters{}
		noPrompt := fmt.Errorf("deliver: tmux pane work:1.0: %w", deliver.ErrNoPrompt)
		var delays []time.Duration
		for s = outcome(noPrompt, deliver.Report{}, nil, e, &ap, c); s.Kind == stepPostpone; s = outcome(noPrompt, deliver.Report{}, nil, e, &ap, c) {
			c = s.Counters
			delays = append(delays, s.Delay)
		}
		if want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}; !slices.Equal(delays, want) || s.Kind != stepHold || !s.HoldAgent {
			t.Errorf("no prompt: waits %v then %v (agent %v), want waits %v then the agent held", delays, s.Kind, s.HoldAgent, want)
		}
		if !strings.Contains(s.Reason, "no input prompt 5 times in a row over 30s") || !strings.Contains(s.Reason, "agentspool release A") {
			t.Errorf("no prompt: held for %q", s.Reason)
		}
	}
	// A pane's CLI at work on a turn: the message waits, looked at again
	// after 1, 2, 4 … s up to DraftLookMax, never as an attempt nor the
	// agent's failure; parked (the message, with the reason) once the CLI
	// has been at work for busy_max.
	{
		ap := *a
		ap.Tmux, ap.BusyMax = "work:1.0", 5*time.Minute
		c := counters{}
		atWork := fmt.Errorf("deliver: tmux pane work:1.0: not pasting: %w", deliver.ErrAtWork)
		var delays []time.Duration
		var waited time.Duration
		for s = outcome(atWork, deliver.Report{}, nil, e, &ap, c); s.Kind == stepPostpone; s = outcome(atWork, deliver.Report{}, nil, e, &ap, c) {
			c = s.Counters
			delays = append(delays, s.Delay)
			waited += s.Delay
			if len(delays) > 1000 {
				t.Fatal("a CLI at work is waited for without end")
			}
		}
		if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, DraftLookMax}; !slices.Equal(delays[:6], want) || c.GUIFails != 0 || c.Fails != ([numFailClasses]int{}) {
			t.Errorf("at work: waits %v (counters %+v), want %v… and no failure counted", delays, c, want)
		}
		if s.Kind != stepHold || s.HoldAgent || waited < ap.BusyMax || waited > ap.BusyMax+DraftLookMax {
			t.Errorf("at work for good: %v (agent %v) after %v, want the message held after busy_max %v", s.Kind, s.HoldAgent, waited, ap.BusyMax)
		}
		if !strings.Contains(s.Reason, "at work on a turn for 5m") || !strings.Contains(s.Reason, "agentspool release "+e.ID) {
			t.Errorf("at work: held for %q", s.Reason)
		}
	}
	// A draft (issue 14 item 4): the message waits, looking again after
	// backoff, doubling up to DraftLookMax, never as an attempt; it is
	// parked only once it waited DraftHoldAfter for the input to clear.
	c = counters{}
	var waited time.Duration
	var delays []time.Duration
	for s = outcome(deliver.DraftError(5), deliver.Report{}, nil, e, a, c); s.Kind == stepPostpone; s = outcome(deliver.DraftError(5), deliver.Report{}, nil, e, a, c) {
		c = s.Counters
		waited += s.Delay
		delays = append(delays, s.Delay)
		if len(delays) > 1000 {
			t.Fatal("a draft is waited for without end")
		}
	}
	if s.Kind != stepHold || waited < DraftHoldAfter || waited > DraftHoldAfter+DraftLookMax || !strings.Contains(s.Reason, "input not empty for 10m") {
		t.Errorf("a draft that stays: %v after %v (%s)", s.Kind, waited, s.Reason)
	}
	if delays[0] != time.Second || delays[1] != 2*time.Second || slices.Max(delays) != DraftLookMax {
		t.Errorf("draft looks %v: want backoff doubling up to %v", delays[:6], DraftLookMax)
	}
	// backoff: 0s does not make a draft be looked at again at once, for
	// ever: at least DraftLookMin apart, and parked after DraftHoldAfter.
	a0 := &config.Agent{Name: "A", AgentSettings: config.AgentSettings{Ack: true, MaxAttempts: 3, Backoff: 0}}
	c, waited = counters{}, 0
	for s = outcome(deliver.DraftError(5), deliver.Report{}, nil, e, a0, c); s.Kind == stepPostpone; s = outcome(deliver.DraftError(5), deliver.Report{}, nil, e, a0, c) {
		c, waited = s.Counters, waited+s.Delay
		if s.Delay < DraftLookMin || c.Drafts > 1000 {
			t.Fatalf("backoff 0: draft look %d after %v", c.Drafts, s.Delay)
		}
	}
	if s.Kind != stepHold || waited < DraftHoldAfter {
		t.Errorf("backoff 0, a draft that stays: %v after %v", s.Kind, waited)
	}
	if s := readOutcome(errors.New("EIO"), readFailuresToFail); s.Kind != stepFail {
		t.Errorf("read failures are not bounded: %v", s.Kind)
	}
	if s := readOutcome(errors.New("EIO"), 1); s.Kind != stepPostpone {
		t.Errorf("first read failure → %v", s.Kind)
	}
}

// Item 12: a transition that keeps failing is retried with backoff while
// the agent stays busy (its next message does not go out, the first is
// not pasted again); status shows the agent stuck and the daemon
// degraded; the log says so once, not once per try; and once the spool
// is repaired the move happens within the backoff's cap, without a
// restart (before: one retry every 30 s, and an ERROR line each time).
func TestStuckMoveIsRetriedWithBackoff(t *testing.T) {
	r := newRig(t, "")
	r.start()
	r.waitLog("daemon started") // past the start-up checks
	// Root ignores modes: replace done/Agent-1 with a file, so the rename
	// into it fails with ENOTDIR for as long as the test wants.
	done := filepath.Join(r.cfg.Spool, "done", "Agent-1")
	if err := os.RemoveAll(done); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r.send("Agent-1", "---\nack: false\n---\nfirst")
	r.waitStatus("Agent-1 stuck and the daemon degraded", func(s Status) bool {
		return s.Agents["Agent-1"].State == "stuck" && s.Degraded["transition Agent-1"] != ""
	})
	r.send("Agent-1", "second")
	// Another agent is not held up by Agent-1's trouble.
	r.send("Agent-2", "---\nack: false\n---\nfor Agent-2")
	r.waitState(spool.StateDone, "Agent-2", 1)
	// A few background retries go by (500ms, 1s, ...), all failing. At
	// least three rounds: on a loaded machine the status may be looked at
	// first when the third round is already past (it failed so once,
	// waiting for exactly 9 tries while status said 18).
	var next time.Duration // the wait status announces before the next round
	r.waitStatus("a third try round", func(s Status) bool {
		var n int
		var after string
		d := s.Agents["Agent-1"].Detail
		if i := strings.Index(d, "("); i >= 0 {
			fmt.Sscanf(d[i:], "(%d tries; next in %s", &n, &after)
		}
		next, _ = time.ParseDuration(strings.TrimRight(after, ");"))
		return n >= 3*transitionTries && next > 0
	})
	if n := r.submits("Agent-1"); n != 1 {
		t.Fatalf("%d submits while the first message could not be moved to done/, want 1", n)
	}
	if es := r.waitState(spool.StateCur, "Agent-1", 1); len(es) != 1 {
		t.Fatalf("cur/ holds %d messages, want the stuck one", len(es))
	}
	logs := r.logs.String()
	if n := strings.Count(logs, "agent stays busy"); n != 1 {
		t.Errorf("%d log lines saying the agent stays busy, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "degraded: transition Agent-1"); n != 1 {
		t.Errorf("%d degraded lines for several failed tries, want 1 (rate-limited):\n%s", n, logs)
	}

	repaired := time.Now()
	if err := os.Remove(done); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(done, 0o700); err != nil {
		t.Fatal(err)
	}
	// The next round comes within the wait status announced (it doubles
	// with each round: a later round waits longer).
	r.waitStateWithin(2*next+15*time.Second, spool.StateDone, "Agent-1", 2)
	t.Logf("both done %v after the repair (next round announced in %v)", time.Since(repaired).Round(time.Millisecond), next)
	subs := r.desk.Window("Agent-1").Submits
	if len(subs) != 2 || !strings.HasSuffix(subs[0], "first") || !strings.HasSuffix(subs[1], "second") {
		t.Fatalf("Agent-1 submits %q, want first then second, once each", subs)
	}
	r.waitStatus("the degraded mark cleared", func(s Status) bool { return len(s.Degraded) == 0 })
	if !strings.Contains(r.logs.String(), "the stuck move worked") {
		t.Error("no log of the recovery")
	}
}

// The background backoff doubles from stuckFirst and never passes stuckMax.
func TestStuckBackoffIsCapped(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n <= 1000; n++ {
		d := stuckBackoff(n)
		if d < prev || d > stuckMax || d <= 0 {
			t.Fatalf("stuckBackoff(%d) = %v after %v (cap %v)", n, d, prev, stuckMax)
		}
		prev = d
	}
	if stuckBackoff(1) != stuckFirst || stuckBackoff(2) != 2*stuckFirst || stuckBackoff(1000) != stuckMax {
		t.Errorf("stuckBackoff: 1 → %v, 2 → %v, 1000 → %v", stuckBackoff(1), stuckBackoff(2), stuckBackoff(1000))
	}
}

// Item 11: a journal write that fails is reported, and the daemon shows
// itself degraded in status.json (before: 0 bytes, nothing logged).
func TestJournalErrorsDegradeTheDaemon(t *testing.T) {
	r := newRig(t, "")
	var logs strings.Builder
	d, err := New(Options{Config: r.cfg, Spool: r.sp, Waiter: nopWaiter{}, Deliverer: &deliver.Deliverer{Desktop: r.desk},
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.CreateTemp(t.TempDir(), "journal")
	f.Close() // every write fails, like a full disk
	d.journal = &journal{f: f, onErr: func(err error) { d.degrade("journal", err) }}
	d.journal.Event(spool.Entry{ID: "m", Agent: "Agent-1"}, "done", "test")
	d.journal.Event(spool.Entry{ID: "m2", Agent: "Agent-1"}, "done", "test")
	d.writeStatus(true)
	b, err := os.ReadFile(filepath.Join(r.sp.Root, "status.json"))
	if err != nil || !strings.Contains(string(b), `"degraded"`) || !strings.Contains(string(b), "journal") {
		t.Fatalf("status.json = %s, %v", b, err)
	}
	if n := strings.Count(logs.String(), "degraded: journal"); n != 1 {
		t.Errorf("%d log lines for two failed writes, want 1 (rate-limited):\n%s", n, logs.String())
	}
}

type nopWaiter struct{}

func (nopWaiter) Wait(context.Context, confirm.Ack, time.Duration) (bool, error) {
	return false, nil
}

// Item 9: a file written in place in new/ is not claimed while it grows.
func TestInPlaceWriterIsWaitedFor(t *testing.T) {
	r := newRig(t, "")
	r.start()
	p := filepath.Join(r.cfg.Spool, "new", "Agent-1", "inplace.md")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		fmt.Fprintf(f, "part %d\n", i)
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(f, "THE END")
	f.Close()
	r.waitState(spool.StateDone, "Agent-1", 1)
	subs := r.desk.Window("Agent-1").Submits
	if len(subs) != 1 || !strings.Contains(subs[0], "part 0") || !strings.Contains(subs[0], "THE END") {
		t.Fatalf("submits = %q, want the whole file once", subs)
	}
}

// Issue "Nothing silent, nothing false" item 6: a file written in place
// is not claimed while its writer has it open, however long the writer
// rests between writes (here an hour, by its mtime). Before, a 150 ms
// rest of the mtime counted as the end: the first half was pasted (or an
// empty file failed) and the rest of the writes went to a claimed file.
func TestInPlaceWriterIsWaitedForUntilItCloses(t *testing.T) {
	r := newRig(t, "")
	r.start()
	p := filepath.Join(r.cfg.Spool, "new", "Agent-1", "inplace.md")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, "FIRST HALF")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	r.waitStatus("Agent-1 waiting for the writer", func(s Status) bool {
		return s.Agents["Agent-1"].State == "waiting for a file still being written"
	})
	fmt.Fprintln(f, "SECOND HALF")
	f.Close()
	r.waitState(spool.StateDone, "Agent-1", 1)
	subs := r.desk.Window("Agent-1").Submits
	if len(subs) != 1 || !strings.Contains(subs[0], "FIRST HALF") || !strings.Contains(subs[0], "SECOND HALF") {
		t.Fatalf("submits = %q, want the whole file once", subs)
	}
}

// Item 4: an ack in an inbox marks a message done, so the daemon refuses
// an inbox another user could write to, as it refuses such a spool; an
// inbox it creates is 0700 (before: the inboxes were not checked).
func TestRefusesGroupWritableInbox(t *testing.T) {
	r := newRig(t, "")
	a1, _ := r.cfg.Agent("Agent-1")
	a2, _ := r.cfg.Agent("Agent-2")
	if err := os.MkdirAll(a1.Inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(a1.Inbox, 0o777); err != nil {
		t.Fatal(err)
	}
	r.start()
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(err.Error(), "inbox of Agent-1") || !strings.Contains(err.Error(), "chmod go-w "+a1.Inbox) {
			t.Fatalf("Run = %v", err)
		}
		r.cancel = nil
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon started with a world-writable inbox")
	}
	if err := os.Chmod(a1.Inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.waitLog("daemon started")
	if fi, err := os.Stat(a2.Inbox); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("inbox the daemon made: %v, %v; want mode 0700", fi, err)
	}
}

// Item 1: a copy of the message is never its ack. In pointer mode the
// copy the agent reads lies beside the inbox; an agent that never acks
// gets max_attempts pastes and the message fails, however many copies
// there are. Item 4: the copies' folder must be private too.
func TestPointerCopyIsNoAck(t *testing.T) {
	r := newRig(t, "")
	a1, _ := r.cfg.Agent("Agent-1")
	a1.Paste = config.PastePointer
	r.ack = func(agent, id string, n int) (bool, time.Duration) { return false, 0 }
	r.start()
	e := r.send("Agent-1", "---\nid: ptr1\n---\nread me")
	r.waitState(spool.StateFailed, "Agent-1", 1)
	if n := r.count(spool.StateDone); n != 0 {
		t.Fatalf("%d in done/: the copy counted as an ack", n)
	}
	if n := r.submits("Agent-1"); n != 3 {
		t.Errorf("%d pastes, want max_attempts=3", n)
	}
	copyPath := filepath.Join(filepath.Dir(a1.Inbox), "messages", e.ID+".md")
	if fi, err := os.Stat(filepath.Dir(copyPath)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("messages folder: %v, %v; want mode 0700", fi, err)
	}

	// A messages folder others can write to: no copy is written there,
	// and the message fails with the reason.
	if err := os.Chmod(filepath.Dir(copyPath), 0o777); err != nil {
		t.Fatal(err)
	}
	r.send("Agent-1", "---\nid: ptr2\n---\nread me too")
	es := r.waitState(spool.StateFailed, "Agent-1", 2)
	for _, e := range es {
		if e.ID != "ptr2" {
			continue
		}
		why, _ := r.sp.Reason(e)
		if !strings.Contains(why, "writable by group or others") {
			t.Errorf("reason %q", why)
		}
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(copyPath), "ptr2.md")); err == nil {
		t.Error("a copy was written into a folder others can write to")
	}
	if n := r.submits("Agent-1"); n != 3 {
		t.Errorf("%d pastes after the second message, want still 3", n)
	}
}

// Items 11 and 12: a directory fsync that fails after a completed rename
// is a warning: the message is delivered and done, nothing fails, the
// daemon is degraded in status.json (logged once, as a warning) until an
// fsync works again. (Before, the spool's warning went to a logger the
// daemon never set: nothing was said, status showed all well.)
func TestFailedDirSyncDegradesButDelivers(t *testing.T) {
	r := newRig(t, "")
	var failing atomic.Bool
	failing.Store(true)
	r.beforeRun = func(d *Daemon) {
		heard := r.sp.OnSyncDir
		if heard == nil {
			t.Fatal("the daemon does not listen to the spool's directory fsyncs")
		}
		r.sp.OnSyncDir = func(dir string, err error) {
			if failing.Load() {
				err = syscall.EIO
			}
			heard(dir, err)
		}
	}
	r.start()
	r.send("Agent-1", "hello")
	r.waitState(spool.StateDone, "Agent-1", 1)
	r.waitStatus("degraded by the fsync", func(s Status) bool {
		return strings.Contains(s.Degraded["directory fsync"], syscall.EIO.Error())
	})
	if n := r.count(spool.StateFailed) + r.count(spool.StateHold); n != 0 {
		t.Fatalf("%d messages failed or held over an fsync", n)
	}
	if n := r.submits("Agent-1"); n != 1 {
		t.Fatalf("%d submits, want 1", n)
	}
	logs := r.logs.String()
	if n := strings.Count(logs, "level=WARN msg=\"degraded: directory fsync is failing\""); n != 1 {
		t.Errorf("%d warnings for several failed fsyncs, want 1 (rate-limited):\n%s", n, logs)
	}
	failing.Store(false)
	r.send("Agent-1", "again")
	r.waitState(spool.StateDone, "Agent-1", 2)
	r.waitStatus("the degraded mark cleared", func(s Status) bool { return len(s.Degraded) == 0 })
}

// Item 8: a long name renamed at claim keeps its original across a
// restart between the claim and the end of delivery (here: a daemon that
// claimed and died before it wrote the journal's "renamed" line). The
// message with an id is delivered once and its journal lines carry the
// sender's name; the one without an id fails for its name, as it would
// have without the restart. Before, the restarted daemon knew only the
// short name: it delivered the second under an id its sender never knew.
func TestLongNameSurvivesARestart(t *testing.T) {
	r := newRig(t, "")
	withID := strings.Repeat("W", 230) + ".md"
	noID := strings.Repeat("N", 230) + ".md"
	r.dropRaw("Agent-1", withID, []byte("---\nid: long-one\n---\nlong named"))
	r.dropRaw("Agent-2", noID, []byte("no front matter"))
	for _, e := range r.waitState(spool.StateNew, "", 2) {
		if _, err := r.sp.Claim(e); err != nil {
			t.Fatal(err)
		}
	}
	sp, err := spool.Open(r.cfg.Spool) // the new process's spool
	if err != nil {
		t.Fatal(err)
	}
	r.sp = sp
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 1)
	failed := r.waitState(spool.StateFailed, "Agent-2", 1)
	if n := r.submits("Agent-1"); n != 1 {
		t.Errorf("Agent-1: %d submits, want 1", n)
	}
	if subs := r.desk.Window("Agent-2").Submits; len(subs) != 0 {
		t.Errorf("the message without a valid id was pasted after the restart: %q", subs)
	}
	why, _ := r.sp.Reason(failed[0])
	if !strings.Contains(why, "gives no valid id") || !strings.Contains(why, noID) {
		t.Errorf("reason %q; want the bad name, naming the sender's file", why)
	}
	r.stop()
	lines := r.journalLines()
	var done, fail bool
	for _, l := range lines {
		done = done || l.Event == "done" && l.ID == "long-one" && l.OrigName == withID
		fail = fail || l.Event == "failed" && l.Agent == "Agent-2" && l.OrigName == noID
	}
	if !done || !fail {
		t.Errorf("journal lacks the original names (done %v, failed %v):\n%+v", done, fail, lines)
	}
}

// Item 2 across a restart: a message acked while the daemon was down goes
// to done/ at once, without a second paste, even when its file's ctime
// moved after the ack (a chmod, as CheckModes' fix asks for). Before, a
// recovered entry's entry time was that ctime, so the real ack looked
// stale: the message waited out its ack timeout and was put back in new/
// for a retry (only the look before the retry kept it from a second
// paste).
func TestRecoveredAckCountsAfterAChmod(t *testing.T) {
	r := newRig(t, "")
	a1, _ := r.cfg.Agent("Agent-1")
	r.send("Agent-1", "---\nid: acked-while-down\n---\nhello")
	c, err := r.sp.Claim(r.waitState(spool.StateNew, "Agent-1", 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.sp.Mark(c, false, time.Now()) // submitted, then the daemon died
	if err != nil {
		t.Fatal(err)
	}
	if _, err := confirm.WriteAck(a1.Inbox, "acked-while-down"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * confirm.ClockSlack)
	if err := os.Chmod(r.sp.Path(m), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(r.cfg.Spool)
	if err != nil {
		t.Fatal(err)
	}
	r.sp = sp
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 1)
	if subs := r.desk.Window("Agent-1").Submits; len(subs) != 0 {
		t.Fatalf("an acked message was pasted again after the restart: %q", subs)
	}
	r.stop()
	b, _ := os.ReadFile(filepath.Join(r.cfg.Spool, "journal.jsonl"))
	if !strings.Contains(string(b), "recovered: acked before the restart") || strings.Contains(string(b), `"event":"retry"`) {
		t.Errorf("the ack was not seen at recovery:\n%s", b)
	}
}

// Item 14: a focused window whose title two agents' windows match is
// ambiguous: nothing is pasted into it, an ERROR names both agents, and
// after repeated mismatches the agent is parked. Here Agent-1's click
// lands on the window titled Agent-10, which Agent-1's substring matcher
// would accept.
func TestAmbiguousWindowGetsNothing(t *testing.T) {
	r := newRig(t, "  Agent-10: {x: 350, y: 50, window: \"Agent-10\"}\n")
	r.desk.AddWindow("Agent-10", 104, 300, 0, 100, 100)
	a1, _ := r.cfg.Agent("Agent-1")
	a1.X = 350 // Agent-1's coordinates are on Agent-10's window
	r.start()
	r.send("Agent-1", "---\nid: not-for-10\n---\nfor Agent-1 only")
	r.waitState(spool.StateHold, "Agent-1", 1)
	if w := r.desk.Window("Agent-10"); len(w.Submits) != 0 || w.Input != "" {
		t.Fatalf("Agent-10's window got %q / %q", w.Submits, w.Input)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "level=ERROR msg=\"ambiguous focused window") || !strings.Contains(logs, "agent=Agent-1 also=Agent-10") {
		t.Errorf("no ERROR naming both agents:\n%s", logs)
	}
}

// The backoffs double from their first value, stop at their bound and
// never overflow (a retry backoff of 5s << 99 used to wrap).
func TestDoubled(t *testing.T) {
	for _, tc := range []struct {
		first time.Duration
		n     int
		most  time.Duration
		want  time.Duration
	}{
		{time.Second, 1, time.Minute, time.Second},
		{time.Second, 3, time.Minute, 4 * time.Second},
		{time.Second, 7, time.Minute, time.Minute},
		{500 * time.Millisecond, 1000000, time.Minute, time.Minute},
		{0, 50, time.Minute, 0},
		{5 * time.Second, 100, math.MaxInt64, math.MaxInt64},
		{5 * time.Second, 3, math.MaxInt64, 20 * time.Second},
	} {
		if got := doubled(tc.first, tc.n, tc.most); got != tc.want {
			t.Errorf("doubled(%v, %d, %v) = %v, want %v", tc.first, tc.n, tc.most, got, tc.want)
		}
	}
}
