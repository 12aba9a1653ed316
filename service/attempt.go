package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/internal/safeio"
	"github.com/agentspool/agentspool/spool"
)

// One attempt: the delivery through the desktop, the pasted text, and the
// wait for its ack.

// guiWorker runs deliveries one at a time; the desktop lock serialises
// them with other processes too.
func (d *Daemon) guiWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-d.jobs:
			d.deliverGuarded(e)
		}
	}
}

// deliverGuarded is deliverOne with a panic in it (a bug of ours) caught.
// Uncaught, it took the daemon down in the middle of a delivery, and the
// service manager's restart came back to the same message: a crash loop,
// every agent's messages stuck behind it, nothing said but a stack trace.
// The delivery's own defers have given back the desk (the lock, the grab,
// the focus, the clipboard) on the way out; the message, wherever it now
// is in cur/, is held with its agent, whose alert fires, and the reason
// says that the paste may or may not be in the input.
func (d *Daemon) deliverGuarded(e spool.Entry) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		d.log.Error("internal error while delivering: a bug, please report it with this log",
			"id", e.ID, "agent", e.Agent, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		now := e // its name may have changed since (the pasting mark)
		base, _ := spool.ParseName(e.Name)
		if es, err := d.sp.Scan(spool.StateCur, e.Agent); err == nil {
			for _, c := range es {
				if b, _ := spool.ParseName(c.Name); b == base {
					now = c
				}
			}
		}
		d.mu.Lock()
		a := d.agents[e.Agent].cfg
		d.mu.Unlock()
		d.apply(now, step{Kind: stepHold, HoldAgent: true, Reason: fmt.Sprintf(
			"agentspool hit an internal error delivering this message (a bug: please report it with the daemon's log): %v; "+
				"the message may or may not be in the agent's input: look there, then agentspool release %s", r, e.Agent)}, a)
	}()
	d.deliverOne(e)
}

// channel is the way into a's input: its tmux pane, or the desktop.
func (d *Daemon) channel(a *config.Agent) deliver.Channel {
	if a.Tmux != "" {
		return d.panes
	}
	return d.dl
}

// dispatch hands a claimed message to its channel: a pane's delivery runs
// on its own (panes share no clipboard and no focus: one lock each), the
// desktop's wait for the one GUI worker.
func (d *Daemon) dispatch(e spool.Entry) {
	d.mu.Lock()
	st := d.agents[e.Agent]
	pane := st != nil && st.cfg != nil && st.cfg.Tmux != ""
	d.mu.Unlock()
	if !pane {
		d.jobs <- e
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.deliverGuarded(e)
	}()
}

