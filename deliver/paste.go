// The paste (platform-neutral): ctrl+v under a clipboard check, the
// window's burst of reads followed to its end, and the verifying look.

package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

var pasteKey = []string{"ctrl", "v"}

// paste taps ctrl+v into the agent's window and waits until that window —
// the agent's X client, no other reader — has read our text and then
// asked nothing more for the learned quiet (Timings.Quiet): a paste is a
// burst of requests (Chromium: TARGETS again and again, the text 2–3
// times, the insert at the end), and it has landed only when the burst is
// over. It returns the offer that is on the CLIPBOARD now.
//
// If another client takes the CLIPBOARD after the ctrl+v (a person
// copies), the window may have read their text, or part of a burst from
// each: their copy is kept (given back at the end), and the paste is taken
// back with the undo key and tried again. If the window does not read at
// all, it pasted nothing or another client's text; once it has had the
// time it usually needs, the undo key takes that back.
func (d *Deliverer) paste(ctx context.Context, t Target, o Offer, text []byte, saved *[]byte, rep *Report) (Offer, error) {
	drain(o.Fetched()) // read-backs and anything else before the ctrl+v
	start := time.Now()
	// The ctrl+v goes only while the message owns the CLIPBOARD (checked
	// under the key's server grab): a copy before it costs a new offer,
	// not a paste to take back.
	if err := d.guardedKeyIf(ctx, t, t.pasteKey(), d.owns(o), rep); err != nil {
		if errors.Is(err, errKeyUncertain) {
			// The ctrl+v may have reached the agent's window: look.
			return o, d.takeBack(ctx, t, text, *saved, rep, err)
		}
		return o, err
	}
	want := rep.AgentWindow.Client
	deadline := d.Timings.Deadline(StepFetch)
	quiet := d.Timings.Quiet()
	// Until the burst has as many requests as this agent's pastes
	// usually make, a quiet gap is not its end: wait on, up to the
	// deadline. Before any paste was counted, wait three quiets.
	typical, known := d.Timings.TypicalCount(PasteCount + t.Agent)
	quietFor := func() time.Duration {
		switch {
		case !known:
			return 3 * quiet
		case rep.PasteRequests < typical:
			return max(time.Until(start.Add(deadline)), quiet)
		}
		return quiet
	}
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	graced, failed, why, lost := false, false, "", o.Lost()
	// foreign: in a terminal, the CLIPBOARD when our offer was lost before
	// the terminal's read (what it pasted instead).
	var foreign []byte
	var foreignErr error
	// took counts one request the window made of our offer.
	took := func(f Fetch) {
		if f.Client != want || failed {
			return // our own read-back, late; or too late to count
		}
		if rep.PasteRequests > 0 {
			d.Timings.Observe(StepReadGap, f.At.Sub(rep.lastRequest))
		}
		rep.PasteRequests++
		rep.lastRequest = f.At
		if f.Data {
			rep.PasteReads++
		}
		if rep.PasteReads > 0 {
			resetTimer(timer, quietFor()-time.Since(f.At))
		}
	}
	for {
		select {
		case f := <-o.Fetched():
			took(f)
		case <-timer.C:
			if failed {
				cause := temporary("paste", fmt.Errorf("%s (%w)", why, ErrClipboardTaken))
				if t.Read == nil {
					err := d.undo(t, rep, cause)
					if t.terminal() && !rep.Undone && !d.eraseForeign(ctx, t, foreign, foreignErr, rep) {
						// Before its read: the terminal may have pasted
						// the person's copy, its program has no safe
						// undo, and what it pasted cannot be counted out.
						// Say so (the agent is held), rather than paste
						// the next message after it.
						rep.Pasted = true
					}
					return o, err
				}
				// The window may have read all of it before the copy:
				// look, and submit what is there if it is the message
				// (an undo is the riskier cure: Lexical's merges edits of
				// the last 300 ms and can bring the last message back).
				// The person's copy is what they get back, unless it was the
				// window itself: a look's copy that came after the look
				// gave up on it (a lagging window), which the look's
				// deadline learns from, or the next look's copy would
				// disturb the next paste in turn.
				ownCopy := false // the window pasted its own blank copy
				if c, err := d.Desktop.ClipboardClient(); err == nil && c == want {
					if late, err := d.Desktop.Clipboard(); err == nil && len(late) > 0 && len(bytes.TrimSpace(late)) == 0 {
						ownCopy = true
					}
					d.Timings.Observe(StepCopy, 2*d.Timings.Deadline(StepCopy))
					if rep.QuickLooks > 0 {
						// The draft check took its input for empty too
						// soon: no quick looks for a while, and a longer
						// wait for a select-all to show.
						wait, _ := d.Timings.Prompt(StepSelect)
						d.Timings.Observe(StepSelect, 2*wait)
						d.Timings.ObserveCount(PrimaryCount+t.Agent, primaryNotSeen)
					}
					d.Log.Warn("the agent's window copied late, during the next paste: its input reads are waited for longer", "agent", t.Agent)
				} else if c, err := d.Desktop.Clipboard(); err == nil {
					*saved = c
				}
				err := d.verify(ctx, t, text, *saved, rep, cause)
				if ownCopy && err != nil && !rep.Pasted && !IsDraft(err) {
					// The look after it saw the input blank: what the
					// paste put there is the window's blank copy (Monaco's
					// empty line), which no look can tell from an empty
					// input, and the next paste would land after it. It
					// goes: select all, delete (a blank input holds nothing
					// of anyone's).
					d.eraseBlank(ctx, t, rep)
				}
				return o, err
			}
			if rep.PasteReads > 0 {
				// The burst is over: every read so far was ours (the
				// offer was not lost), and the window asked nothing more.
				rep.Fetch = rep.lastRequest.Sub(start)
				d.Timings.Observe(StepFetch, rep.Fetch)
				d.Timings.ObserveCount(PasteCount+t.Agent, rep.PasteRequests)
				short := known && rep.PasteRequests < typical
				if t.Read == nil || (!t.Verify && !short) {
					rep.Pasted, rep.Landing = true, "read"
					return o, nil
				}
				// Verify, or a burst shorter than this agent's pastes
				// usually are (the window may have cut its reads short:
				// Chromium gives up on a read after a timeout, on a loaded
				// desktop, and pastes nothing): look at the input. Even a
				// whole burst does not show that the text is in: Chromium
				// may insert tens of ms after its last read on a loaded
				// desktop, and Monaco and Lexical insert from their own
				// event loop; a key that comes first can cancel it. The
				// look's keys queue behind the insert. (Without Verify,
				// not on an agent's first paste, before its bursts are
				// known: a select-all key that does not select all would
				// make a look see an empty input.)
				return o, d.verify(ctx, t, text, *saved, rep, nil)
			}
			if !graced {
				// Slow, not necessarily lost: wait as long again, and
				// learn from it.
				graced = true
				d.Timings.Observe(StepFetch, deadline)
				timer.Reset(deadline)
				continue
			}
			return o, d.takeBack(ctx, t, text, *saved, rep, temporary("paste", fmt.Errorf("the window did not read the clipboard within %v (%w)", 2*deadline, ErrNotLanded)))
		case <-lost:
			// The requests served before the loss count first (a select
			// picks among ready cases at random).
			for more := true; more; {
				select {
				case f := <-o.Fetched():
					took(f)
				default:
					more = false
				}
			}
			if terminalHasIt(t, rep) {
				// Taken for a failure, the paste stayed in Codex CLI's
				// input with no undo, and the next message was pasted
				// after it: two messages in one prompt.
				lost = nil
				continue
			}
			// The person's copy is theirs to keep: restore sees the loss
			// and leaves it. The window may be reading from them now:
			// give it the time a paste usually takes to end before the
			// undo, or the undo could come before that paste's insert
			// (plain Tk takes keys while it waits for the owner) and
			// leave their text in the input.
			lost, failed = nil, true
			if t.terminal() && !terminalHasIt(t, rep) {
				// What the terminal pastes now is the new owner's: read
				// it at once, before another copy can change it.
				foreign, foreignErr = d.Desktop.Clipboard()
			}
			why = "another client took the clipboard before the window read the message"
			if rep.PasteRequests > 0 {
				why = "another client took the clipboard while the window was reading the paste"
			}
			resetTimer(timer, max(time.Until(start.Add(d.Timings.PasteEnd())), 2*quiet))
		case <-ctx.Done():
			return o, ctx.Err()
		}
	}
}

