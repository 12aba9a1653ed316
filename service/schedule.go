package service

import (
	"fmt"
	"strings"
	"time"

	"github.com/agentspool/agentspool/spool"
)

// Scheduling and recovery: each agent's next claim, and what a previous
// run left in cur/.

// schedule claims the next message of every agent that has none in flight.
func (d *Daemon) schedule() {
	names, err := d.sp.Agents()
	if err != nil {
		d.log.Error("scan agents", "err", err)
		return
	}
	now := d.now()
	var soonest time.Time
	for _, name := range names {
		d.mu.Lock()
		st := d.agent(name)
		busy, draftUntil, atWork, unseenPaste := st.busy, st.draftUntil, st.atWork, st.unseenPaste
		d.mu.Unlock()
		if busy {
			continue
		}
		if now.Before(draftUntil) {
			if soonest.IsZero() || draftUntil.Before(soonest) {
				soonest = draftUntil
			}
			switch {
			case atWork:
				d.setState(name, "waiting for its CLI to finish a turn", "its pane shows it at work; looked at again "+draftUntil.Format(time.TimeOnly))
			case unseenPaste:
				d.setState(name, "waiting for an earlier paste to show", "a paste into its pane had not shown in its input; looked at again "+draftUntil.Format(time.TimeOnly))
			default:
				d.setState(name, "waiting for the input to be cleared", "it holds a draft; looked at again "+draftUntil.Format(time.TimeOnly))
			}
			continue
		}
		if reason, held := d.sp.AgentHeld(name); held {
			d.setState(name, "held", reason)
			continue
		}
		var first func(spool.Entry) bool
		if st.cfg != nil && st.cfg.Tmux != "" {
			first = pastedBefore
		}
		e, ok, wake, err := d.sp.NextFirst(name, now, first, d.passable)
		if err != nil {
			d.log.Error("scan", "agent", name, "err", err)
			continue
		}
		if !ok {
			if !wake.IsZero() && (soonest.IsZero() || wake.Before(soonest)) {
				soonest = wake
			}
			d.setState(name, "idle", "")
			continue
		}
		if st.cfg == nil {
			d.fail(e, fmt.Sprintf("unknown agent %q: it is not in %s (agents: %s)", name, d.cfg.Path, strings.Join(d.cfg.Names(), ", ")))
			d.poke()
			continue
		}
		if settled, at := d.sp.Settled(e, SettleWindow, now); !settled {
			// Still being written in place: wait until it rests.
			if soonest.IsZero() || at.Before(soonest) {
				soonest = at
			}
			d.setState(name, "waiting for a file still being written", e.Name)
			continue
		}
		if ok, at, why := d.readyFor(st, e, now, true); !ok {
			if soonest.IsZero() || at.Before(soonest) {
				soonest = at
			}
			d.setState(name, "waiting for the agent to be ready", why)
			continue
		}
		if d.refuseSameID(e) {
			d.poke()
			continue
		}
		c, err := d.sp.Claim(e)
		if err != nil {
			if !spool.IsGone(err) {
				d.log.Error("claim", "id", e.ID, "agent", name, "err", err)
			}
			continue
		}
		if c.OrigName != "" && e.OrigName == "" {
			// The claim named it: the journal keeps the sender's name
			// beside the daemon's, as names/ does.
			d.journal.Renamed(c)
			d.log.Debug("named at claim", "agent", name, "name", c.Name, "original", c.OrigName)
		}
		d.logMove(c, spool.StateNew, spool.StateCur, nil)
		d.mu.Lock()
		st.busy = true
		d.mu.Unlock()
		if st.cfg.Tmux != "" {
			d.setState(name, "delivering into its pane", c.ID)
		} else {
			d.setState(name, "queued for the desktop", c.ID)
		}
		d.dispatch(c)
	}
	if !soonest.IsZero() {
		time.AfterFunc(time.Until(soonest)+time.Millisecond, d.poke)
	}
}

// passBehind is how many failed attempts of its own (in its series) let
// a postponed message be passed by the messages queued after it: until
// then it keeps its place (an agent sees its messages in order), after it
// looks like the message's own trouble, and the agent's queue goes on.
const passBehind = 3

// passable reports whether e, postponed, may be passed (passBehind).
func (d *Daemon) passable(e spool.Entry) bool { return d.countsOf(e).GUIFails >= passBehind }

