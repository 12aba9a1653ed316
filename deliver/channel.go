// The channel interface (platform-neutral): how the service drives one
// delivery, whatever the way into the agent's input.

package deliver

import "context"

// Channel is one way into agents' inputs: the desktop (Deliverer: a
// window's input, through the clipboard) or tmux panes (Panes). The
// service drives both alike; the spool, acks, hooks, retries, holds and
// status are the same for both.
//
// A crash's leftover is the one thing the channels do not share: on the
// desktop the service taps the submit again or undoes blind
// (Deliverer.SubmitAgain, Deliverer.Undo), as a window's input cannot be
// read in a terminal; a pane's input is read before every paste, so its
// Deliver finds the leftover itself and nothing is done blind.
type Channel interface {
	// Deliver puts text into t's input and submits it.
	Deliver(ctx context.Context, t Target, text string) (Report, error)
	// AgentAbsent reports whether t's window or pane is gone.
	AgentAbsent(t Target) (at Window, absent bool, err error)
	// ProgramOf is what runs in t's window or pane.
	ProgramOf(t Target) Program
}

var (
	_ Channel = (*Deliverer)(nil)
	_ Channel = (*Panes)(nil)
)
