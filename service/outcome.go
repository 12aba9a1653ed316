package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

// stepKind is what happens to a message after one delivery attempt.
type stepKind int

const (
	stepAwaitAck stepKind = iota + 1 // submitted: wait for the ack in cur/
	stepDone                         // submitted, ack off: done/
	stepPostpone                     // nothing reached the agent: back to new/ with a not-before, no attempt counted
	stepHold                         // park in hold/ (and the whole agent with holdAgent)
	stepFail                         // give up: failed/
)

// counters are the per-message and per-agent counts an outcome reads and
// updates. They live in agentState; outcome gets a copy and returns the
// new values, so it stays a pure function.
type counters struct {
	Mismatches int // focus mismatches in a row, this agent
	GUIFails   int // attempts the desktop refused, this message
	Drafts     int // attempts refused because the input held a draft, this message
	QuietNoted bool
}

// A message whose agent's input holds a draft is looked at again at least
// DraftLookMin and at most DraftLookMax apart, and parked in hold/ once it
// has waited DraftHoldAfter (and max_attempts looks) for the input to be
// cleared. The floor is for backoff: 0s, which would look again at once,
// again and again (each look clicks into the agent's input), and never
// park the message.
const (
	DraftLookMin   = time.Second
	DraftLookMax   = 30 * time.Second
	DraftHoldAfter = 10 * time.Minute
)

// draftDelay is how long a message waits after the n-th look (1, 2, ...)
// that found a draft in its agent's input: backoff, doubled each time,
// within [DraftLookMin, DraftLookMax].
func draftDelay(n int, backoff time.Duration) time.Duration {
	return max(doubled(backoff, n, DraftLookMax), DraftLookMin)
}

// draftWaited is how long a message has waited after its first n looks
// that found a draft: the sum of their delays.
func draftWaited(n int, backoff time.Duration) time.Duration {
	var w time.Duration
	for i := 1; i <= n; i++ {
		w += draftDelay(i, backoff)
	}
	return w
}

// step is the next state of a message: what to do, and the new counters.
type step struct {
	Kind      stepKind
	Delay     time.Duration // stepPostpone: not before now+Delay
	Reason    string        // stepHold, stepFail; the cause for a postpone
	HoldAgent bool          // stepHold: pause the agent's whole queue
	Cause     error         // logged with a postpone
	Counters  counters
	// LogQuiet: the first time this message waits for a quiet desk.
	LogQuiet bool
	// LogMismatchHold: the focus mismatch that parks the agent.
	LogMismatchHold bool
}

// outcome is the pure function from one attempt's result (its error and
// report, the message, the agent's settings and the counters) to the next
// state (issue 11, structure). No I/O, no clock: the caller applies it.
func outcome(err error, rep deliver.Report, msg *spool.Message, e spool.Entry, a *config.Agent, c counters) step {
	switch {
	case err == nil:
		c.Mismatches, c.GUIFails, c.Drafts, c.QuietNoted = 0, 0, 0, false
		ack := a.Ack
		if msg != nil && msg.Ack != nil {
			ack = *msg.Ack
		}
		if !ack {
			return step{Kind: stepDone, Reason: "submitted; agent has ack off (unconfirmed)", Counters: c}
		}
		return step{Kind: stepAwaitAck, Counters: c}
	case deliver.IsNotQuiet(err):
		first := !c.QuietNoted
		c.QuietNoted = true
		return step{Kind: stepPostpone, Delay: 100 * time.Millisecond, Counters: c, LogQuiet: first}
	case deliver.IsPersonActive(err):
		return step{Kind: stepPostpone, Delay: 100 * time.Millisecond, Cause: err, Counters: c}
	case deliver.IsDraft(err):
		// A person's draft in the input (issue 14 item 4): the message
		// waits until the input is clear, looking again after backoff,
		// doubled each time up to DraftLookMax. Not an attempt: only an
		// input that stays full for DraftHoldAfter parks the message.
		c.Drafts++
		if waited := draftWaited(c.Drafts-1, a.Backoff); waited >= DraftHoldAfter && c.Drafts >= a.MaxAttempts {
			return step{Kind: stepHold, Counters: c, Reason: fmt.Sprintf("input not empty for %v: %v (checked %d times); clear the agent's input, then: agentspool release %s", waited.Round(time.Second), err, c.Drafts, e.ID)}
		}
		return step{Kind: stepPostpone, Delay: draftDelay(c.Drafts, a.Backoff), Cause: err, Counters: c}
	case deliver.IsUnsafeKey(err):
		// Systematic: every attempt would ask for the same key.
		return step{Kind: stepHold, HoldAgent: true, Counters: c, Reason: err.Error() + "; then: agentspool release " + e.Agent}
	case rep.Pasted && !rep.Submitted:
		return step{Kind: stepHold, HoldAgent: true, Counters: c, Reason: "pasted into the input but not submitted, and the paste could not be taken back: check the agent's input; " + err.Error()}
	}
	if w, ok := deliver.IsFocusMismatch(err); ok {
		c.Mismatches++
		if c.Mismatches >= MismatchesToHold {
			n := c.Mismatches
			c.Mismatches = 0
			return step{Kind: stepHold, HoldAgent: true, Counters: c, LogMismatchHold: true,
				Reason: fmt.Sprintf("focus mismatch %d times in a row: clicking (%d,%d) focused %q (pid %d), not the window %q; fix coords.yaml (agentspool coords capture %s) and run: agentspool release %s",
					n, a.X, a.Y, w.Title, w.PID, a.Window, e.Agent, e.Agent)}
		}
		return step{Kind: stepPostpone, Delay: time.Duration(c.Mismatches) * 200 * time.Millisecond, Cause: err, Counters: c}
	}
	c.GUIFails++
	if c.GUIFails >= guiFailuresToFail {
		return step{Kind: stepFail, Counters: c, Reason: fmt.Sprintf("the desktop refused %d times: %v", c.GUIFails, err)}
	}
	delay := 100 * time.Millisecond * time.Duration(c.GUIFails)
	if deliver.IsNoDisplay(err) || errors.Is(err, deliver.ErrClipboardSilent) {
		// Not this message's fault: give the desk time to recover.
		delay = 5 * time.Second
	}
	return step{Kind: stepPostpone, Delay: delay, Cause: err, Counters: c}
}

// readOutcome is the next state after the message file could not be read:
// a permanent refusal (a symlink, FIFO, directory, another user's file,
// bad content) fails it at once; a temporary error is retried, counted,
// and fails after readFailuresToFail (issue 11 item 5: never an endless
// loop).
func readOutcome(err error, fails int) step {
	if spool.IsPermanent(err) {
		return step{Kind: stepFail, Reason: err.Error()}
	}
	if fails >= readFailuresToFail {
		return step{Kind: stepFail, Reason: fmt.Sprintf("the message file could not be read %d times: %v", fails, err)}
	}
	return step{Kind: stepPostpone, Delay: time.Second, Cause: err}
}
