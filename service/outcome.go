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
// updates. The daemon keeps them (agentState.fails, and msgCounts for each
// message in its attempt series); outcome gets a copy and returns the new
// values, so it stays a pure function.
type counters struct {
	// Fails are this agent's failed attempts since its last submit, by
	// class: a class that reaches its systematicAfter parks the agent.
	Fails      [numFailClasses]int
	GUIFails   int // attempts that failed, this message (whatever the class)
	Drafts     int // attempts refused because the input held a draft, this message
	AtWork     int // attempts refused because the agent's CLI was at work, this message
	QuietNoted bool
}

// failClass is what ended an attempt, as far as the daemon can tell: the
// classes a systematic failure is recognised by.
type failClass int

const (
	classOther     failClass = iota // an error the daemon has no class for
	classFocus                      // another window took the focus; the agent's is at its point
	classAbsent                     // no window of the agent's at its point (gone, moved, covered)
	classSeenEmpty                  // the paste was read whole, yet a look saw the input empty
	classNotLanded                  // the paste was not read, or not seen as sent
	classClipboard                  // another client took the clipboard from the paste
	classDesk                       // the desktop's own trouble: no display, a silent clipboard owner
	classNoPrompt                   // a pane showed no input prompt (a dialog, a program at work)
	numFailClasses
)

// systematicAfter is how many failures of class c for one agent, with no
// submit in between (whichever messages they were), park the agent: the
// same failure, again and again, is the window's or the config's, and a
// person must be told rather than each message retried unseen. 0: never
// (the desktop's trouble is every agent's, and ends by itself: it stays
// bounded per message by guiFailuresToFail).
func systematicAfter(c failClass) int {
	switch c {
	case classFocus, classAbsent, classSeenEmpty:
		return MismatchesToHold
	case classDesk:
		return 0
	}
	return 5
}

// classify is the failClass of a delivery error that is a failure.
func classify(err error) failClass {
	var ae *absentError
	switch {
	case errors.As(err, &ae):
		return classAbsent
	case errors.Is(err, deliver.ErrSeenEmpty):
		return classSeenEmpty
	case errors.Is(err, deliver.ErrNotLanded):
		return classNotLanded
	case deliver.IsNoDisplay(err), errors.Is(err, deliver.ErrClipboardSilent):
		return classDesk
	case errors.Is(err, deliver.ErrClipboardTaken):
		return classClipboard
	case errors.Is(err, deliver.ErrNoPrompt):
		return classNoPrompt
	}
	if _, ok := deliver.IsFocusMismatch(err); ok {
		return classFocus
	}
	return classOther
}

// absentError is a focus mismatch after which the agent's window was not
// found at its point (deliver.Deliverer.AgentAbsent): the daemon wraps
// it, so outcome stays pure.
type absentError struct {
	at  deliver.Window // the window at the point (ID 0: none)
	err error
}

func (e *absentError) Error() string { return e.err.Error() }
func (e *absentError) Unwrap() error { return e.err }

