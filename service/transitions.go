package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/spool"
)

// Every state change of a message the daemon makes goes through transition:
// one place that retries a failed move (a full disk, an unwritable done/,
// EIO) a few times in line, while the agent stays busy — so its next
// message cannot overtake this one, and this one cannot be pasted again
// (issue 11 item 12). When those tries are spent the message stays where
// it is, the agent stays busy ("stuck" in status), the daemon shows itself
// degraded, and stuck retries the move in the background with a backoff
// that doubles up to stuckMax, for as long as the daemon runs: giving up
// would mean losing the message or pasting it twice, and a restart
// recovers it from where it stays. The log hears of it once when it gets
// stuck, then at most once per degradedLogGap, and once when it works.

const (
	// In line: short, because the caller may be the GUI worker, and
	// every agent's deliveries wait for it.
	transitionTries = 3                     // 50ms, 100ms between them
	transitionFirst = 50 * time.Millisecond // first in-line backoff
	// In the background, stuck: the first retry after stuckFirst, then
	// doubling, capped at stuckMax (a repaired spool is used within it).
	stuckFirst         = 500 * time.Millisecond
	stuckMax           = time.Minute
	readFailuresToFail = 10
)

// stuckBackoff is the wait before background retry n (1-based): stuckFirst,
// doubling, never more than stuckMax.
func stuckBackoff(n int) time.Duration { return doubled(stuckFirst, n, stuckMax) }

// doubled is first doubled n-1 times (n is 1-based), never more than most
// and never overflowing: the backoffs of retries, stuck moves and draft
// looks.
func doubled(first time.Duration, n int, most time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d > 0 && d < most; i++ {
		if d > most/2 {
			return most
		}
		d *= 2
	}
	return min(d, most)
}

// transition runs move until it succeeds, the message is gone (someone
// else moved it: nothing to do), or transitionTries are spent. ok is false
// in the last case; the daemon is then degraded until a move of this
// agent's works again.
func (d *Daemon) transition(op string, e spool.Entry, move func(spool.Entry) (spool.Entry, error)) (spool.Entry, bool) {
	delay := transitionFirst
	var err error
	for try := 1; try <= transitionTries; try++ {
		var n spool.Entry
		if n, err = move(e); err == nil {
			d.clearDegraded("transition " + e.Agent)
			return n, true
		}
		if spool.IsGone(err) || spool.IsPermanent(err) {
			d.log.Error(op, "id", e.ID, "agent", e.Agent, "err", err)
			return e, true // nothing left to move, or never movable: do not hang the agent on it
		}
		if try < transitionTries {
			time.Sleep(delay)
			delay *= 2
		}
	}
	d.degrade("transition "+e.Agent, fmt.Errorf("%s %s: %w", op, e.Name, err))
	return e, false
}

// stuck keeps e's agent busy and retries apply, with stuckBackoff between
// tries, until it succeeds; then the agent is free again. A stop ends the
// retries: the next start recovers the message from where it stayed.
func (d *Daemon) stuck(e spool.Entry, apply func() bool) {
	d.log.Error("a move in the spool failed; the agent stays busy and the move is retried with backoff",
		"id", e.ID, "agent", e.Agent, "state", string(e.State), "first_retry", stuckBackoff(1), "max_backoff", stuckMax)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for n := 1; ; n++ {
			wait := stuckBackoff(n)
			d.setState(e.Agent, "stuck", fmt.Sprintf("a move of %s in the spool keeps failing (%d tries; next in %v); see the log", e.ID, n*transitionTries, wait))
			t := time.NewTimer(wait)
			select {
			case <-d.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if apply() {
				d.log.Info("the stuck move worked; the agent is free again", "id", e.ID, "agent", e.Agent, "retries", n)
				d.release(e.Agent)
				return
			}
		}
	}()
}

// release marks agent free and asks for a scan.
func (d *Daemon) release(agent string) {
	d.mu.Lock()
	if st := d.agents[agent]; st != nil {
		st.busy = false
	}
	d.mu.Unlock()
	d.poke()
}