// PasteCount, with the agent's name after it, is the Timings count of the
// requests one paste into that agent's window makes (Chromium: 14 in a
// textarea, 27 in a contenteditable, one in Tk).
const PasteCount = "paste_requests:"

// verify reads the input after a paste the desktop cannot vouch for: the
// paste has landed if the input holds the message (and nothing else);
// else what is there is taken back and the attempt fails (with cause, if
// one is given).
func (d *Deliverer) verify(ctx context.Context, t Target, text, saved []byte, rep *Report, cause error) error {
	got, err := d.inputText(ctx, t, *t.Read, saved, rep, false)
	msg := strings.TrimSpace(string(text))
	if err == nil && holdsOnly(got, text) {
		// The look took the clipboard from the message: the submit's
		// clipboard check has nothing to check; the input is known.
		rep.Pasted, rep.Landing, rep.verified = true, "seen", true
		return nil
	}
	if err == nil && cause == nil && strings.TrimSpace(string(got)) != "" && !strings.Contains(string(got), msg) {
		// Text without the message in it, after reads of our text alone:
		// the paste inserted nothing (yet), and what the input holds is
		// not ours (a draft the draft check did not see, or no draft
		// check). No undo: it would take back the person's last edit.
		// Looked at again once a paste has had the time to end (an insert
		// can come late on a loaded desktop): still the same, it is a
		// draft, left as it is, and the message waits.
		if err := sleep(ctx, d.Timings.PasteEnd()); err == nil {
			again, err := d.inputText(ctx, t, *t.Read, saved, rep, false)
			if err == nil && strings.TrimSpace(string(again)) == strings.TrimSpace(string(got)) {
				rep.Pasted = false
				return &draftError{chars: utf8.RuneCountInString(strings.TrimSpace(string(got)))}
			}
			got = again
		}
	}
	if err == nil && cause == nil {
		if before, after, ok := strings.Cut(string(got), msg); ok && strings.TrimSpace(before+after) != "" {
			// The whole message, next to text that was in the input
			// before it: a draft (without a draft check, or one the
			// draft check took for an empty input). The undo
			// takes the paste back; what is left must be the draft,
			// untouched, and the message waits until the input is clear.
			d.undo(t, rep, nil)
			left, err := d.inputText(ctx, t, *t.Read, saved, rep, false)
			if err == nil && strings.TrimSpace(string(left)) == strings.TrimSpace(before+after) {
				rep.Pasted, rep.Merged = false, true
				return &draftError{chars: utf8.RuneCountInString(strings.TrimSpace(before + after))}
			}
		}
	}
	if cause == nil {
		cause = temporary("paste", fmt.Errorf("the window's paste is not in the input as sent (its reads ended after %d requests; %w)", rep.PasteRequests, ErrNotLanded))
		if err == nil && rep.PasteReads > 0 && strings.TrimSpace(string(got)) == "" {
			// Read whole, and seen nowhere: a dropped paste, or a look
			// that cannot work in this input (the caller tells them apart
			// by how often it happens).
			cause = temporary("paste", fmt.Errorf("the window read the paste (%d requests), yet a look saw its input empty (%w; %w)", rep.PasteRequests, ErrSeenEmpty, ErrNotLanded))
		}
		if err != nil {
			cause = temporary("paste", fmt.Errorf("the window's paste could not be seen in the input (%w): %w", ErrNotLanded, err))
		}
	}
	return d.takeBack(ctx, t, text, saved, rep, cause)
}

