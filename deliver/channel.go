// The channel interface (platform-neutral): how the service drives one
// delivery, whatever the way into the agent's input.

package deliver

import "context"

// Channel is one way into agents' inputs: the desktop (Deliverer: a
// window's input, through the clipboard) or tmux panes (Panes). The
// service drives both alike; the spool, acks, hooks, retries, holds and
// status are the same for both.
type Channel interface {
	// Deliver puts text into t's input and submits it.
	Deliver(ctx context.Context, t Target, text string) (Report, error)
	// SubmitAgain taps t's submit key again, for a paste that may wait
	// in its input (see Deliverer.SubmitAgain).
	SubmitAgain(ctx context.Context, t Target, afterEnter bool) (Report, error)
	// Undo takes a paste back out of t's input, where that is safe.
	Undo(ctx context.Context, t Target) error
	// AgentAbsent reports whether t's window or pane is gone.
	AgentAbsent(t Target) (at Window, absent bool, err error)
	// ProgramOf is what runs in t's window or pane.
	ProgramOf(t Target) Program
}

var (
	_ Channel = (*Deliverer)(nil)
	_ Channel = (*Panes)(nil)
)
