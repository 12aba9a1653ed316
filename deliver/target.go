// What one delivery is for (platform-neutral): Target, the agent's input
// and how its window is known, fitted to the program found behind it.

package deliver

import (
	"strings"
	"time"
)

// Target is where one message goes: the agent's input box and how to
// recognise its window.
type Target struct {
	Agent string
	// Pane, when set, is the agent's tmux pane: delivered through the
	// tmux channel (Panes), not the desktop. X, Y, Match, Window, PID and
	// Class, and the look keys, are then not used.
	Pane *Pane
	// PaneBracketed: the pane's program, though no agent CLI agentspool
	// knows, asks for bracketed paste (bash, zsh), so a multi-line message
	// may go into it (config: tmux_bracketed).
	PaneBracketed bool
	X, Y          int
	// Match reports whether a window title is the agent's.
	Match func(title string) bool
	// Window describes the matcher for messages, e.g. `"Agent-1"`.
	Window string
	// PID, when not 0, must equal the focused window's _NET_WM_PID.
	PID int
	// Class, when set, must equal the window's WM_CLASS instance or class
	// (on Windows: its executable or window class), case aside: what a
	// terminal is started with (xterm -name, --class) and an agent CLI,
	// which rewrites its title, cannot change. With Class or PID set, a
	// nil Match takes any title.
	Class string
	// Kind is the agent's configured kind: "" (as its window is found: a
	// terminal is known by its class, see Inspect), KindChat or
	// KindTerminal (a terminal even if its class is not a known one).
	Kind string
	// LookInTerminal: the config wrote a look (draft check, verifying
	// look) with a terminal's own keys for this agent; otherwise a
	// terminal's input is never looked into (its select-all and copy
	// keys mean line-start and interrupt).
	LookInTerminal bool
	// PasteKey, when set, is the key that pastes (else ctrl+v, or the
	// terminal's own: see Program.PasteKey).
	PasteKey []string
	// Submit is the key combination that sends the input (e.g. enter).
	Submit []string
	// Undo takes a paste back out of the input (e.g. ctrl+z); empty means
	// the app has none, and a paste that went wrong is left for a person.
	Undo []string
	// Submitting, when set, is called just before the submit key goes to
	// the window, under the lock: the caller records the submit first. A
	// crash right after the key then awaits the message's ack and never
	// pastes it again (recorded after the key, a crash in between pasted
	// it twice: the proof's kill after the submit key); a crash between
	// the record and the key leaves the paste in the input, where the
	// retry after no ack looks for it (Resubmit). A key that is then
	// refused leaves the record: its ack cannot come, and the message is
	// retried as any failed attempt is.
	Submitting func()
	// Urgent messages go after QuietMaxWait even if the desk is not quiet.
	Urgent bool
	// QuietWait, when set, is called once when the delivery starts waiting
	// for a person to stop typing.
	QuietWait func()
	// Draft, when set, is checked before pasting: the input must be empty.
	Draft *DraftKeys
	// Read, when set, is how to read what the input holds (select all,
	// copy, caret back). After a paste that another client's copy
	// disturbed, it shows what the paste left: an undo only if something
	// is there. (An undo when the paste inserted nothing takes back the
	// edit before it: Lexical's clearing of the last message, which then
	// comes back.) nil: undo without looking.
	Read *DraftKeys
	// Resubmit: an earlier attempt submitted this message and no ack came
	// (or, into a tmux pane, a daemon killed mid-delivery had pasted it:
	// the channel then gives a paste still on its way the time to show
	// before it takes the input for empty).
	// If the input still holds exactly the message (the window dropped the
	// submit key), it is submitted as it is, not pasted again (with Read;
	// a paste on top would make the input hold it twice).
	Resubmit bool
	// Verify: after every paste, read the input (with Read) and submit only
	// if it holds the message. Without it, only a burst shorter than the
	// agent's usual is checked so.
	Verify bool
	// PasteSettle is waited after a paste has landed as far as the desktop
	// can see (the window's last read of the clipboard), before the
	// submit: for editors that insert a paste later, from their own event
	// loop (Monaco, VS Code's chat input: 8–27 ms after the paste event),
	// and cancel the insert if a key comes first. Nothing on the desktop
	// marks when their text is in; 0: none.
	PasteSettle time.Duration

	// program is what was found behind the agent's window (fitTo).
	program Program
}

// DraftKeys read what an input holds: select all, copy, then put the caret
// back (which also drops the selection).
type DraftKeys struct {
	SelectAll, Copy, Caret []string
}

// The kinds of agent input (Target.Kind).
const (
	KindChat     = "chat"
	KindTerminal = "terminal"
)

func (t Target) matches(w Window) bool {
	if t.PID != 0 && w.PID != t.PID {
		return false
	}
	if t.Class != "" && !strings.EqualFold(w.Instance, t.Class) && !strings.EqualFold(w.Class, t.Class) {
		return false
	}
	if t.Match == nil {
		return t.Class != "" || t.PID != 0
	}
	return t.Match(w.Title)
}

// terminal reports whether t goes into a terminal: as configured, or as
// its window was found.
func (t Target) terminal() bool { return t.Kind == KindTerminal || t.program.IsTerminal() }

// pasteKey is the key that pastes into t's window.
func (t Target) pasteKey() []string {
	if len(t.PasteKey) > 0 {
		return t.PasteKey
	}
	if t.terminal() {
		p := t.program
		if !p.IsTerminal() {
			p.Terminal = "terminal" // configured, not recognised: the common key
		}
		return p.PasteKey()
	}
	return pasteKey
}

// fitTo fits the delivery to what runs behind the agent's window: in a
// terminal, no look unless one was written for it, the CLI's own undo in
// place of one that would harm it, and the gap the CLI wants between the
// paste and the submit.
func (t Target) fitTo(p Program) Target {
	t.program = p
	if !t.terminal() {
		return t
	}
	if !t.LookInTerminal {
		t.Read, t.Draft, t.Verify = nil, nil, false
	}
	if !p.IsTerminal() {
		p.Terminal = "terminal"
	}
	prof, _ := p.Profile()
	if len(t.Undo) == 0 || Harmful(t.Undo) {
		t.Undo = prof.Undo
	}
	t.PasteSettle = max(t.PasteSettle, prof.SubmitGap)
	return t
}

// submitting records the submit about to go (see Submitting).
func (t Target) submitting() {
	if t.Submitting != nil {
		t.Submitting()
	}
}
