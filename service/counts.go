package service

import "github.com/agentspool/agentspool/spool"

// msgCounts are one message's counters in its attempt series (issue
// "Nothing silent, nothing false", the house): kept by the daemon in one
// map, by msgKey, from its claim until it leaves cur/ for done/, failed/ or
// hold/. A retry (`agentspool retry`) or a release then starts a new
// series from zero: a message failed after guiFailuresToFail refusals, or
// parked for a draft, is not failed again, or parked again, by its first
// refusal after the requeue.
type msgCounts struct {
	GUIFails   int  // attempts that failed (counters.GUIFails)
	Drafts     int  // attempts refused for a draft (counters.Drafts)
	AtWork     int  // attempts refused for a CLI at work (counters.AtWork)
	ReadFails  int  // temporary errors reading its file (readOutcome)
	QuietNoted bool // its wait for a quiet desk was logged
}

// msgKey names a message for its counters: its agent and the daemon's base
// name, which its retries and postpones keep (the info suffix changes), and
// which is unique where an id need not be.
func msgKey(e spool.Entry) string {
	base, _ := spool.ParseName(e.Name)
	return e.Agent + "/" + base
}

func (d *Daemon) countsOf(e spool.Entry) msgCounts {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts[msgKey(e)]
}

func (d *Daemon) setCounts(e spool.Entry, c msgCounts) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c == (msgCounts{}) {
		delete(d.counts, msgKey(e))
		return
	}
	if d.counts == nil {
		d.counts = map[string]msgCounts{}
	}
	d.counts[msgKey(e)] = c
}

// dropCounts ends e's attempt series: it left cur/ for good.
func (d *Daemon) dropCounts(e spool.Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.counts, msgKey(e))
}

// pruneCounts drops the counters of messages found in hold/ or failed/:
// parked or failed by an operator (`agentspool hold` of a message in
// new/) rather than by the daemon, which drops them itself.
func (d *Daemon) pruneCounts(parked []spool.Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range parked {
		delete(d.counts, msgKey(e))
	}
}
