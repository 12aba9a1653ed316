package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

// DefaultSendWait is how long `send --wait` (no duration) follows its
// messages: long enough for the default three attempts with their ack
// timeouts and backoffs and a wait for a quiet desk, short enough that a
// script whose daemon is not running is not stuck for good.
const DefaultSendWait = 10 * time.Minute

// sendWaitPoll is how often --wait looks at the spool. The spool's
// directories are the truth (a rename is a state change); polling them
// needs no daemon cooperation and sees operator moves too.
const sendWaitPoll = 50 * time.Millisecond

// waitFlag is --wait[=DURATION]: off, on with the default, or a duration.
type waitFlag struct {
	on bool
	d  time.Duration
}

func (w *waitFlag) IsBoolFlag() bool { return true }
func (w *waitFlag) String() string {
	if w == nil || !w.on {
		return ""
	}
	return w.d.String()
}
func (w *waitFlag) Set(s string) error {
	switch s {
	case "true":
		w.on, w.d = true, DefaultSendWait
		return nil
	case "false":
		w.on = false
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a duration such as 30s or 5m (or no value: " + DefaultSendWait.String() + ")")
	}
	w.on, w.d = true, d
	return nil
}

// stage is where a followed message is. The final ones end the wait.
type stage struct {
	name   string // queued, delivering, submitted, acked, done, failed, held
	reason string // failed, held
}

func (s stage) final() bool {
	switch s.name {
	case "acked", "done", "failed", "held":
		return true
	}
	return false
}

func (s stage) ok() bool { return s.name == "acked" || s.name == "done" }

// stageOf reads id's place in the spool. ok is false when the message is
// in no directory at this instant (a scan racing a rename, or removed).
// An ack counts from the message's first submit, kept in its name (F);
// queued, when send queued it, only where the name has none (a message
// done with acks off).
func stageOf(sp *spool.Spool, a *config.Agent, id string, queued time.Time) (stage, bool) {
	es, err := sp.Find(id)
	if err != nil {
		return stage{}, false
	}
	for _, e := range es {
		if e.Agent != a.Name {
			continue
		}
		switch e.State {
		case spool.StateNew:
			if reason, held := sp.AgentHeld(a.Name); held {
				return stage{name: "held", reason: "the agent's queue is held: " + oneLine(reason)}, true
			}
			return stage{name: "queued"}, true
		case spool.StateCur:
			if !e.Submitted.IsZero() {
				return stage{name: "submitted"}, true
			}
			return stage{name: "delivering"}, true
		case spool.StateDone:
			// Submitted with ack off, or acked: the ack file tells.
			since := queued
			if first, ok := e.AckSince(); ok {
				since = first
			}
			ack := confirm.Ack{Inbox: a.Inbox, ID: id, Since: since, Pattern: a.AckPattern}
			if m, err := sp.Read(e); err == nil && a.AckPattern != nil {
				ack.Body = m.Body
			}
			if acked, _ := confirm.Find(ack); acked {
				return stage{name: "acked"}, true
			}
			return stage{name: "done"}, true
		case spool.StateFailed, spool.StateHold:
			r, _ := sp.Reason(e)
			return stage{name: map[spool.State]string{spool.StateFailed: "failed", spool.StateHold: "held"}[e.State], reason: reasonLine(r)}, true
		}
	}
	return stage{}, false
}

// reasonLine is the reason: line of a .reason sidecar.
func reasonLine(sidecar string) string {
	for _, l := range strings.Split(sidecar, "\n") {
		if r, ok := strings.CutPrefix(l, "reason: "); ok {
			return r
		}
	}
	if s := strings.TrimSpace(sidecar); s != "" {
		return oneLine(s)
	}
	return "(no reason recorded)"
}

// followSent follows the queued messages until each is final or the wait
// ends. Every stage change is a line on progress (a terminal; nil
// otherwise); at the end one line per message goes to out: id, agent and
// stage. The error names every message that is not done.
// queued is when they were queued.
func followSent(sp *spool.Spool, cfg *config.Config, agents, ids []string, queued time.Time, wait time.Duration, now func() time.Time, out, progress io.Writer) error {
	last := make([]stage, len(ids))
	for i := range last {
		last[i] = stage{name: "queued"}
	}
	if progress != nil {
		for i, id := range ids {
			fmt.Fprintf(progress, "%s\t%s\tqueued\n", id, agents[i])
		}
	}
	deadline := now().Add(wait)
	for {
		pending := 0
		for i, id := range ids {
			if last[i].final() {
				continue
			}
			a, _ := cfg.Agent(agents[i])
			st, ok := stageOf(sp, a, id, queued)
			if !ok {
				pending++
				continue
			}
			if st != last[i] && progress != nil {
				fmt.Fprintf(progress, "%s\t%s\t%s\n", id, agents[i], st.name)
			}
			last[i] = st
			if !st.final() {
				pending++
			}
		}
		if pending == 0 || !now().Before(deadline) {
			break
		}
		time.Sleep(sendWaitPoll)
	}
	var problems []string
	for i, id := range ids {
		st := last[i]
		word := st.name
		switch {
		case st.ok():
			word = "done"
		case st.final():
			problems = append(problems, fmt.Sprintf("%s to %s %s: %s", id, agents[i], st.name, st.reason))
		default:
			word = "waiting"
			what := "still queued"
			switch st.name {
			case "delivering":
				what = "still being delivered"
			case "submitted":
				what = "still awaiting ack"
			}
			problems = append(problems, fmt.Sprintf("%s to %s %s after %v", id, agents[i], what, wait))
		}
		fmt.Fprintf(out, "%s\t%s\t%s\n", id, agents[i], word)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