// systematicReason says why an agent is parked after n failures of class
// c, the last with err, and what to do: the cause the daemon knows, and
// no other.
func systematicReason(c failClass, n int, err error, e spool.Entry, a *config.Agent) string {
	release := "agentspool release " + e.Agent
	switch c {
	case classFocus:
		w, _ := deliver.IsFocusMismatch(err)
		return fmt.Sprintf("focus mismatch %d times in a row: clicking (%d,%d) focused %q (pid %d), not the window %q, though no other window was seen at that point: another window takes the focus after the click, or the point is off the agent's input (agentspool coords capture %s); then run: %s",
			n, a.X, a.Y, w.Title, w.PID, a.Window, e.Agent, release) + deliver.WaylandHint()
	case classAbsent:
		if a.Tmux != "" {
			return fmt.Sprintf("the agent's tmux pane %s is gone: %d deliveries in a row found it closed or its program ended (%v); start the agent in a pane again and name it in coords.yaml (tmux:), then run: %s",
				a.Tmux, n, err, release)
		}
		var ae *absentError
		errors.As(err, &ae)
		there := "no window"
		if ae != nil && ae.at.ID != 0 {
			there = fmt.Sprintf("the window %q (pid %d)", ae.at.Title, ae.at.PID)
		}
		return fmt.Sprintf("the agent's window is gone from its point: %d deliveries in a row found %s at (%d,%d), not one matching %s (it was closed, moved, or is covered); open the agent's window again (or fix coords.yaml: agentspool coords capture %s), then run: %s",
			n, there, a.X, a.Y, describeWindow(a), e.Agent, release) + deliver.WaylandHint()
	case classSeenEmpty:
		return fmt.Sprintf("the input does not answer select-all/copy: %d pastes in a row were read whole by the agent's window, yet a look (select-all %s, copy %s) saw its input empty each time (a Win32 EDIT control has no select-all; or the window drops every paste): set `verify_paste: false` and `draft_check: false` for this agent, or its `select_all`/`copy` keys, then run: %s; last: %v",
			n, keyName(a.SelectAll), keyName(a.Copy), release, err)
	case classNotLanded:
		if a.Tmux != "" {
			return fmt.Sprintf("the agent's tmux pane %s did not show %d pastes in a row whole in its input (its program may draw its input in a way agentspool does not read): %v; look at the pane, then run: %s", a.Tmux, n, err, release)
		}
		return fmt.Sprintf("the agent's window did not take %d pastes in a row (check that its input takes a paste, and its paste key): %v; then run: %s", n, err, release)
	case classNoPrompt:
		waited := waitedAfter(n-1, noPromptDelay)
		return fmt.Sprintf("the agent's tmux pane %s showed no input prompt %d times in a row over %v (a line that begins with %s: a dialog waiting for an answer, a program that is not an agent CLI, such as a shell at its $ prompt, or a CLI that draws its input in a way agentspool does not read): look at the pane, then run: %s; last: %v",
			a.Tmux, n, waited, deliver.PromptMarks, release, err)
	case classClipboard:
		return fmt.Sprintf("another program took the clipboard during %d pastes in a row (a clipboard manager that copies every change?): %v; stop it, then run: %s", n, err, release)
	}
	return fmt.Sprintf("%d deliveries in a row failed the same way, for a reason the daemon does not know: %v; then run: %s", n, err, release)
}

func keyName(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}

// A message whose agent's input holds a draft is looked at again at least
// DraftLookMin and at most DraftLookMax apart, and parked in hold/ once it
// has waited DraftHoldAfter (and max_attempts looks) for the input to be
// cleared. The floor is for backoff: 0s, which would look again at once,
// again and again (each look clicks into the agent's input), and never
// park the message.
const (
	// NoPromptLookFirst is the first wait after a look that found no
	// input prompt in a pane, doubled after each.
	NoPromptLookFirst = 2 * time.Second

	DraftLookMin   = time.Second
	DraftLookMax   = 30 * time.Second
	DraftHoldAfter = 10 * time.Minute
)

// noPromptDelay is how long a message waits after the n-th look (1, 2,
// ...) in a row that found no input prompt in its agent's pane:
// NoPromptLookFirst, doubled each time, at most DraftLookMax.
func noPromptDelay(n int) time.Duration { return doubled(NoPromptLookFirst, n, DraftLookMax) }

// AtWorkLookFirst is the first wait after a look that found the agent's
// CLI at work on a turn, doubled after each (at most DraftLookMax): a turn
// seen at work just after its hook said ready ends in a moment.
const AtWorkLookFirst = time.Second

// atWorkDelay is how long a message waits after the n-th look (1, 2, ...)
// in a row that found its agent's CLI at work.
func atWorkDelay(n int) time.Duration { return doubled(AtWorkLookFirst, n, DraftLookMax) }

// waitedAfter is how long a message has waited after its first n looks
// in a row that found its agent not ready for it, delay(i) after the
// i-th: the sum of their delays.
func waitedAfter(n int, delay func(int) time.Duration) time.Duration {
	var w time.Duration
	for i := 1; i <= n; i++ {
		w += delay(i)
	}
	return w
}