func (d *Daemon) deliverOne(e spool.Entry) {
	d.mu.Lock()
	st := d.agents[e.Agent]
	a := st.cfg
	needsUndo := st.needsUndo
	d.mu.Unlock()
	ch := d.channel(a)
	paneLeftover := false
	if a.Tmux != "" {
		// A pane is read before every paste: a leftover of a crashed
		// delivery is seen there (its own text, whole, is submitted;
		// anything else is a draft, waited for). Nothing blind to undo;
		// the channel waits for a paste still on its way to show.
		paneLeftover, needsUndo = needsUndo, false
	}

	if e.Submitted.IsZero() && !needsUndo {
		// Deliveries queue for the desktop: the agent may have turned busy
		// since the claim (a person's prompt). Back to new/, in its place.
		if ok, _, why := d.readyFor(st, e, d.now(), false); !ok && d.postpone(e, time.Time{}, errors.New("the agent turned busy before the paste: "+why)) {
			d.release(e.Agent)
			return
		}
	}
	msg, err := d.sp.Read(e)
	if err != nil {
		mc := d.countsOf(e)
		mc.ReadFails++
		d.setCounts(e, mc)
		s := readOutcome(err, mc.ReadFails)
		if s.Kind == stepFail {
			if e.OrigName != "" && !strings.Contains(s.Reason, e.OrigName) {
				s.Reason += " (original file name: " + e.OrigName + ")"
			}
		}
		d.apply(e, s, a)
		return
	}
	if mc := d.countsOf(e); mc.ReadFails > 0 {
		mc.ReadFails = 0
		d.setCounts(e, mc)
	}
	if _, submitted := e.AckSince(); submitted {
		// Submitted before (a retry, a release): its ack may have come
		// meanwhile. Never submitted: no ack can be about it.
		if d.acked(e, a, msg) {
			d.apply(e, step{Kind: stepDone, Reason: "acked before the retry"}, a)
			return
		}
	}
	text, err := d.render(e, msg, a)
	if err != nil {
		d.apply(e, step{Kind: stepFail, Reason: err.Error()}, a)
		return
	}
	t := d.target(a, msg.Priority == spool.PriorityUrgent)
	// A retry after no ack: the submit may have been dropped, the paste
	// still in the input; deliver looks before pasting again. So too for
	// a pane's message whose earlier paste may show yet (pastedBefore).
	t.Resubmit = e.Attempt > 0 || paneLeftover || a.Tmux != "" && pastedBefore(e)
	t.QuietWait = func() { d.setState(e.Agent, "waiting for a quiet desk", e.ID) }
	// The GUI sequence is never cut in the middle: a stop waits for it.
	gctx := context.WithoutCancel(d.ctx)
	if needsUndo {
		// A desktop agent's (a pane's leftover is paneLeftover, above):
		// the desktop channel alone taps again or undoes blind.
		prog := d.dl.ProgramOf(t)
		if prof, ok := prog.Profile(); ok && prof.EmptySubmitIgnored {
			// An agent CLI in a terminal: the crashed delivery's paste, if
			// it landed, waits whole in the input (a terminal pastes in one
			// piece). An Enter submits it, and the CLI's hook acks it; an
			// Enter into an empty input does nothing. No undo, no look:
			// neither is safe in a terminal.
			// Acks count from this submit: the crashed one never happened.
			tapped := d.now()
			if _, err := d.dl.SubmitAgain(gctx, t, false); err != nil {
				d.apply(e, step{Kind: stepHold, HoldAgent: true, Reason: "a paste may be left in the input of " + prog.String() + " after a crash, and its submit could not be tapped: " + err.Error()}, a)
				return
			}
			if ok, _ := d.waiter.Wait(d.ctx, confirm.Ack{Inbox: a.Inbox, ID: e.ID, Since: tapped, Pattern: a.AckPattern, Body: msg.Body}, SubmitAgainAfter); ok {
				d.mu.Lock()
				st.needsUndo = false
				d.mu.Unlock()
				d.journal.Event(e, "submit_again", "after a restart: the crashed delivery's paste was in the input")
				d.apply(e, step{Kind: stepDone, Reason: "acked: the crashed delivery's paste, submitted after the restart"}, a)
				return
			}
		} else if prog.IsTerminal() {
			if err := d.dl.Undo(gctx, t); err != nil {
				d.apply(e, step{Kind: stepHold, HoldAgent: true, Reason: "a paste may be left in the input after a crash and could not be taken back: " + err.Error()}, a)
				return
			}
		} else if t.Read != nil {
			// Look, do not undo: the crashed delivery may not have pasted
			// at all (a message is marked pasting before it waits for the
			// desk), and an undo in an input without our paste takes back
			// another edit; in Lexical it brought back the last message
			// submitted.
			d.dl.MayHaveLeft(a.Name, []byte(text))
		} else if err := d.dl.Undo(gctx, t); err != nil {
			d.apply(e, step{Kind: stepHold, HoldAgent: true, Reason: "a paste may be left in the input after a crash and could not be taken back: " + err.Error()}, a)
			return
		}
		d.mu.Lock()
		st.needsUndo = false
		d.mu.Unlock()
	}
	// No paste without its mark on disk (issue "Nothing silent, nothing
	// false" item 7): a crash after a paste the spool does not know of
	// would paste again without a look. The message waits, counted, and
	// the daemon shows itself degraded meanwhile.
	m, err := d.sp.Mark(e, true, time.Time{})
	if err != nil {
		d.degrade("pasting mark", fmt.Errorf("%s: %w", e.Name, err))
		mc := d.countsOf(e)
		mc.GUIFails++
		d.setCounts(e, mc)
		s := step{Kind: stepPostpone, Delay: time.Second, Cause: fmt.Errorf("the pasting mark could not be written, so nothing is pasted: %w", err)}
		if mc.GUIFails >= guiFailuresToFail {
			s = step{Kind: stepFail, Reason: fmt.Sprintf("the pasting mark could not be written %d times: %v", mc.GUIFails, err)}
		}
		d.log.Error("the pasting mark could not be written; not pasting", "id", e.ID, "agent", e.Agent, "err", err)
		d.apply(e, s, a)
		return
	}
	d.clearDegraded("pasting mark")
	e = m
	d.setState(e.Agent, "delivering", e.ID)
	// The submit's time is taken as the moment the delivery began: the
	// agent may write its ack the instant the submit key lands, before
	// this process runs again to note it, and an ack a hair older than
	// the noted time would be stale (the Windows proof under Wine saw a
	// message pasted twice so). Nothing of this message's can be acked
	// before its delivery began.
	began := d.now()
	t.Submitting = func() {
		// Recorded before the submit key (see Target.Submitting): a
		// crash from here on finds the message marked and waits for its
		// ack.
		at := began
		if m, err := d.sp.Mark(e, false, at); err == nil {
			e = m
		} else {
			// Its ack still counts from this submit (AckSince).
			d.log.Error("mark submitted", "id", e.ID, "err", err)
			e.Submitted = at
			if e.FirstSubmit.IsZero() {
				e.FirstSubmit = at
			}
		}
	}
	rep, err := ch.Deliver(gctx, t, text)
	d.journal.Attempt(e, rep, err)

	d.mu.Lock()
	st.again, st.terminal = nil, rep.Program.IsTerminal()
	if prof, ok := rep.Program.Profile(); ok && prof.EmptySubmitIgnored && err == nil && a.Tmux == "" {
		// (A pane's submit was seen to take, or tapped again there.)
		st.again = &t
	}
	mc := d.counts[msgKey(e)]
	c := counters{Fails: st.fails, GUIFails: mc.GUIFails, Drafts: mc.Drafts, AtWork: mc.AtWork, QuietNoted: mc.QuietNoted}
	d.mu.Unlock()
	if errors.Is(err, deliver.ErrPaneGone) {
		err = &absentError{err: err}
	} else if _, ok := deliver.IsFocusMismatch(err); ok {
		// Is the agent's window still where it was? A closed terminal is
		// "gone", not a coords.yaml to fix (asked after the delivery, as
		// resolve asks before it).
		if at, absent, aerr := ch.AgentAbsent(t); aerr == nil && absent {
			err = &absentError{at: at, err: err}
		}
	}
	s := outcome(err, rep, msg, e, a, c)
	d.mu.Lock()
	st.fails = s.Counters.Fails
	st.draftUntil, st.atWork, st.unseenPaste = time.Time{}, false, false
	if (deliver.IsDraft(err) || errors.Is(err, deliver.ErrAtWork)) && s.Kind == stepPostpone {
		st.draftUntil, st.atWork, st.unseenPaste = d.now().Add(s.Delay), errors.Is(err, deliver.ErrAtWork), deliver.IsUnseenPaste(err)
	}
	mc.GUIFails, mc.Drafts, mc.AtWork, mc.QuietNoted = s.Counters.GUIFails, s.Counters.Drafts, s.Counters.AtWork, s.Counters.QuietNoted
	d.mu.Unlock()
	d.setCounts(e, mc)
	switch {
	case s.Kind == stepAwaitAck:
		d.log.Info("submitted", "id", e.ID, "agent", e.Agent, "attempt", e.Attempt+1,
			"lock_wait", rep.LockWait, "gui", rep.GUI, "focus", rep.Focus, "fetch", rep.Fetch, "settle", rep.Settle)
	case s.LogQuiet:
		d.log.Info("a person is using the desktop; the message waits for a quiet desk", "id", e.ID, "agent", e.Agent, "waited", rep.QuietWait)
	case s.LogMismatchHold:
		w, _ := deliver.IsFocusMismatch(err)
		var ae *absentError
		gone := errors.As(err, &ae)
		d.log.Error("focus mismatch: parking the agent's queue", "agent", e.Agent, "id", e.ID,
			"mismatches", MismatchesToHold, "focused_title", w.Title, "focused_pid", w.PID, "want", a.Window, "window_gone", gone)
	case s.Kind == stepHold && s.HoldAgent:
		d.log.Error("parking the agent's queue", "agent", e.Agent, "id", e.ID, "reason", s.Reason)
	}
	if deliver.IsNotQuiet(err) {
		d.setState(e.Agent, "waiting for a quiet desk", e.ID)
	}
	if rep.MayShow && s.Kind == stepPostpone {
		// Its paste may show in the pane yet, and be submitted by anyone
		// (a person's Enter): its ack counts from the paste on, so that
		// the hook acks it (spool.Entry.PastedOnce) and the daemon finds
		// that ack before it pastes it again. Recorded as a submit at
		// the delivery's start, which the postpone keeps as the first.
		if m, err := d.sp.Mark(e, false, began); err == nil {
			e = m
		} else {
			d.log.Error("mark a paste that may show yet", "id", e.ID, "err", err)
		}
	}
	d.apply(e, s, a)
}

