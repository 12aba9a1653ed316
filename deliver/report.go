// What one delivery measured (platform-neutral): Report, and the end of
// each GUI step timed from the lock being taken.

package deliver

import "time"

// Report is what one delivery measured.
type Report struct {
	LockWait time.Duration // waiting for the desktop lock
	GUI      time.Duration // lock taken → submit settled (the GUI phase)
	Focus    time.Duration // click → focus verified
	Readback time.Duration // offer → read back equal
	Fetch    time.Duration // ctrl+v → the window's last read of the paste
	Settle   time.Duration // the settle after the paste (Target.PasteSettle)
	Restore  time.Duration // the person's clipboard put back
	GiveBack time.Duration // focus and pointer given back
	Release  time.Duration // keyboard let go, kept keys replayed
	Refocus  int           // times it took the focus back because it moved
	Focused  Window        // the window that had focus, on a mismatch
	// AgentWindow is the agent's window as found after the click.
	AgentWindow Window
	// Reoffered counts the times a person's copy came before the ctrl+v
	// and the message was offered again (nothing had been pasted).
	Reoffered int
	// PasteReads and PasteRequests count the agent's client's reads of the
	// text, and all its requests (TARGETS too), in the paste's burst.
	PasteReads, PasteRequests int
	// Click is where the input was clicked (the agent's point, or a few
	// pixels aside of it so as not to make a double click).
	ClickX, ClickY int
	// FocusMovedByOthers: at the end the focus was on a third window that
	// someone else chose during the delivery; it was left there.
	FocusMovedByOthers bool
	// SubmitUncertain: the focus moved while the submit key was tapped,
	// and a look found the input empty afterwards: taken for submitted
	// (the ack confirms it).
	SubmitUncertain bool
	// Landing says how far the paste is known to have landed: "read" (the
	// agent's window read the message, and only ours, to the end of a
	// burst as long as its pastes usually are; that the text is in the
	// input nothing on the desktop shows), "seen" (a look at the input
	// found the message there, after a burst shorter than the agent's
	// usual), or "" (not pasted).
	Landing string
	// LateRead: the agent's window asked for the clipboard again after its
	// burst had been taken for ended (before the clipboard was given
	// back): the learned quiet was too short, and the paste may not have
	// landed whole.
	LateRead bool
	// QuickLooks counts the looks that took an input for empty because
	// its window did not take PRIMARY on the select-all in time (see
	// inputText), rather than by waiting out the copy deadline.
	QuickLooks int
	// Merged: the verifying look found the message merged with text that
	// was in the input before (a draft the draft check did not see); the
	// paste was taken back and the rest left as it was.
	Merged bool
	// QuietWait is how long it waited for a person to stop typing.
	QuietWait time.Duration
	// Forced: an urgent message went after QuietMaxWait while a person
	// was still at the desk (their keys kept back and replayed).
	Forced bool
	// CheckFrom and CheckTo bracket the quiet check that let the delivery
	// go: input a person made before CheckFrom was seen by it.
	CheckFrom, CheckTo time.Time
	// KeptKeys is how many of a person's key events were kept back during
	// the GUI steps and replayed to their window afterwards.
	KeptKeys int
	// GaveBack: the focus and pointer went back to the window and place
	// they were at before the click.
	GaveBack bool
	// Steps: when each GUI step ended, counted from the lock being taken
	// (step name, duration pairs; logged for a slow GUI phase).
	Steps   []any
	started time.Time
	// afterStep is Deliverer.AfterStep, called as each step ends.
	afterStep func(step string)
	// lastRequest is when the paste's last request came.
	lastRequest time.Time
	// verified: a look saw the message in the input (Landing "seen").
	verified bool
	// Pasted: the text reached the agent's input (the window fetched it).
	// Submitted: the submit key went to the agent's window. A delivery that
	// returns an error with Pasted && !Submitted left text in the input
	// that Undo could not take back: the caller should park the message.
	Pasted, Submitted, Undone bool
	// MayShow: a paste went into a pane and had not shown in its input
	// when the attempt stopped waiting for it (Pasted is false): it may
	// show yet, and be submitted by anyone (Panes' unseenPaste).
	MayShow bool
	// Erased: the input held an earlier paste of ours and nothing else,
	// which an undo had not taken back; it was selected and deleted.
	Erased bool
	// Program is what was found behind the agent's window: a terminal,
	// the agent CLI in it.
	Program Program
	// KeptOn: a person used the desk after the paste into a terminal
	// whose program has no safe undo; the submit went on (the guarded key
	// still checks the focus), as taking the paste back was not possible.
	KeptOn bool
}

// step notes that the named GUI step has ended.
func (r *Report) step(name string) {
	r.Steps = append(r.Steps, name, time.Since(r.started).Round(100*time.Microsecond))
	if r.afterStep != nil {
		r.afterStep(name)
	}
}
