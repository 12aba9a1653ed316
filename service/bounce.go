package service

import (
	"fmt"
	"strings"

	"github.com/agentspool/agentspool/spool"
)

// Bounces: when a message ends in failed/ or is parked in hold/ and its
// from: names an agent of this config (with bounce on), that agent gets a
// short non-delivery report as an ordinary message, so a sender learns
// of it without running `agentspool status`. A bounce never bounces: it
// is from BounceFrom and its id starts with BouncePrefix, and either mark
// is enough for it never to be answered with another.

const (
	// BounceFrom is the from: of every non-delivery report.
	BounceFrom = "agentspool"
	// BouncePrefix starts the id of every non-delivery report.
	BouncePrefix = "bounce-"
)

// bounce queues the report for e (now in failed/ or hold/, as state says)
// when its sender is an agent that wants one. Best effort: a message that
// cannot be read, or a report that cannot be queued, is logged and that
// is all; delivery of other messages never waits on it.
func (d *Daemon) bounce(e spool.Entry, state spool.State, reason string) {
	m, err := d.sp.Read(e)
	if err != nil || m.From == "" || m.From == BounceFrom || strings.HasPrefix(e.ID, BouncePrefix) {
		return
	}
	sender, ok := d.cfg.Agent(m.From)
	if !ok || !sender.Bounce {
		return
	}
	next := "agentspool retry " + e.ID
	if state == spool.StateHold {
		next = "agentspool release " + e.ID
		if _, held := d.sp.AgentHeld(e.Agent); held {
			next = "agentspool release " + e.Agent + " (the agent's whole queue is held), then agentspool release " + e.ID
		}
	}
	verb := map[spool.State]string{spool.StateFailed: "failed", spool.StateHold: "held"}[state]
	body := fmt.Sprintf("Non-delivery report: your message %s to %s was not delivered; it is %s.\n"+
		"Reason: %s\n"+
		"See it: agentspool show %s\n"+
		"Once the cause is fixed: %s\n",
		e.ID, e.Agent, verb, strings.TrimSpace(reason), e.ID, next)
	id := BouncePrefix + spool.NewID()
	data, err := spool.Compose(spool.Header{ID: id, From: BounceFrom, To: sender.Name, Priority: spool.PriorityNormal}, []byte(body), d.cfg.MaxMessageBytes)
	if err == nil {
		_, err = d.sp.Enqueue(sender.Name, data)
	}
	if err != nil {
		d.log.Error("bounce not queued", "id", e.ID, "agent", e.Agent, "sender", sender.Name, "err", err)
		return
	}
	d.journal.Event(e, "bounced", "to "+sender.Name+" as "+id)
	d.log.Info("bounced", "id", e.ID, "agent", e.Agent, "sender", sender.Name, "bounce", id, "state", string(state))
	d.poke()
}
