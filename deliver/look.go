// Looking into the agent's input (platform-neutral): the draft check, the
// look (select-all and copy), and taking a disturbed paste back out.

package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// draftCheck looks whether the agent's input holds a draft: the input must
// be empty (blank) before anything is pasted. An input that holds the
// message text itself and nothing else (an earlier attempt's paste of it,
// left there by a crash or an undo that took back something else) is no
// draft: left says so, and the caller submits it.
func (d *Deliverer) draftCheck(ctx context.Context, t Target, text, saved []byte, rep *Report) (left bool, err error) {
	// Quick only when a verifying look follows the paste: a draft the
	// quick look misses (its window lagged) is then seen merged with the
	// message and taken back (see verify), never submitted.
	draft, err := d.inputText(ctx, t, *t.Draft, saved, rep, t.Verify)
	if err != nil {
		return false, err
	}
	got := bytes.TrimSpace(draft)
	if len(got) == 0 {
		return false, nil
	}
	if holdsOnly(got, text) {
		return true, nil
	}
	return false, &draftError{chars: utf8.RuneCount(got)}
}

// holdsOnly reports whether in (what a look read from an input) is text and
// nothing else, blanks around it aside (Tk copies its final newline). An
// empty text is held by no input.
func holdsOnly(in, text []byte) bool {
	t := bytes.TrimSpace(text)
	return len(t) > 0 && bytes.Equal(bytes.TrimSpace(in), t)
}

// inputText reads what the agent's input holds: it offers a token on the
// CLIPBOARD, selects all and copies. A window that copies something takes
// the CLIPBOARD from the token; an empty input leaves it (nil). Only a copy
// by the agent's own client counts: another client's (a person copying
// meanwhile) makes the look inconclusive, and it looks again, up to three
// times. Then the caret goes back and, if the window copied, saved (the
// person's clipboard) is put back.
//
// quick: an empty input may be told sooner than by no copy within the
// copy deadline (250 ms at least): on X11 by its window not taking PRIMARY
// on the select-all within Timings.Prompt(StepSelect), on Windows by no
// copy within Prompt(StepCopy), once the window is known to behave (see
// quickEmpty). Only for the draft check: a look that decides a submit
// (verify, submittedAfterAll) waits the whole deadline.
func (d *Deliverer) inputText(ctx context.Context, t Target, keys DraftKeys, saved []byte, rep *Report, quick bool) ([]byte, error) {
	for try := 0; ; try++ {
		text, ours, err := d.lookOnce(ctx, t, keys, saved, rep, quick)
		if err != nil || ours {
			return text, err
		}
		if try == 2 {
			return nil, temporary("read the input", fmt.Errorf("another client kept taking the clipboard while the input was read (%w)", ErrClipboardTaken))
		}
	}
}

// quickEmpty is how long a look at t's input may wait, after its keys,
// before it takes the input for empty; ok is false while that says
// nothing yet (then the look waits its copy deadline, 250 ms at least).
//   - On a desktop that watches PRIMARY (X11), byPrimary: the wait is for
//     the select-all to show, Prompt(StepSelect) after it, and only for a
//     window seen to take PRIMARY in each of the last 8 looks that copied
//     text (Chromium's inputs do on every select-all of text; Tk's text
//     widget does not take it again while it owns it).
//   - Never for a window whose empty input copies something (Monaco, Tk):
//     its looks are quick anyway, and a quick verdict could come before
//     that copy, which would then take the clipboard from the paste.
//   - Where nothing shows a select-all (Windows has no PRIMARY), the wait
//     is for the copy itself, Prompt(StepCopy) after the keys, once the
//     window's last 8 looks that copied text all did so.
func (d *Deliverer) quickEmpty(t Target, watched bool) (wait time.Duration, byPrimary, ok bool) {
	if _, copiesEmpty := d.Timings.TypicalCount(EmptyCopyCount + t.Agent); d.slowLooks || copiesEmpty {
		return 0, false, false
	}
	if watched {
		if !d.Timings.Always(PrimaryCount+t.Agent, primarySeen, quickAfter) {
			return 0, false, false
		}
		wait, ok = d.Timings.Prompt(StepSelect)
		return wait, true, ok
	}
	if !d.Timings.Always(PrimaryCount+t.Agent, primaryUnwatched, quickAfter) {
		return 0, false, false
	}
	wait, ok = d.Timings.Prompt(StepCopy)
	return wait, false, ok
}

