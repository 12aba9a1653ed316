// The tmux channel's delivery (platform-neutral): wait for a quiet pane,
// read its input (a draft is never pasted into, nor a CLI at work on a
// turn), paste through a buffer of our own, see the message whole in the
// input, submit after the gap the CLI needs (the CLI seen idle), and see
// the input cleared.

package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// firstShowWait is how long a paste is waited for to show at all in the
// input.
const firstShowWait = 5 * time.Second

// maxPaneErase is the most characters a paste that did not land whole is
// erased by (one backspace each); more is held for a person.
const maxPaneErase = 4000

// Deliver puts text into t's pane (t.Pane) and submits it.
func (ps *Panes) Deliver(ctx context.Context, t Target, text string) (rep Report, err error) {
	ps.ready()
	if t.Pane == nil {
		return rep, errors.New("deliver: not a pane agent")
	}
	if text, err = forTerminal(text, t.Pane.String()); err != nil {
		return rep, err
	}
	st, err := ps.state(ctx, *t.Pane)
	if err != nil {
		return rep, err
	}
	unlock, waited, err := ps.lock(ctx, *t.Pane, st.id)
	if err != nil {
		return rep, err
	}
	defer unlock()
	rep.LockWait = waited
	rep.started, rep.afterStep = time.Now(), ps.AfterStep
	defer func() { rep.GUI = time.Since(rep.started) }()
	rep.Program = ps.program(st.pid)
	back := historyFor(text, st.width)
	prof, _ := rep.Program.Profile()
	if strings.ContainsAny(text, "\r\n") && rep.Program.CLI == "" && !t.PaneBracketed {
		return rep, &unsafePaneError{fmt.Sprintf("%s runs no agent CLI agentspool knows, so it may not take a bracketed paste: a message (its envelope line and its body) would be submitted line by line; set `tmux_bracketed: true` for this agent if its program asks for bracketed paste (bash and zsh do)", t.Pane)}
	}
	name, loaded, pasted := bufferName(), false, false
	defer func() {
		if loaded && !pasted {
			ps.tmux(context.WithoutCancel(ctx), *t.Pane, nil, "delete-buffer", "-b", name)
		}
	}()
	var before paneInput
	// An earlier paste of this message may be in the input, or on its way
	// there: after a crash or a retry (Resubmit), or one that had not shown
	// when its attempt stopped waiting (unseenPaste). Only then is a CLI's
	// placeholder taken for it.
	unseen, hasUnseen := ps.unseenOf(*t.Pane, st.id)
	mine := hasUnseen && unseen.sum == textSum(text)
	maybeLeft := t.Resubmit || mine
	leftover, refused := maybeLeft, 0
	for {
		if st, err = ps.waitQuiet(ctx, t, &rep); err != nil {
			return rep, err
		}
		rep.step("quiet")
		before, err = ps.capture(ctx, *t.Pane, st.id, back)
		if err != nil {
			return rep, err
		}
		if hasUnseen && !mine {
			// Another message's paste went in and had not shown: what the
			// input holds is that one's, and an empty input may get it yet.
			// Its own next attempt finds it; this one waits, as for a draft.
			ago := time.Since(unseen.at).Round(time.Second)
			if n := utf8.RuneCountInString(before.Text); n > 0 {
				return rep, &draftError{paste: true, chars: n, why: fmt.Sprintf("%s: the input holds what is most likely another message's paste (%d characters), which had not shown when its attempt stopped waiting %v ago; that message's next attempt submits it", t.Pane, n, ago)}
			}
			if ago < unseenExpiry {
				return rep, &draftError{paste: true, why: fmt.Sprintf("%s: another message's paste went into this pane %v ago and has not shown in its input yet; it may still", t.Pane, ago)}
			}
			// Never showed: lost (a program that dropped it).
			ps.Log.Warn("a paste that never showed in the pane's input is taken for lost", "agent", t.Agent, "pane", t.Pane.String(), "pasted", ago)
			ps.clearUnseen(*t.Pane, st.id)
			hasUnseen = false
		}
		if leftover && before.Found && before.Text == "" {
			// An earlier attempt's paste (a daemon killed between the
			// paste and its showing) may still be on its way into the
			// input: it is given the time a paste has to show, or it would
			// be pasted again beside itself. Once; and if nothing showed,
			// the pane is waited for and looked at afresh (the person may
			// have typed meanwhile, and what the paste is checked against
			// is what tmux said before the look).
			leftover = false
			pollUntil(ctx, firstShowWait, func() (bool, error) {
				before, err = ps.capture(ctx, *t.Pane, st.id, back)
				return err != nil || before.Text != "", nil
			})
			if err != nil {
				return rep, err
			}
			rep.step("leftover_waited")
			if before.Found && before.Text == "" {
				if ago := time.Since(unseen.at); mine && ago < unseenExpiry {
					// Pasted afresh, it would show twice if the first
					// one showed after all: waited for a while yet.
					return rep, &draftError{paste: true, why: fmt.Sprintf("%s: this message's paste went into the pane %v ago and has not shown in its input yet; it may still", t.Pane, ago.Round(time.Second))}
				}
				continue
			}
		}
		if !before.Found {
			return rep, temporary(t.Pane.String(), ErrNoPrompt)
		}
		if before.AtWork {
			// Its submit would be no prompt of its own (ErrAtWork):
			// nothing is pasted until the turn is done.
			return rep, temporary(t.Pane.String()+": not pasting", ErrAtWork)
		}
		if before.Text != "" {
			if landedAs(before, text, maybeLeft) {
				// An earlier attempt's paste, whole in the input (its
				// envelope names this message; a placeholder only where
				// one is known to be on its way): its submit was not
				// taken. Submitted as it is, not pasted on top.
				rep.Landing = "seen"
				if mine {
					ps.clearUnseen(*t.Pane, st.id)
				}
				return rep, ps.submit(ctx, t, st.id, back, text, prof, before, &rep)
			}
			return rep, DraftError(utf8.RuneCountInString(before.Text))
		}
		rep.step("looked")
		if !loaded {
			if _, err := ps.tmux(ctx, *t.Pane, []byte(text), "load-buffer", "-b", name, "-"); err != nil {
				return rep, err
			}
			loaded = true
		}
		// -p: bracketed, if the program asked for bracketed paste; -d: the
		// buffer goes with the paste. Not into a pane a mode took since the
		// look, nor after a person's key in an attached client since the
		// quiet check (the paste would land after it, and erasing the
		// paste would take the key too): quiet again, looked at again,
		// and pasted then.
		pasted, err = ps.typeIn(ctx, *t.Pane, st.id, "#{!=:#{session_activity},"+st.activity+"}", "paste-buffer -p -d -b "+name+" -t "+st.id)
		if err != nil {
			return rep, err
		}
		if pasted {
			break
		}
		rep.step("mode_waited")
		if refused++; refused == 3 {
			return rep, temporary(t.Pane.String(), errors.New("the pane went into a mode (copy mode?), or a person typed, at each paste; not pasted"))
		}
	}
	start := time.Now()
	rep.step("pasted")
	rep.Pasted = true
	// Waited for while the input keeps changing (a long paste streams
	// in): the learned deadline counts from the last change seen, up to
	// a minute in all.
	var in paneInput
	prev, changed, limit := "", time.Now(), ps.Timings.Deadline(StepPaneLanded)
	ok, err := pollUntil(ctx, time.Minute, func() (bool, error) {
		var err error
		in, err = ps.capture(ctx, *t.Pane, st.id, back)
		if err != nil {
			return false, err
		}
		// An input too long to show is taken as landed once its end
		// stays the same for two looks.
		cut := strings.HasPrefix(in.Text, "…")
		ok := landed(in, text) && (!cut || in.Text == prev)
		quiet := limit
		if in.Text == "" {
			// Nothing shows yet: a CLI busy rendering may take its
			// time, and a paste given up on too soon lands later, in
			// the next message's way.
			quiet = max(limit, firstShowWait)
		}
		if in.Text != prev {
			prev, changed = in.Text, time.Now()
		} else if !ok && time.Since(changed) > quiet {
			return false, errNoProgress
		}
		return ok, nil
	})
	if errors.Is(err, errNoProgress) {
		ok, err = false, nil
	}
	if err != nil && !errors.Is(err, ErrPaneGone) {
		err = temporary("read the pane after the paste", err)
	}
	if err != nil {
		return rep, err
	}
	if !ok {
		return rep, ps.notLanded(ctx, t, st.id, back, text, in, &rep)
	}
	if mine {
		// This message's earlier paste never showed; this one did.
		ps.clearUnseen(*t.Pane, st.id)
	}
	rep.Fetch = time.Since(start)
	ps.Timings.Observe(StepPaneLanded, rep.Fetch)
	rep.Landing = "seen"
	gap := prof.SubmitGap
	if longPaste([]byte(text)) {
		gap = max(gap, prof.LongPasteGap)
	}
	rep.Settle = gap
	if err := sleep(ctx, gap); err != nil {
		return rep, err
	}
	// A person may have typed meanwhile: the input must still hold the
	// message alone, or nothing is submitted (what is there is theirs to
	// see; the next attempt finds it a draft and waits).
	if in, err = ps.capture(ctx, *t.Pane, st.id, back); err != nil {
		return rep, err
	}
	if !landed(in, text) {
		// Left for the person to see (the next attempt finds a draft,
		// and waits): Pasted && !Submitted holds the agent, said.
		return rep, fmt.Errorf("deliver: %s: the input changed after the paste (a person typed into it?); not submitted: %w", t.Pane, ErrNotLanded)
	}
	return rep, ps.submit(ctx, t, st.id, back, text, prof, in, &rep)
}