// draftDelay is how long a message waits after the n-th look (1, 2, ...)
// that found a draft in its agent's input: backoff, doubled each time,
// within [DraftLookMin, DraftLookMax].
func draftDelay(n int, backoff time.Duration) time.Duration {
	return max(doubled(backoff, n, DraftLookMax), DraftLookMin)
}

// draftWaited is how long a message has waited after its first n looks
// that found a draft: the sum of their delays.
func draftWaited(n int, backoff time.Duration) time.Duration {
	return waitedAfter(n, func(i int) time.Duration { return draftDelay(i, backoff) })
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
		c = counters{}
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
	case errors.Is(err, deliver.ErrAtWork):
		// The agent's CLI is at work on a turn, as its pane shows, though
		// its hooks said ready (a moment before its turn ends) or it has
		// none: a submit now would be no prompt of its own. Nothing was
		// pasted; the message waits, looked at again after 1, 2, 4 … s
		// (at most DraftLookMax), and is parked once the CLI has been at
		// work for longer than busy_max. Not an attempt.
		c.AtWork++
		if waited := waitedAfter(c.AtWork-1, atWorkDelay); waited >= a.BusyMax && c.AtWork >= a.MaxAttempts {
			return step{Kind: stepHold, Counters: c, Reason: fmt.Sprintf("the agent's CLI was at work on a turn for %v, longer than busy_max (its pane's screen said so %d times): a submit into a CLI at work is no prompt of its own (Qwen Code steers it into the turn, and no hook acks it); look at the pane, then: agentspool release %s; last: %v",
				waited.Round(time.Second), c.AtWork, e.ID, err)}
		}
		return step{Kind: stepPostpone, Delay: atWorkDelay(c.AtWork), Cause: err, Counters: c}
	case deliver.IsUnsafeText(err):
		// The message's own: every attempt would refuse it alike. Failed
		// (the sender is told), the agent goes on with the next.
		return step{Kind: stepFail, Counters: c, Reason: err.Error()}
	case deliver.IsUnsafeKey(err):
		// Systematic: every attempt would ask for the same key.
		return step{Kind: stepHold, HoldAgent: true, Counters: c, Reason: err.Error() + "; then: agentspool release " + e.Agent}
	case rep.Pasted && !rep.Submitted:
		return step{Kind: stepHold, HoldAgent: true, Counters: c, Reason: "pasted into the input but not submitted, and the paste could not be taken back: check the agent's input; " + err.Error()}
	}
	// Every other failure counts, for the message and, by its class, for
	// the agent (issue "Nothing silent, nothing false" item 1): one class
	// again and again, with no submit in between, is systematic, and parks
	// the agent with the cause and what to do.
	class := classify(err)
	c.Fails[class]++
	c.GUIFails++
	if n, most := c.Fails[class], systematicAfter(class); most > 0 && n >= most {
		c.Fails = [numFailClasses]int{} // a release starts afresh
		return step{Kind: stepHold, HoldAgent: true, Counters: c, LogMismatchHold: class == classFocus || class == classAbsent,
			Reason: systematicReason(class, n, err, e, a)}
	}
	if c.GUIFails >= guiFailuresToFail {
		return step{Kind: stepFail, Counters: c, Reason: fmt.Sprintf("the desktop refused %d times: %v", c.GUIFails, err)}
	}
	delay := 100 * time.Millisecond * time.Duration(c.GUIFails)
	switch class {
	case classFocus, classAbsent:
		delay = time.Duration(c.Fails[class]) * 200 * time.Millisecond
	case classDesk:
		// Not this message's fault: give the desk time to recover.
		delay = 5 * time.Second
	case classNoPrompt:
		// A CLI starting, or at work with its input hidden, shows its
		// prompt again in its own time: looked at again after 2, 4, 8,
		// 16 s, so the agent is held after half a minute without one,
		// not within a second.
		delay = noPromptDelay(c.Fails[class])
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