// acked reports whether e's ack is in a's inbox (ackOf). A message never
// submitted is never acked.
func (d *Daemon) acked(e spool.Entry, a *config.Agent, msg *spool.Message) bool {
	ack, ok := d.ackOf(e, a, msg)
	if !ok {
		return false
	}
	found, _ := confirm.Find(ack)
	return found
}

// ackOf is how e's ack is found: in a's inbox, written since e was first
// submitted (spool.Entry.AckSince: never from its entry, or the ack of an
// earlier message with the same id, written after this one entered, would
// count), and by a's ack pattern if it has one. ok is false for a message
// never submitted: no file makes it done. With a pattern, a file that
// holds the message's body is a copy of it, not its ack: the body is msg's,
// or read here (unreadable: only <id>.ack counts).
func (d *Daemon) ackOf(e spool.Entry, a *config.Agent, msg *spool.Message) (confirm.Ack, bool) {
	since, ok := e.AckSince()
	if !ok {
		return confirm.Ack{}, false
	}
	ack := confirm.Ack{Inbox: a.Inbox, ID: e.ID, Since: since, Pattern: a.AckPattern}
	if a.AckPattern == nil {
		return ack, true
	}
	if msg == nil {
		m, err := d.sp.Read(e)
		if err != nil {
			return ack, true
		}
		msg = m
	}
	ack.Body = msg.Body
	return ack, true
}