// notLanded handles a paste that did not show whole in the input: nothing
// there (a later attempt may land), or a part of it, which is erased (one
// backspace per character: safe in any program's input, and what is there
// was empty before the paste) and seen gone, else the agent is held.
func (ps *Panes) notLanded(ctx context.Context, t Target, id string, back int, text string, in paneInput, rep *Report) error {
	if !in.Found || in.Text == "" {
		// It may show yet: recorded, so that this message's next attempt
		// looks for it first, and no other is pasted beside it.
		ps.noteUnseen(*t.Pane, id, text)
		rep.Pasted, rep.MayShow = false, true
		return temporary(t.Pane.String()+": nothing of the paste showed in the input (it may yet: this message's next attempt looks for it first)", ErrNotLanded)
	}
	n, err := ps.erase(ctx, t, id, back, text, in, "a paste that did not land whole", rep)
	if err != nil {
		return err
	}
	return temporary(fmt.Sprintf("%s: the paste did not land whole (%d characters showed); erased", t.Pane, n), ErrNotLanded)
}

// erase takes our paste (what, as an error names it) back out of the
// input in shows, as many backspaces as was pasted (what shows may be cut
// by the screen; a CLI's placeholder goes with one backspace, and a
// backspace into an empty input does nothing), and sees the input empty;
// n is how many. An error (ErrNotLanded) leaves it for a person: the
// input was empty before the paste, so what is there is ours.
func (ps *Panes) erase(ctx context.Context, t Target, id string, back int, text string, in paneInput, what string, rep *Report) (n int, err error) {
	n = max(utf8.RuneCountInString(in.Text), utf8.RuneCountInString(text))
	if strings.HasPrefix(in.Text, "…") || n > maxPaneErase {
		return n, fmt.Errorf("deliver: %s: %s is in the input and too long to erase: check the agent's input: %w", t.Pane, what, ErrNotLanded)
	}
	if err := ps.keys(ctx, t, id, "-N "+fmt.Sprint(n)+" BSpace"); err != nil {
		return n, err
	}
	ok, err := pollUntil(ctx, ps.Timings.Deadline(StepPaneLanded), func() (bool, error) {
		in, err := ps.capture(ctx, *t.Pane, id, back)
		return in.Found && in.Text == "", err
	})
	if err != nil || !ok {
		return n, fmt.Errorf("deliver: %s: %s (%d characters) could not be erased from the input: check it: %w", t.Pane, what, n, ErrNotLanded)
	}
	rep.Pasted, rep.Undone = false, true
	return n, nil
}

