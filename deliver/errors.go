package deliver

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// focusError: the window that had focus after the click (or just before the
// paste or the submit) was not the agent's. Nothing was pasted or submitted.
type focusError struct {
	step string
	want string
	got  Window
}

func (e *focusError) Error() string {
	return fmt.Sprintf("deliver: focus mismatch %s: want window %s, focused is %q (id 0x%x, pid %d)",
		e.step, e.want, e.got.Title, e.got.ID, e.got.PID)
}

// IsFocusMismatch reports whether err is a focus mismatch, and if so which
// window had the focus instead.
func IsFocusMismatch(err error) (Window, bool) {
	var fe *focusError
	if errors.As(err, &fe) {
		return fe.got, true
	}
	return Window{}, false
}

// tempError is a failure of one attempt that a later attempt may not meet:
// the clipboard was taken mid-paste, the window never fetched the paste, a
// wait ran out. The message was not submitted.
type tempError struct {
	msg    string
	err    error
	person bool // a person used the desktop: not the desktop's fault
}

func (e *tempError) Error() string {
	if e.err != nil {
		return "deliver: " + e.msg + ": " + e.err.Error()
	}
	return "deliver: " + e.msg
}

func (e *tempError) Unwrap() error { return e.err }

func temporary(msg string, err error) error { return &tempError{msg: msg, err: err} }

// IsTemporary reports whether a later attempt may succeed where this one
// failed. Focus mismatches are temporary too.
func IsTemporary(err error) bool {
	var te *tempError
	if errors.As(err, &te) {
		return true
	}
	_, ok := IsFocusMismatch(err)
	return ok
}

// IsPersonActive reports whether a delivery stopped because a person used
// the keyboard or mouse (or another client had the keyboard grabbed): it
// says nothing about the desktop's health, and the message should wait for
// a quiet desk.
func IsPersonActive(err error) bool {
	var te *tempError
	return errors.As(err, &te) && te.person
}

// displayError: there is no desktop to deliver to (DISPLAY unset, server
// unreachable, XTEST missing). Retrying in the same process will not help.
type displayError struct{ msg string }

func (e *displayError) Error() string { return "deliver: " + e.msg }

// IsNoDisplay reports whether err means the desktop cannot be reached at all.
func IsNoDisplay(err error) bool {
	var de *displayError
	return errors.As(err, &de)
}

// errModifierDown: a modifier someone else holds is down; a key tapped now
// would be another combination (Enter would be Shift+Enter).
var errModifierDown = errors.New("deliver: a modifier key is held down by someone else")

// errKeyUncertain: a guarded key was tapped, but the focus changed around
// it (a backend without a server grab: Windows), so which window got it is
// unknown. Never tapped again: the paste is looked for instead.
var errKeyUncertain = errors.New("deliver: the focus moved while the key was tapped; where it went is unknown")

// ErrClipboardTaken: another client took the CLIPBOARD from the message
// (a person's copy, a clipboard manager) before or while the window read
// it, so nothing was submitted. Test with errors.Is.
var ErrClipboardTaken = errors.New("the clipboard was taken")

// ErrNotLanded: the window did not read the paste in time, or its input did
// not hold the message afterwards (nothing was submitted). Test with
// errors.Is.
var ErrNotLanded = errors.New("the paste did not land")

// unsafeKeyError: a key that would interrupt, suspend or end the program
// in a terminal (see Harmful) was about to go to the agent's window, a
// terminal; it was not tapped. Retrying cannot mend it: the agent's
// config or its window is wrong for this.
type unsafeKeyError struct {
	combo []string
	win   Window
	why   string
}

func (e *unsafeKeyError) Error() string {
	return fmt.Sprintf("deliver: not tapping %s into %q (class %s): the window is a terminal, where it would interrupt, suspend or end the program; %s",
		strings.Join(e.combo, "+"), e.win.Title, e.win.Instance+"/"+e.win.Class, e.why)
}

