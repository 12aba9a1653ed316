package service

import (
	"fmt"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

// readyPoll is how often the daemon looks at a busy agent's state file
// again. The file is tiny, and a poll is the truth the watcher would only
// hint at; an agent that turns ready waits at most this long.
const readyPoll = 200 * time.Millisecond

// readyFor decides whether e may be claimed for its agent now, by the
// agent's deliver_when and the state file its tool's hooks write
// (confirm.MarkState). It returns false with the time to look again and
// why, for status. It never blocks for ever: no state file, an unreadable
// one, a busy state older than busy_max, and an urgent message older than
// urgent_after all let the delivery go on.
// Only a decision to deliver is logged (with note): the check again just
// before the paste (deliverOne) stays quiet.
func (d *Daemon) readyFor(st *agentState, e spool.Entry, now time.Time, note bool) (bool, time.Time, string) {
	a := st.cfg
	if a.DeliverWhen == config.DeliverAlways {
		return true, time.Time{}, ""
	}
	s, err := confirm.ReadState(d.sp.Root, a.Name)
	switch {
	case err != nil:
		d.noteReady(st, "unreadable:"+err.Error(), func() {
			d.log.Warn("agent state unreadable; delivering as if ready", "agent", a.Name, "err", err)
		})
		return true, time.Time{}, ""
	case s == nil:
		if a.DeliverWhen == config.DeliverReady {
			d.noteReady(st, "no state", func() {
				d.log.Warn("deliver_when: ready, but the agent's hooks have never run (no state file); delivering",
					"agent", a.Name, "state_file", confirm.StatePath(d.sp.Root, a.Name))
			})
		}
		return true, time.Time{}, ""
	case s.State == confirm.StateReady:
		d.mu.Lock()
		st.hookNote = ""
		d.mu.Unlock()
		return true, time.Time{}, ""
	}
	since := s.Since
	if since.After(now) {
		since = now // a clock step: count from now
	}
	expires := since.Add(a.BusyMax)
	if !now.Before(expires) {
		d.noteReady(st, "busy_max:"+s.Since.String(), func() {
			d.log.Warn("agent busy for longer than busy_max; delivering anyway", "agent", a.Name, "id", e.ID,
				"busy_since", s.Since, "busy_max", a.BusyMax, "last_event", s.Event)
			d.journal.Event(e, "busy_max", fmt.Sprintf("busy since %s (%s), longer than busy_max %v", s.Since.UTC().Format(time.RFC3339), s.Event, a.BusyMax))
		})
		return true, time.Time{}, ""
	}
	wake := earliest(now.Add(readyPoll), expires)
	if e.Priority == spool.PriorityUrgent {
		// EnteredAt, not Queued: a message put back in new/ (the agent
		// turned busy before the paste) keeps its place in the wait.
		at := e.EnteredAt().Add(a.UrgentAfter)
		if !now.Before(at) && !note {
			return true, time.Time{}, ""
		}
		if !now.Before(at) {
			d.log.Info("urgent message goes to a busy agent after urgent_after", "agent", a.Name, "id", e.ID,
				"busy_since", s.Since, "urgent_after", a.UrgentAfter)
			d.journal.Event(e, "urgent_while_busy", fmt.Sprintf("waited %v for the busy agent (urgent_after %v)", now.Sub(e.EnteredAt()).Round(time.Millisecond), a.UrgentAfter))
			return true, time.Time{}, ""
		}
		wake = earliest(wake, at)
	}
	return false, wake, fmt.Sprintf("busy since %s (%s)", s.Since.Local().Format(time.TimeOnly), s.Event)
}

// noteReady runs log once for each new key of an agent's ready decision,
// so a state that stays the same is logged once, not on every scan.
func (d *Daemon) noteReady(st *agentState, key string, log func()) {
	d.mu.Lock()
	seen := st.hookNote == key
	st.hookNote = key
	d.mu.Unlock()
	if !seen {
		log()
	}
}

// noteSubmit records what the agent's hook noted about e's submit: a
// message merged with other text is journalled, logged and counted.
func (d *Daemon) noteSubmit(e spool.Entry, a *config.Agent) {
	submit, why := confirm.AckNote(a.Inbox, e.ID)
	if submit != confirm.SubmitMerged {
		return
	}
	d.mu.Lock()
	d.agent(e.Agent).merged++
	d.dirty = true
	d.mu.Unlock()
	d.log.Warn("merged submit: the agent's hook saw the message submitted with other text", "id", e.ID, "agent", e.Agent, "why", why)
	d.journal.Event(e, "merged", why)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
