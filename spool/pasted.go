// Which messages a daemon pasted: what an agent's hook may ack.

package spool

import "fmt"

// Pasted finds id among agent's messages that the daemon pasted at
// least once, wherever the message is now: in cur/ (delivering, or waiting
// for its ack), in done/, and also back in new/ (or hold/, failed/) after
// an ack timeout — a tool may submit a paste late (Codex queues a prompt
// typed while a turn runs), and that late submit is still its delivery.
// The daemon looks for the ack before any retry, so such a message goes to
// done/ and is never pasted again. A message the daemon never pasted (in
// new/ with no attempt yet, or claimed but not yet marked pasting) is not
// found: an envelope a sender typed by hand is no delivery.
func (s *Spool) Pasted(agent, id string) (Entry, bool, error) {
	if !ValidID(id) {
		return Entry{}, false, fmt.Errorf("%q is no message id", id)
	}
	var never Entry
	// Twice: a scan that ran while the daemon renamed the message (from
	// pasting to submitted, or back to new/) may have missed it.
	for pass := 0; pass < 2; pass++ {
		for _, st := range []State{StateCur, StateNew, StateDone, StateHold, StateFailed} {
			es, err := s.Scan(st, agent)
			if err != nil {
				return Entry{}, false, err
			}
			for _, en := range es {
				if en.ID != id {
					continue
				}
				if en.PastedOnce() {
					return en, true, nil
				}
				never = en
			}
		}
	}
	if never.ID != "" {
		return Entry{}, false, fmt.Errorf("%s is in %s/ and was never pasted by the daemon: an envelope typed by hand is no ack", id, never.State)
	}
	return Entry{}, false, fmt.Errorf("%s is not a message of %s's", id, agent)
}

// PastedOnce reports whether the daemon pasted e at least once, from the
// retry state in its name: done (submitted), an attempt counted (only a
// submit that got no ack counts one), marked pasting or submitted in cur/
// (the hook can run between the submit key and the submitted mark), or a
// first submit recorded (also a paste into a pane that had not shown when
// its attempt stopped waiting, and may be submitted yet).
func (e Entry) PastedOnce() bool {
	return e.State == StateDone || e.Attempt > 0 || e.Pasting || !e.Submitted.IsZero() || !e.FirstSubmit.IsZero()
}