// atWorkWait is how long a submit waits for a CLI that began a turn
// between the look and the submit key (a person's prompt from another
// client, a message of its own queue) to be done; then the paste is
// erased and the message waits (ErrAtWork).
const atWorkWait = 10 * time.Second

// waitNotAtWork waits, before the submit key, until the pane's screen no
// longer shows its CLI at work (ErrAtWork), up to atWorkWait; then it
// erases the paste (in the input whole: it was seen so) and says why. in
// is the look just taken (nothing is waited for after it): only one that
// saw the CLI at work is looked at again.
func (ps *Panes) waitNotAtWork(ctx context.Context, t Target, id string, back int, text string, in paneInput, rep *Report) error {
	if !in.AtWork {
		return nil
	}
	idle, err := pollEvery(ctx, 100*time.Millisecond, atWorkWait, func() (bool, error) {
		var err error
		in, err = ps.capture(ctx, *t.Pane, id, back)
		return !in.AtWork, err
	})
	if err != nil || idle {
		return err
	}
	if _, err := ps.erase(ctx, t, id, back, text, in, "a paste into a CLI that began a turn before its submit", rep); err != nil {
		return err
	}
	return temporary(fmt.Sprintf("%s: the CLI began a turn after the paste, and was at work for %v; the paste erased, not submitted", t.Pane, atWorkWait), ErrAtWork)
}