// pastedBefore is a pane agent's message that goes before the others: one
// back in new/ whose paste may be in the pane's input, or show there yet
// (a first submit recorded, no attempt counted: a paste that had not shown
// when its attempt stopped waiting, spool.Entry.PastedOnce). Until it is
// resolved the pane takes no other paste (deliver.IsUnseenPaste), so any
// other message claimed first would only be refused. Read from the
// message's name, it holds across a restart.
func pastedBefore(e spool.Entry) bool { return !e.FirstSubmit.IsZero() && e.Attempt == 0 }

// refuseSameID keeps one message per id live for an agent. An ack names
// only the id, so of two live messages with one id (two drops of
// status.md, two files with the same id:, two concurrent send --id X)
// either one's ack would confirm the other. Of the messages of e's agent
// in new/ and cur/ with e's id, the one in cur/ (in flight), else the one
// that entered first (then by name), is delivered; every other is failed
// at the claim, with a reason that says to send it again with another
// id. It reports whether e itself was refused. (A message whose id was
// used by one already done or failed is no duplicate: its acks count
// only from its own submit.)
func (d *Daemon) refuseSameID(e spool.Entry) bool {
	var same []spool.Entry
	for _, st := range []spool.State{spool.StateCur, spool.StateNew} {
		es, err := d.sp.Scan(st, e.Agent)
		if err != nil {
			d.log.Warn("scan for messages with the same id", "agent", e.Agent, "err", err)
			return false
		}
		for _, o := range es {
			if o.ID == e.ID && !(o.State == e.State && o.Name == e.Name) {
				same = append(same, o)
			}
		}
	}
	if len(same) == 0 {
		return false
	}
	before := func(a, b spool.Entry) bool {
		if a.State != b.State {
			return a.State == spool.StateCur
		}
		if ta, tb := a.EnteredAt(), b.EnteredAt(); !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return a.Name < b.Name
	}
	keep := e
	for _, o := range same {
		if before(o, keep) {
			keep = o
		}
	}
	name := func(x spool.Entry) string {
		if x.OrigName != "" {
			return x.OrigName
		}
		return x.Name
	}
	refused := false
	for _, o := range append(same, e) {
		if o.State != spool.StateNew || (o.State == keep.State && o.Name == keep.Name) {
			continue
		}
		reason := fmt.Sprintf("another message with id %s for %s is queued or in flight (%s, in %s/): an ack names only the id, so one could confirm the other; send this one again with another id",
			e.ID, e.Agent, name(keep), keep.State)
		d.fail(o, reason)
		if o.Name == e.Name {
			refused = true
		}
	}
	return refused
}

// recover handles what a previous run left in cur/: acked → done; submitted
// and still inside its ack window → wait for the ack; anything else →
// delivered again, after taking back a paste it may have left in the input.
func (d *Daemon) recover() error {
	es, err := d.sp.Scan(spool.StateCur, "")
	if err != nil {
		return err
	}
	for _, e := range es {
		d.mu.Lock()
		st := d.agent(e.Agent)
		d.mu.Unlock()
		if st.cfg == nil {
			d.fail(e, fmt.Sprintf("unknown agent %q: it is not in %s", e.Agent, d.cfg.Path))
			continue
		}
		if st.busy {
			// Two claimed messages for one agent (an operator moved files):
			// keep one in flight, queue the other again.
			if p, err := d.sp.Postpone(e, time.Time{}); err == nil {
				d.logMove(p, spool.StateCur, spool.StateNew, nil)
			}
			continue
		}
		d.mu.Lock()
		st.busy = true
		d.mu.Unlock()
		if d.acked(e, st.cfg, nil) {
			const why = "recovered: acked before the restart"
			if d.done(e, why) {
				d.mu.Lock()
				st.busy = false
				d.mu.Unlock()
			} else {
				// Still in cur/: its agent stays busy until the move works.
				d.stuck(e, func() bool { return d.done(e, why) })
			}
			continue
		}
		if !e.Submitted.IsZero() {
			d.log.Info("recovered: waiting for ack", "id", e.ID, "agent", e.Agent, "attempt", e.Attempt)
			left := e.Submitted.Add(st.cfg.AckTimeout).Sub(d.now())
			d.awaitAck(e, st.cfg, max(left, 0))
			continue
		}
		if e.Pasting {
			d.mu.Lock()
			st.needsUndo = true
			d.mu.Unlock()
		}
		d.log.Info("recovered: delivering again", "id", e.ID, "agent", e.Agent, "attempt", e.Attempt)
		d.dispatch(e)
	}
	return nil
}