// awaitAck waits for e's ack outside the desktop lock, so other agents get
// their deliveries meanwhile.
func (d *Daemon) awaitAck(e spool.Entry, a *config.Agent, timeout time.Duration) {
	d.setState(e.Agent, "waiting for ack", e.ID)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ack, submitted := d.ackOf(e, a, nil)
		if !submitted {
			// Only a submitted message waits for its ack; nothing
			// submitted it, so none can come: count it as none.
			d.log.Error("waiting for the ack of a message never submitted", "id", e.ID, "agent", e.Agent)
			ack.Inbox, ack.ID, ack.Since = a.Inbox, e.ID, d.now()
		}
		d.mu.Lock()
		again := d.agent(e.Agent).again
		d.mu.Unlock()
		first := timeout
		if again != nil {
			first = min(timeout, SubmitAgainAfter)
		}
		ok, err := d.waiter.Wait(d.ctx, ack, first)
		if again != nil && !ok && err == nil && timeout > first {
			// No hook saw the submit: the CLI may have taken the Enter
			// for a newline, the message waiting in its input.
			_, serr := d.dl.SubmitAgain(d.ctx, *again, true)
			why := "no ack " + first.String() + " after the submit: tapped it again"
			if serr != nil {
				why = "no ack " + first.String() + " after the submit; tapping it again failed: " + serr.Error()
			}
			d.log.Warn("submit again", "id", e.ID, "agent", e.Agent, "why", why)
			d.journal.Event(e, "submit_again", why)
			ok, err = d.waiter.Wait(d.ctx, ack, timeout-first)
		}
		if err != nil && d.ctx.Err() != nil {
			return // stopping: it stays in cur/, marked submitted
		}
		if err != nil {
			d.log.Warn("ack wait failed; counting it as no ack", "id", e.ID, "agent", e.Agent, "inbox", a.Inbox, "err", err)
		}
		var s step
		attempt := e.Attempt + 1
		switch {
		case ok:
			s = step{Kind: stepDone, Reason: "acked"}
			d.noteSubmit(e, a)
		case attempt >= a.MaxAttempts:
			s = step{Kind: stepFail, Reason: fmt.Sprintf("no ack from %s within %v, after %d attempts", e.Agent, a.AckTimeout, attempt)}
		}
		if s.Kind != 0 {
			d.apply(e, s, a)
			return
		}
		// The submit may have been dropped with the paste left in the
		// input: whatever goes to this agent next looks first.
		d.dl.LookFirst(e.Agent)
		// A terminal's CLI gets more time between paste and submit.
		d.mu.Lock()
		terminal := d.agent(e.Agent).terminal
		d.mu.Unlock()
		if terminal {
			d.dl.NoAck(e.Agent)
		}
		backoff := doubled(a.Backoff, attempt, math.MaxInt64)
		at := d.now().Add(backoff)
		cause := fmt.Errorf("no ack within %v; retry in %v", timeout, backoff)
		if !d.retry(e, at, cause) {
			d.stuck(e, func() bool { return d.retry(e, at, cause) })
			return
		}
		d.release(e.Agent)
	}()
}