// EmptyCopyCount, with the agent's name after it, counts the looks that
// found the input empty and still saw the window copy (whitespace): such a
// window never has a quick look.
const EmptyCopyCount = "empty_copy:"

// quickAfter is how many looks in a row must have copied (and shown their
// select-all, where PRIMARY is watched) before a quick look is believed.
const quickAfter = 8

// The PrimaryCount of a look that copied text: the window took PRIMARY on
// its select-all, it did not, or the desktop cannot see PRIMARY.
const (
	primaryNotSeen   = 1
	primarySeen      = 2
	primaryUnwatched = 3
)

func (d *Deliverer) lookOnce(ctx context.Context, t Target, keys DraftKeys, saved []byte, rep *Report, quick bool) (text []byte, ours bool, err error) {
	var tok [8]byte
	rand.Read(tok[:])
	o, err := d.offer(ctx, []byte("agentspool-draft-check-"+hex.EncodeToString(tok[:])), nil, rep)
	if err != nil {
		return nil, false, err
	}
	defer o.Close()
	// The token took the person's clipboard: it goes back, unless another
	// client than the agent's window copied meanwhile (theirs to keep):
	// only while owner (the token, or the window's copy) still owns the
	// CLIPBOARD, checked and put back in one step (SetClipboardIf), so a
	// copy made in the very moment before is never overwritten, on every
	// path out. A person who had no clipboard gets none back: the window's
	// copy (the message, or a draft) must not stay on the CLIPBOARD for
	// anyone to paste, nor pass for the person's at the next delivery. (Our
	// own token needs nothing: closing its offer releases it.)
	agent := rep.AgentWindow.Client
	putBackTo := func(owner uint32) {
		if saved != nil {
			d.Desktop.SetClipboardIf(saved, owner)
			return
		}
		if owner == o.Owner() {
			return
		}
		if e, ok, err := d.Desktop.OfferIf([]byte{}, owner, 0); err == nil && ok {
			e.Close()
		}
	}
	// holder is the CLIPBOARD's owner now, and whether it is our token or
	// the agent window's copy (the owner asked first: a copy of someone
	// else's in between makes the client another's, one after it fails
	// SetClipboardIf).
	holder := func() (owner uint32, token, window bool) {
		owner, err := d.Desktop.ClipboardOwner()
		if err != nil || owner == 0 {
			return 0, false, false
		}
		if owner == o.Owner() {
			return owner, true, false
		}
		c, err := d.Desktop.ClipboardClient()
		return owner, false, err == nil && c == agent
	}
	putBack := func() {
		if owner, token, window := holder(); token || window {
			putBackTo(owner)
		}
	}
	primary0, _, watched := d.Desktop.PrimarySets(agent)
	var selected time.Time // when the select-all was tapped
	for _, k := range [][]string{keys.SelectAll, keys.Copy} {
		if err := d.guardedKey(ctx, t, k, rep); err != nil {
			putBack()
			return nil, false, err
		}
		if selected.IsZero() {
			selected = time.Now()
		}
	}
	// The agent's window took the CLIPBOARD from the token: it copied.
	// Watched by asking who owns it rather than by the token's loss, since
	// a person's copy meanwhile takes it too (and a look at an empty
	// input, which copies nothing, waits its whole deadline, unless quick
	// may take a select-all that did not show for an empty input).
	var quickBy time.Time
	start := time.Now()
	wait, byPrimary, ok := d.quickEmpty(t, watched)
	if quick && ok {
		if quickBy = start.Add(wait); byPrimary {
			quickBy = selected.Add(wait)
		}
	}
	empty := false
	copied, err := d.poll(ctx, d.Timings.Deadline(StepCopy), func() (bool, error) {
		if c, err := d.Desktop.ClipboardClient(); err == nil && c == agent {
			return true, nil
		}
		if !quickBy.IsZero() && time.Now().After(quickBy) {
			if !byPrimary {
				empty = true // no copy in the time copies take here
				return true, nil
			}
			if n, _, _ := d.Desktop.PrimarySets(agent); n == primary0 {
				empty = true
				return true, nil
			}
			quickBy = time.Time{} // it selected something: its copy will come
		}
		return false, nil
	})
	if err != nil {
		putBack()
		return nil, false, err
	}
	copied = copied && !empty
	text = nil
	if copied {
		d.Timings.Observe(StepCopy, time.Since(start))
		text, _ = d.Desktop.Clipboard()
		text = fromCESU8(text)
		if len(bytes.TrimSpace(text)) == 0 {
			// An empty input that copies something (Monaco copies its
			// empty line, Tk its final newline): a look there never
			// waits long, and a quick one could end before that copy,
			// which would then land on the paste.
			d.Timings.ObserveCount(EmptyCopyCount+t.Agent, 1)
		}
		// Learn whether (and how soon) this window shows a select-all of
		// text by taking PRIMARY.
		switch n, at, _ := d.Desktop.PrimarySets(agent); {
		case !watched:
			d.Timings.ObserveCount(PrimaryCount+t.Agent, primaryUnwatched)
		case n > primary0:
			d.Timings.ObserveCount(PrimaryCount+t.Agent, primarySeen)
			d.Timings.Observe(StepSelect, at.Sub(selected))
		default:
			d.Timings.ObserveCount(PrimaryCount+t.Agent, primaryNotSeen)
		}
	}
	if empty {
		rep.QuickLooks++
	}
	if err := d.guardedKey(ctx, t, keys.Caret, rep); err != nil {
		putBack()
		return nil, false, err
	}
	if copied {
		// Still the window's after the read: the text is its own.
		owner, _, window := holder()
		if !window {
			return nil, false, nil // a person copied meanwhile: theirs stays
		}
		putBackTo(owner)
		return text, true, nil
	}
	// Nothing copied: an empty input (or a person copied in the very
	// millisecond after the window did: taken for empty). A person's copy
	// meanwhile is theirs to keep; else the token goes.
	putBackTo(o.Owner())
	return nil, true, nil
}

