package service

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
)

// Issue "Nothing silent, nothing false", items 1, 4 and 7.

// waitHeld waits until agent is held and status.json shows it, with the
// AgentspoolAgentHeld alert firing; it returns the hold's reason.
func (r *rig) waitHeld(agent string) string {
	r.t.Helper()
	r.waitStatus(agent+" held, its alert firing", func(s Status) bool {
		if s.Agents[agent].State != "held" {
			return false
		}
		return slices.ContainsFunc(s.Alerts, func(a AlertStatus) bool { return a.Name == AlertAgentHeld && a.Agent == agent })
	})
	reason, held := r.sp.AgentHeld(agent)
	if !held {
		r.t.Fatalf("%s is not held", agent)
	}
	return reason
}

// Item 1: into an input whose select-all does nothing (a Win32 EDIT
// control under Wine), a verifying look can never see the paste: every
// attempt ended "not in the input as sent", the message went back to new/,
// the next was tried, for ever, while status said "delivering" and no
// alert fired. Now the agent is held after a few, with the real cause and
// what to do, its alert fires, and status says it; other agents go on.
func TestInputWithoutSelectAllHoldsTheAgentWithTheReason(t *testing.T) {
	r := newRig(t, "")
	a1, _ := r.cfg.Agent("Agent-1")
	a1.VerifyPaste = true // as the Wine run had it
	r.desk.WindowPtrForTest("Agent-1").NoSelectAll = true
	for range 8 {
		r.send("Agent-1", "into an EDIT control")
	}
	r.send("Agent-2", "into a working input")
	start := time.Now()
	r.start()
	reason := r.waitHeld("Agent-1")
	took := time.Since(start)
	t.Logf("held after %v: %s", took.Round(time.Millisecond), reason)
	if took > time.Minute {
		t.Errorf("held after %v, want under a minute", took)
	}
	for _, want := range []string{"does not answer select-all/copy", "verify_paste: false", "agentspool release Agent-1"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	if strings.Contains(reason, "focus") || strings.Contains(reason, "coords") {
		t.Errorf("reason %q names another cause", reason)
	}
	r.waitState(spool.StateDone, "Agent-2", 1)
	if n := r.count(spool.StateFailed); n != 0 {
		t.Errorf("%d messages failed: the agent is held, its messages wait", n)
	}
	if es := r.waitState(spool.StateNew, "Agent-1", 7); len(es) != 7 {
		t.Errorf("%d of Agent-1's messages wait in new/, want 7", len(es))
	}
}

// Item 1: the agent's window is gone (a terminal that closed): nothing
// of the agent's is at its point any more. Before, the hold said "focus
// mismatch 3 times... fix coords.yaml" about a window that no longer
// existed.
func TestAGoneWindowIsSaidToBeGone(t *testing.T) {
	r := newRig(t, "")
	r.desk.WindowPtrForTest("Agent-1").X = 5000 // closed: nothing at (50,50)
	r.send("Agent-1", "to a closed window")
	r.start()
	reason := r.waitHeld("Agent-1")
	if !strings.Contains(reason, "window is gone") || !strings.Contains(reason, "no window at (50,50)") {
		t.Errorf("reason %q does not say the window is gone", reason)
	}
}

// Item 4: the per-message counters belong to one attempt series. A
// message the desktop refused 20 times (here: another client takes the
// clipboard at each of its pastes, while the agent's other messages go
// through, so nothing is systematic) fails; `agentspool retry` requeues
// it, and one more refusal must not fail it at once again ("the desktop
// refused 21 times", 5 ms after the retry).
func TestRetryAfterTwentyFailuresStartsAfresh(t *testing.T) {
	if testing.Short() {
		t.Skip("20 refused attempts with their backoff: about 20 s")
	}
	r := newRig(t, "")
	var poison atomic.Int32 // pastes of the poisoned message still to spoil
	poison.Store(1 << 20)
	r.desk.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") != "ctrl+v" {
			return
		}
		if clip, _ := d.Clipboard(); strings.Contains(string(clip), "POISON") && poison.Add(-1) >= 0 {
			d.Clobber("a clipboard manager's copy")
		}
	}
	p := r.send("Agent-1", "---\nid: poisoned\n---\nPOISON: refused at every paste")
	r.start()
	// Keep the agent's other messages coming, so that every refusal of
	// the poisoned one is followed by a submit.
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if es, _ := r.sp.Scan(spool.StateNew, "Agent-1"); len(es) < 3 {
				r.sp.Enqueue("Agent-1", []byte("an ordinary message"))
			}
		}
	}()
	defer func() { close(stop); <-fed }()
	failed := r.waitFailedLong(p.ID, 90*time.Second)
	reason, _ := r.sp.Reason(failed)
	if !strings.Contains(reason, "refused 20 times") {
		t.Fatalf("reason %q", reason)
	}
	// After the retry the message is refused again, each time: it is
	// put back in new/ (a new series), not failed at its first refusal.
	mark := len(r.logs.String())
	if _, err := r.sp.Requeue(failed); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if es, _ := r.sp.Scan(spool.StateFailed, "Agent-1"); len(es) > 0 {
			reason, _ := r.sp.Reason(es[0])
			t.Fatalf("failed again at once after the retry: %s", reason)
		}
		if n := strings.Count(r.logs.String()[mark:], "id=poisoned agent=Agent-1 from=cur to=new"); n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not tried again 30 s after the retry\n%s", r.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFailedLong waits up to limit for the message id in failed/.