// SubmitAgainAfter is how long an agent CLI's hook has to see a submit
// before the submit key is tapped again (deliver.SubmitAgain). The hooks
// answer within a second on a loaded desk; the second tap into an input the
// first submit emptied does nothing.
const SubmitAgainAfter = 3 * time.Second

func (d *Daemon) target(a *config.Agent, urgent bool) deliver.Target {
	combo := func(s string) []string {
		keys, _ := config.ParseKeyCombo(s) // validated when the config loaded
		return keys
	}
	if a.Tmux != "" {
		return deliver.Target{Agent: a.Name, Urgent: urgent, Window: "tmux pane " + a.Tmux,
			Pane: &deliver.Pane{Target: a.Tmux, Socket: a.TmuxSocket}, PaneBracketed: a.TmuxBracketed,
			Submit: combo(a.SubmitFor(urgent)), Undo: combo(a.Undo)}
	}
	t := deliver.Target{
		Agent: a.Name, X: a.X, Y: a.Y, PID: a.PID, Class: a.Class, Urgent: urgent,
		Window: describeWindow(a),
		Submit: combo(a.SubmitFor(urgent)), Undo: combo(a.Undo),
		PasteSettle: a.PasteSettle, Verify: a.VerifyPaste,
		Kind: a.Kind, PasteKey: combo(a.PasteKey),
	}
	if a.Window != "" {
		// The focus check refuses a title that several agents' windows
		// match (issue 11 item 14): nothing is pasted.
		t.Match = d.cfg.Matcher(a, ambiguousOnce(d.log, a.Name))
	}
	keys := &deliver.DraftKeys{SelectAll: combo(a.SelectAll), Copy: combo(a.Copy), Caret: combo(a.Caret)}
	// A terminal is never looked into unless a look was written for it
	// (config then refuses ctrl+c as its copy key): its select-all and
	// copy keys mean line-start and interrupt. An agent of kind auto whose
	// window turns out to be a terminal loses its look in deliver.
	if a.Kind != config.KindTerminal || a.DraftCheck || a.VerifyPaste {
		t.Read = keys
	}
	t.LookInTerminal = a.Kind == config.KindTerminal && (a.DraftCheck || a.VerifyPaste)
	if a.DraftCheck {
		t.Draft = keys
	}
	return t
}

// describeWindow names the agent's window for messages: its title
// matcher, class and pid, as configured.
func describeWindow(a *config.Agent) string {
	var parts []string
	if a.Window != "" {
		parts = append(parts, fmt.Sprintf("%q", a.Window))
	}
	if a.Class != "" {
		parts = append(parts, "class "+a.Class)
	}
	if a.PID != 0 {
		parts = append(parts, fmt.Sprintf("pid %d", a.PID))
	}
	return strings.Join(parts, " ")
}

// render builds the pasted text: the envelope line, then the body, or in
// pointer mode (and for long messages) a line naming a copy of the message.
func (d *Daemon) render(e spool.Entry, m *spool.Message, a *config.Agent) (string, error) {
	from := m.From
	if from == "" {
		from = "-"
	}
	env, err := d.cfg.RenderEnvelope(config.EnvelopeFields{ID: e.ID, From: from, To: e.Agent, Priority: m.Priority.String(), Attempt: e.Attempt + 1})
	if err != nil {
		return "", err
	}
	body := strings.TrimRight(m.Body, "\r\n")
	if a.Paste != config.PastePointer && len(env)+1+len(body) <= MaxPasteBytes {
		return env + "\n" + body, nil
	}
	// The copy is not written into the inbox itself: a file there whose
	// name holds the id is an ack.
	// Private, as the inbox: another user who could write here could
	// swap the copy before the agent reads it.
	dir := filepath.Join(filepath.Dir(a.Inbox), "messages")
	if err := safeio.MkdirPrivate(dir); err != nil {
		return "", fmt.Errorf("pointer copy: %w", err)
	}
	path := filepath.Join(dir, e.ID+".md")
	if err := safeio.WriteFile(path, m.Raw, 0o600); safeio.IsSyncDirError(err) {
		d.syncedDir(dir, err)
	} else if err != nil {
		return "", fmt.Errorf("pointer copy: %w", err)
	}
	return env + "\n" + confirm.PointerLine(path, e.ID), nil
}