// takeBack clears what a disturbed paste left in the input, and returns
// cause, or an error saying the input holds text it cannot clear. With
// t.Read it looks first, and undoes only what is there; when it cannot
// see, the agent's next delivery looks before it pastes. person is the
// person's clipboard, put back after each look (nil: they had none).
// msg is the message that was pasted.
func (d *Deliverer) takeBack(ctx context.Context, t Target, msg, person []byte, rep *Report, cause error) error {
	if t.Read == nil {
		return d.undo(t, rep, cause)
	}
	known, err := d.clearInput(ctx, t, msg, person, false, cause, rep)
	if err != nil {
		return err
	}
	if known {
		d.clearLeft(t.Agent)
	} else {
		d.mayHaveLeft(t.Agent, leftover{text: msg})
	}
	return cause
}

// leftover is what an earlier delivery may have left in an agent's input.
type leftover struct {
	text   []byte // the text it pasted (nil: not known)
	undone bool   // an undo was tapped for it since, with no look after
}

// mayHaveLeft notes that a delivery may have left lo in agent's input (a
// leftover without a text keeps the one noted before).
func (d *Deliverer) mayHaveLeft(agent string, lo leftover) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.left == nil {
		d.left = map[string]leftover{}
	}
	if lo.text == nil {
		lo = d.left[agent]
	}
	d.left[agent] = lo
}

// MayHaveLeft says that a delivery that did not end (the daemon died during
// it) may have left text pasted in agent's input: the agent's next delivery looks
// before anything else, instead of an undo tapped blindly. An undo in an
// input that holds nothing of ours takes back someone else's edit, and in
// Lexical it brings back the last message submitted there (seen in the
// proof: the crashed delivery had not pasted yet). The look submits the
// text if it is that delivery's message and nothing else, erases it if it
// is alone but another's, and leaves text without it as a draft.
func (d *Deliverer) MayHaveLeft(agent string, text []byte) {
	d.mayHaveLeft(agent, leftover{text: text})
}

// clearLeft notes that agent's input holds nothing of an earlier delivery's.
func (d *Deliverer) clearLeft(agent string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.left, agent)
}