// submit taps the submit key and sees the message leave the input. If it
// stays, the key is tapped once more (after taking out the newline a CLI
// made of it, see CLIProfile.NewlineAfterPaste), only while the input is
// seen to hold the message, and only into a program whose Enter into an
// empty input does nothing (should the first one be taken in the very
// moment between the look and the second): Claude Code's and Qwen Code's
// submit a suggestion there. Otherwise the message stays in the input for
// the next attempt, which finds it whole and submits it. seen is the look
// that saw the message whole, just before.
func (ps *Panes) submit(ctx context.Context, t Target, id string, back int, text string, prof CLIProfile, seen paneInput, rep *Report) error {
	key, ok := paneKey(t.Submit)
	if !ok {
		return &unsafePaneError{fmt.Sprintf("the submit key %s cannot go into a terminal pane: it would interrupt, suspend or end the program, or tmux has no name for it; set this agent's submit to one its program takes safely (enter)", strings.Join(t.Submit, "+"))}
	}
	if err := ps.waitNotAtWork(ctx, t, id, back, text, seen, rep); err != nil {
		return err
	}
	t.submitting()
	rep.Submitted = true
	start := time.Now()
	gone := func() (bool, error) {
		in, err := ps.capture(ctx, *t.Pane, id, back)
		return !in.Found || !strings.Contains(foldSpace(in.Text), foldSpace(text)) && !landed(in, text), err
	}
	tries := 1
	if prof.EmptySubmitIgnored || rep.Program.CLI == "" {
		tries = 2
	}
	for try := 0; try < tries; try++ {
		if try == 1 {
			// Still in the input: once more, as it is seen there; not
			// into a CLI at work, which took the first (a second tap
			// would be a prompt of its own, or steer one).
			in, err := ps.capture(ctx, *t.Pane, id, back)
			if err != nil {
				return err
			}
			if in.AtWork {
				break
			}
			if prof.NewlineAfterPaste {
				if err := ps.keys(ctx, t, id, "BSpace"); err != nil {
					return err
				}
			}
		}
		if err := ps.keys(ctx, t, id, key); err != nil {
			return err
		}
		ok, err := pollUntil(ctx, ps.Timings.Deadline(StepPaneSubmitted), gone)
		if err != nil {
			return err
		}
		if ok {
			ps.Timings.Observe(StepPaneSubmitted, time.Since(start))
			rep.step("submitted")
			return nil
		}
	}
	// Taken for submitted, as the GUI's uncertain submit is: the hook's
	// ack says. A CLI slower than the wait submits it meanwhile; one that
	// dropped the key leaves it in the input, where the attempt after the
	// ack timeout finds it whole and submits it (never pasted on top).
	rep.SubmitUncertain = true
	ps.Log.Warn("the input still holds the message after the submit key; waiting for its ack", "agent", t.Agent, "pane", t.Pane.String(), "taps", tries)
	return nil
}

// typeIn runs command (a paste-buffer or send-keys of ours) only if the
// pane is in no mode at that moment and the tmux format stop (if any) is
// false, and says whether it ran. tmux checks and runs the command in one
// step of its queue, so a copy mode begun between our look and our keys
// cannot take them: a pane in a mode gives keys to the mode (Enter there
// copies and leaves it) and a paste, unbracketed, to the program behind
// it (the mode's screen has no bracketed-paste flag), which takes each
// line of a message for a submit. command is tmux's own syntax: its words
// (key names, a buffer name of ours, a pane id) need no quoting.
func (ps *Panes) typeIn(ctx context.Context, p Pane, id, stop, command string) (bool, error) {
	cond := "#{pane_in_mode}"
	if stop != "" {
		cond = "#{||:" + cond + "," + stop + "}"
	}
	out, err := ps.tmux(ctx, p, nil, "if-shell", "-F", "-t", id, cond, "display-message -p no", command+" ; display-message -p typed")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) == "typed", nil
}

// keys sends keys (send-keys' arguments) into the pane once it is in no
// mode, waiting out a mode up to QuietMaxWait.
func (ps *Panes) keys(ctx context.Context, t Target, id, keys string) error {
	start := time.Now()
	for {
		typed, err := ps.typeIn(ctx, *t.Pane, id, "", "send-keys -t "+id+" "+keys)
		if err != nil || typed {
			return err
		}
		if waited := time.Since(start); waited >= ps.QuietMaxWait {
			return fmt.Errorf("deliver: %s: the pane stayed in a mode (copy mode?) for %v; keys not sent: %w", t.Pane, waited.Round(time.Second), &quietError{waited: waited})
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// errNoProgress ends a wait that saw no change for its deadline.
var errNoProgress = errors.New("no progress")

// pollUntil polls cond every 10 ms until it holds, fails, or limit has
// passed (then ok is false and err nil).
func pollUntil(ctx context.Context, limit time.Duration, cond func() (bool, error)) (bool, error) {
	return pollEvery(ctx, 10*time.Millisecond, limit, cond)
}