// resetTimer makes t fire after d (at once if d <= 0), whether or not it
// fired already.
func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(max(d, 0))
}

// lateRequest reports a request of client's that came after last (the
// burst's end), and how long after it.
func lateRequest(o Offer, client uint32, last time.Time) (time.Duration, bool) {
	for {
		select {
		case f := <-o.Fetched():
			if f.Client == client && f.At.After(last) {
				return f.At.Sub(last), true
			}
		default:
			return 0, false
		}
	}
}

// terminalHasIt reports whether t's window is a terminal that has read our
// text: a terminal converts a paste once and inserts that, so a copy
// after its read changes nothing in its input.
func terminalHasIt(t Target, rep *Report) bool { return t.terminal() && rep.PasteReads > 0 }

// maxErase: the longest foreign paste eraseForeign takes out of a terminal
// by backspaces, in characters; CLIs show longer pastes as a placeholder
// (Qwen Code and Gemini CLI), which a backspace takes out whole.
const maxErase = 200

// eraseForeign takes out of a terminal's input what it pasted when our
// offer was lost before its read: the new owner's text, read the moment
// the loss came. One backspace per character takes it back, which no
// terminal program takes for anything else. Only a short single line of
// printable characters is counted so; anything else (or a text that
// could not be read) is not, and eraseForeign says false.
func (d *Deliverer) eraseForeign(ctx context.Context, t Target, text []byte, readErr error, rep *Report) bool {
	if readErr != nil || !utf8.Valid(text) {
		return false
	}
	n := 0
	for _, r := range string(text) {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
		n++
	}
	if n > maxErase {
		return false
	}
	for range n {
		if err := d.guardedKey(ctx, t, []string{"backspace"}, rep); err != nil {
			d.Log.Error("a foreign paste could not be erased from the terminal", "agent", t.Agent, "err", err)
			return false
		}
	}
	rep.Undone, rep.Pasted = true, false
	d.Log.Warn("a copy came between the paste key and the terminal's read: what it pasted instead was erased", "agent", t.Agent, "chars", n)
	return true
}