// clearInput looks what the input holds, undoes it if it is not empty, and
// looks again. known is false when it could not see (another client kept
// copying); an error says the input holds text the undo did not clear.
// person (the person's clipboard, nil: none) is put back after each look.
// It is never read from the CLIPBOARD here: while a paste is taken back
// the message's offer may still hold it, and the message would be put
// back for anyone to paste, and the person's clipboard lost.
//
// msg is the message whose paste is taken back (nil: not known). Text left
// after an undo that does not hold it is not ours to clear: a draft (one a
// lagging window's draft check missed), reported as such, and the message
// waits until the input is clear. An input that still holds msg and
// nothing else after an undo (undone: one was tapped for it before, unseen)
// is ours: it is selected and deleted (once), not undone again. That undo
// missed, or was spent on something else (a person's key that reached the
// input after the paste), and a second undo can bring back what the first
// took (a Win32 EDIT's undo is a toggle; Lexical's merges recent edits).
func (d *Deliverer) clearInput(ctx context.Context, t Target, msg, person []byte, undone bool, cause error, rep *Report) (known bool, err error) {
	empties := 0
	for look := 0; ; {
		left, err := d.inputText(ctx, t, *t.Read, person, rep, false)
		if err != nil {
			d.Log.Warn("cannot see what the input holds", "agent", t.Agent, "err", err)
			return false, nil
		}
		if len(bytes.TrimSpace(left)) == 0 {
			// Empty is what a look sees when the window copied nothing,
			// and also when a person's copy came in the very moment after
			// the window's: believed when two looks in a row see it.
			if empties++; empties < 2 {
				continue
			}
			rep.Pasted = false
			return true, nil
		}
		empties = 0
		look++
		m := bytes.TrimSpace(msg)
		if !rep.Erased && (undone || look >= 2 || len(t.Undo) == 0) && holdsOnly(left, m) {
			if err := d.erase(ctx, t, rep); err != nil {
				return false, err
			}
			look = 1 // what the erase leaves is judged as an undo's is
			continue
		}
		if look >= 2 && len(m) > 0 && !bytes.Contains(left, m) {
			rep.Pasted = false
			return true, &draftError{chars: utf8.RuneCount(bytes.TrimSpace(left))}
		}
		if look >= 2 || len(t.Undo) == 0 {
			// Pasted and not undone: the caller parks the message for a
			// person to look at the input.
			rep.Pasted, rep.Undone = true, false
			return true, fmt.Errorf("deliver: the input holds %d characters after %v, and the undo key did not clear them", utf8.RuneCount(left), cause)
		}
		d.undo(t, rep, cause)
	}
}

// lookFirst: an earlier delivery to t's agent could not see what it left
// in the input. Look (and clear) before pasting anything. left: the input
// holds text, this message's, and nothing else; the caller submits it.
func (d *Deliverer) lookFirst(ctx context.Context, t Target, text []byte, rep *Report) (left bool, err error) {
	d.mu.Lock()
	lo, flagged := d.left[t.Agent]
	d.mu.Unlock()
	if !flagged || t.Read == nil {
		return false, nil
	}
	// Before any offer: the CLIPBOARD is the person's.
	person, err := d.Desktop.Clipboard()
	if err != nil {
		return false, saveErr(err)
	}
	in, err := d.inputText(ctx, t, *t.Read, person, rep, false)
	if err == nil {
		got, ours := bytes.TrimSpace(in), bytes.TrimSpace(lo.text)
		if holdsOnly(got, text) {
			return true, nil
		}
		if len(got) > 0 && len(ours) > 0 && !bytes.Contains(got, ours) {
			// Nothing of ours is there: a draft. No undo: it would take
			// back the person's last edit.
			d.clearLeft(t.Agent)
			return false, &draftError{chars: utf8.RuneCount(got)}
		}
	}
	known, err := d.clearInput(ctx, t, lo.text, person, lo.undone, errors.New("an earlier paste that was disturbed, undone unseen, or cut short by a crash"), rep)
	if err != nil {
		return false, err
	}
	if !known {
		return false, temporary("read the input", errors.New("what an earlier disturbed paste left cannot be seen yet"))
	}
	d.clearLeft(t.Agent)
	return false, nil
}

// erase selects all of t's input and deletes it: for an input that holds
// a paste of ours and nothing else.
func (d *Deliverer) erase(ctx context.Context, t Target, rep *Report) error {
	if err := d.selectAllDelete(ctx, t, rep); err != nil {
		return err
	}
	rep.Erased = true
	rep.Pasted = false
	d.Log.Warn("the input held an earlier paste of ours that an undo had not taken back; erased it", "agent", t.Agent)
	return nil
}