func (d *Daemon) done(e spool.Entry, why string) bool {
	n, ok := d.transition("done", e, d.sp.Done)
	if !ok {
		return false
	}
	d.dropCounts(e) // its attempt series ends here
	d.journal.Event(n, "done", why)
	d.logMove(n, e.State, spool.StateDone, nil, "why", why)
	d.setState(e.Agent, "idle", "")
	return true
}

func (d *Daemon) fail(e spool.Entry, reason string) bool {
	n, ok := d.transition("fail", e, func(e spool.Entry) (spool.Entry, error) { return d.sp.Fail(e, reason) })
	if !ok {
		return false
	}
	d.dropCounts(e) // its attempt series ends here
	d.journal.Event(n, "failed", reason)
	d.logMove(n, e.State, spool.StateFailed, errors.New(reason))
	d.bounce(n, spool.StateFailed, reason)
	return true
}

// hold parks e; with agent, the whole agent's queue is paused until an
// operator releases it.
func (d *Daemon) hold(e spool.Entry, reason string, agent bool) bool {
	if agent {
		if err := d.sp.HoldAgent(e.Agent, reason); err != nil {
			d.log.Error("hold agent", "agent", e.Agent, "err", err)
		}
		d.setState(e.Agent, "held", reason)
	}
	n, ok := d.transition("hold", e, func(e spool.Entry) (spool.Entry, error) { return d.sp.Hold(e, reason) })
	if !ok {
		return false
	}
	d.dropCounts(e) // its attempt series ends here
	d.journal.Event(n, "held", reason)
	d.logMove(n, e.State, spool.StateHold, errors.New(reason))
	d.bounce(n, spool.StateHold, reason)
	return true
}

// postpone puts e back in new/ without counting a delivery attempt: nothing
// reached the agent.
func (d *Daemon) postpone(e spool.Entry, at time.Time, cause error) bool {
	n, ok := d.transition("postpone", e, func(e spool.Entry) (spool.Entry, error) { return d.sp.Postpone(e, at) })
	if !ok {
		return false
	}
	d.logMove(n, e.State, spool.StateNew, cause)
	if wait := time.Until(at); wait > 0 {
		time.AfterFunc(wait+time.Millisecond, d.poke)
	}
	return true
}

// retry puts e back in new/ with its attempt count raised.
func (d *Daemon) retry(e spool.Entry, at time.Time, cause error) bool {
	n, ok := d.transition("retry", e, func(e spool.Entry) (spool.Entry, error) { return d.sp.Retry(e, at) })
	if !ok {
		return false
	}
	d.journal.Event(n, "retry", cause.Error())
	d.logMove(n, spool.StateCur, spool.StateNew, cause)
	if wait := time.Until(at); wait > 0 {
		time.AfterFunc(wait+time.Millisecond, d.poke)
	}
	return true
}

// apply carries out a step for the claimed message e, then frees the agent
// unless the message now waits for its ack. A transition that keeps failing
// leaves the agent busy, retried in the background.
func (d *Daemon) apply(e spool.Entry, s step, a *config.Agent) {
	var ok bool
	switch s.Kind {
	case stepDone:
		ok = d.done(e, s.Reason)
	case stepPostpone:
		ok = d.postpone(e, d.now().Add(s.Delay), s.Cause)
	case stepHold:
		ok = d.hold(e, s.Reason, s.HoldAgent)
	case stepFail:
		ok = d.fail(e, s.Reason)
	case stepAwaitAck:
		d.awaitAck(e, a, a.AckTimeout)
		return
	}
	if !ok {
		d.stuck(e, func() bool { return d.applyOnce(e, s) })
		return
	}
	d.release(e.Agent)
}

func (d *Daemon) applyOnce(e spool.Entry, s step) bool {
	switch s.Kind {
	case stepDone:
		return d.done(e, s.Reason)
	case stepPostpone:
		return d.postpone(e, d.now().Add(s.Delay), s.Cause)
	case stepHold:
		return d.hold(e, s.Reason, false)
	case stepFail:
		return d.fail(e, s.Reason)
	}
	return true
}