func (r *rig) waitFailedLong(id string, limit time.Duration) spool.Entry {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		es, _ := r.sp.Scan(spool.StateFailed, "")
		for _, e := range es {
			if e.ID == id {
				return e
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s not in failed/ after %v\n%s", id, limit, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Item 7: no paste without its mark. Here the pasting mark cannot be
// written (its name would be longer than the file system allows; a
// read-only spool does the same): the message is not pasted, the daemon
// says why and shows itself degraded. Before, the failed mark was ignored
// and the paste went ahead, so a crash would have pasted it again
// without a look.
func TestNoPasteWithoutItsPastingMark(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the name length trick is for Unix file systems")
	}
	r := newRig(t, "")
	// A message in cur/ (claimed by a run that stopped), whose name is
	// 255 bytes: the ",P" of the pasting mark does not fit.
	suffix := spool.FormatName("", spool.Info{Entered: time.UnixMilli(time.Now().UnixMilli())})
	name := strings.Repeat("m", 255-len(suffix)-len(".renamed")) + ".renamed" + suffix
	path := filepath.Join(r.cfg.Spool, "cur", "Agent-1", name)
	if err := os.WriteFile(path, []byte("---\nid: unmarked\n---\nnot without its mark"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.waitLog("the pasting mark could not be written")
	r.waitStatus("the daemon degraded", func(s Status) bool { return s.Degraded["pasting mark"] != "" })
	for _, k := range r.desk.Keys() {
		if strings.Join(k, "+") == "ctrl+v" {
			t.Fatalf("pasted without its mark: keys %v", r.desk.Keys())
		}
	}
	if w := r.desk.Window("Agent-1"); w.Input != "" || len(w.Submits) != 0 {
		t.Fatalf("Agent-1 got %q / %q", w.Input, w.Submits)
	}
}

// A panic in a delivery (a bug of ours) took the daemon down mid-delivery,
// and its restart came back to the same message: a crash loop, with every
// other agent's messages stuck behind it. Now the agent is held with the
// reason, its alert fires, and the daemon goes on with the others.
func TestAPanicInADeliveryHoldsTheAgentAndTheDaemonGoesOn(t *testing.T) {
	r := newRig(t, "")
	var panicked atomic.Bool
	r.desk.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "ctrl+v" && panicked.CompareAndSwap(false, true) {
			panic("a bug in a delivery step")
		}
	}
	r.send("Agent-1", "meets the bug")
	r.start()
	reason := r.waitHeld("Agent-1")
	for _, want := range []string{"internal error", "a bug in a delivery step", "agentspool release Agent-1"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	if es := r.waitState(spool.StateHold, "Agent-1", 1); len(es) != 1 {
		t.Errorf("%d of Agent-1's messages in hold/, want 1", len(es))
	}
	r.send("Agent-2", "after the bug")
	r.waitState(spool.StateDone, "Agent-2", 1)
	if !strings.Contains(r.logs.String(), "internal error while delivering") {
		t.Errorf("the log does not say it: %s", r.logs.String())
	}
}

// A message whose paste was refused once (another client took the
// clipboard) keeps its place: the agent's next message waits for it, and
// the agent sees them in the order they were sent (the tmux proof's Tk
// windows once got such a message last, after the 17 queued behind it).
func TestAMessageRefusedOnceKeepsItsPlace(t *testing.T) {
	r := newRig(t, "")
	var spoiled atomic.Bool
	r.desk.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") != "ctrl+v" {
			return
		}
		// Each paste of the first message is spoiled until one attempt
		// of it gives up (back to new/).
		if clip, _ := d.Clipboard(); strings.Contains(string(clip), "first") && !strings.Contains(r.logs.String(), "to=new") {
			spoiled.Store(true)
			d.Clobber("a clipboard manager's copy")
		}
	}
	var ids []string
	for _, body := range []string{"first", "second", "third"} {
		ids = append(ids, r.send("Agent-1", body).ID)
		time.Sleep(2 * time.Millisecond)
	}
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 3)
	if !spoiled.Load() || !strings.Contains(r.logs.String(), "to=new") {
		t.Fatal("the first message was never refused")
	}
	got := r.desk.Window("Agent-1").Submits
	if len(got) != 3 {
		t.Fatalf("submits %q, want 3", got)
	}
	for i, id := range ids {
		if !strings.Contains(got[i], id) {
			t.Errorf("submit %d is %q, want %s: %q", i, got[i], id, got)
		}
	}
}