// unsafeTextError: a message holding a control character (other than a
// tab or a line end) is not pasted into a terminal, where the character is
// a key: a 0x03 is ctrl+c (the terminal's line discipline interrupts the
// program in front), an ESC can end a bracketed paste early and have the
// rest typed as keys. It is the message's own: no attempt can mend it.
type unsafeTextError struct {
	at   int  // byte offset in the text pasted
	r    rune // the character
	into string
}

func (e *unsafeTextError) Error() string {
	return fmt.Sprintf("deliver: the message holds a control character (%U at byte %d of the text pasted), which %s would take as a key (ctrl+c interrupts its program; an ESC can end the paste and have the rest typed): not pasted; send it without control characters", e.r, e.at, e.into)
}

// IsUnsafeText reports whether err is a message refused for a terminal
// because of a control character in it.
func IsUnsafeText(err error) bool {
	var te *unsafeTextError
	return errors.As(err, &te)
}

// UnsafeText is the error for pasting text into a terminal (into: which
// one, as the error says it) when text holds a character the terminal
// takes as a key: a C0 or C1 control or DEL, other than a tab or a line
// end. nil when it holds none.
func UnsafeText(text, into string) error {
	if at, r, ok := KeyInText(text); ok {
		return &unsafeTextError{at: at, r: r, into: into}
	}
	return nil
}

// KeyInText finds the first character of text that a terminal takes as a
// key when it is pasted: a C0 or C1 control or DEL, other than a tab or a
// line end. at is its byte offset; ok is false when text holds none.
func KeyInText(text string) (at int, r rune, ok bool) {
	for i, r := range text {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return i, r, true
		}
	}
	return 0, 0, false
}

// forTerminal is text as it goes into a terminal (into: which one, as
// an error says it), a terminal window's or a tmux pane's: refused if it
// holds a character the terminal takes as a key (UnsafeText), and each
// CRLF made one line end, since a terminal pastes each LF as a CR (xterm,
// VTE, tmux alike) and a CRLF, a message written on Windows, would be two.
func forTerminal(text, into string) (string, error) {
	if err := UnsafeText(text, into); err != nil {
		return "", err
	}
	return strings.ReplaceAll(text, "\r\n", "\n"), nil
}

// unsafePaneError: a key or a paste that could harm the program in a
// tmux pane, or garble the message there, was not sent (a ctrl+c submit,
// a multi-line message for a program not known to take a bracketed
// paste). Retrying cannot mend it.
type unsafePaneError struct{ msg string }

func (e *unsafePaneError) Error() string { return "deliver: " + e.msg }

// IsUnsafeKey reports whether err is a key (or a pane's paste) refused
// because it could harm the program in a terminal or garble the message:
// a systematic failure, never retried unseen.
func IsUnsafeKey(err error) bool {
	var ue *unsafeKeyError
	var pe *unsafePaneError
	return errors.As(err, &ue) || errors.As(err, &pe)
}

// ErrSeenEmpty: the window read the whole paste, yet a look at its input
// (select-all, copy) saw it empty. Once, the window may have dropped the
// paste; every time, the look cannot work in that input (a Win32 EDIT
// control: ctrl+a is not a built-in there, and a copy of nothing copies
// nothing). It comes with ErrNotLanded. Test with errors.Is.
var ErrSeenEmpty = errors.New("a look saw the input empty")

// AgentAbsent tells, after a focus mismatch, whether the agent's window is
// missing from its point: the window under (t.X, t.Y) is none, or not the
// agent's (it closed, moved, or another window covers the point), rather
// than the focus taken by another window while the agent's is there. at
// is the window found at the point.
func (d *Deliverer) AgentAbsent(t Target) (at Window, absent bool, err error) {
	w, err := d.Desktop.WindowAt(t.X, t.Y)
	if err != nil {
		return Window{}, false, err
	}
	return w, w.ID == 0 || !t.matches(w), nil
}