// stillThere: for a message submitted before without an ack (t.Resubmit),
// look whether the input holds exactly it still. Anything else in the
// input is looked at again, and cleared, by lookFirst; when it cannot be
// seen, the delivery goes on as usual (its verifying look sees a paste
// doubled).
func (d *Deliverer) stillThere(ctx context.Context, t Target, text []byte, rep *Report) (bool, error) {
	if !t.Resubmit || t.Read == nil {
		return false, nil
	}
	person, err := d.Desktop.Clipboard()
	if err != nil {
		return false, saveErr(err)
	}
	left, err := d.inputText(ctx, t, *t.Read, person, rep, false)
	if err != nil {
		return false, nil
	}
	if holdsOnly(left, text) {
		return true, nil
	}
	if len(bytes.TrimSpace(left)) > 0 {
		d.mayHaveLeft(t.Agent, leftover{}) // lookFirst clears it
	}
	return false, nil
}

// LookFirst makes the agent's next delivery look at its input before it
// pastes, and clear what is there: the daemon calls it when a submitted
// message's ack did not come (its window may have dropped the submit
// key, leaving the paste in the input for the next message to land on).
func (d *Deliverer) LookFirst(agent string) {
	d.mayHaveLeft(agent, leftover{})
}

// draftError: the agent's input held text, probably a person's draft, or
// (why, when set) what the input holds, or may soon hold, is known to be
// another's.
type draftError struct {
	chars int
	why   string
	// paste: what waits is a paste of agentspool's that had not shown
	// (deliver.Panes), not a person's draft (IsUnseenPaste).
	paste bool
}

func (e *draftError) Error() string {
	if e.why != "" {
		return "deliver: " + e.why + ": not pasting into it"
	}
	return fmt.Sprintf("deliver: input not empty (%d characters, a draft?): not pasting into it", e.chars)
}

// DraftError is the error a delivery returns when the agent's input held
// chars characters (a draft): for callers that decide what comes next.
func DraftError(chars int) error { return &draftError{chars: chars} }

// IsUnseenPaste reports whether err (a draft, IsDraft) is a paste into
// the agent's pane that had not shown when its attempt stopped waiting:
// the pane waits for it to show, and for its own message to submit it.
func IsUnseenPaste(err error) bool {
	var de *draftError
	return errors.As(err, &de) && de.paste
}

// IsDraft reports whether err says the agent's input held a draft.
func IsDraft(err error) bool {
	var de *draftError
	return errors.As(err, &de)
}

// fromCESU8 reads a window's copy that carries characters outside the
// Basic Multilingual Plane as UTF-16 surrogate pairs, each encoded on its
// own (CESU-8: Tk 8.6 copies 🕘 as ED A0 BD ED B5 98), as the characters
// they stand for. Surrogates are not valid UTF-8, so no valid text is
// changed; a lone surrogate is left as it is (and compares unequal).
func fromCESU8(b []byte) []byte {
	if !bytes.Contains(b, []byte{0xED}) {
		return b
	}
	surrogate := func(p []byte, lo, hi byte) (rune, bool) {
		if len(p) < 3 || p[0] != 0xED || p[1] < lo || p[1] > hi || p[2]&0xC0 != 0x80 {
			return 0, false
		}
		return rune(p[0]&0x0F)<<12 | rune(p[1]&0x3F)<<6 | rune(p[2]&0x3F), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if h, ok := surrogate(b[i:], 0xA0, 0xAF); ok {
			if l, ok := surrogate(b[i+3:], 0xB0, 0xBF); ok {
				out = utf8.AppendRune(out, utf16.DecodeRune(h, l))
				i += 6
				continue
			}
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// eraseBlank selects all of t's input and deletes it, for an input a look
// has just seen blank that may hold a window's own blank copy, pasted.
func (d *Deliverer) eraseBlank(ctx context.Context, t Target, rep *Report) {
	if t.Read == nil || d.selectAllDelete(ctx, t, rep) != nil {
		return
	}
	d.Log.Info("the window pasted its own blank copy (a look's copy that came late); the blank input was cleared", "agent", t.Agent)
}

// selectAllDelete selects all of t's input (t.Read's keys) and deletes it.
func (d *Deliverer) selectAllDelete(ctx context.Context, t Target, rep *Report) error {
	if err := d.guardedKey(ctx, t, t.Read.SelectAll, rep); err != nil {
		return err
	}
	return d.guardedKey(ctx, t, []string{"backspace"}, rep)
}
