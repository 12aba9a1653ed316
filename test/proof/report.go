// Package proof holds the 1000-message proof of agentspool under chaos
// (proof_test.go, run by `make test`) and the report it writes: what every
// agent window received, checked against what was sent, with the daemon's
// own journal for latencies, retries, focus mismatches and holds.
package proof

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Report is the JSON the proof writes (AGENTSPOOL_PROOF_REPORT).
type Report struct {
	Pass     bool     `json:"pass"`
	Problems []string `json:"problems,omitempty"`
	Started  string   `json:"started"`
	Seconds  float64  `json:"seconds"`

	Agents   int `json:"agents"`
	Messages int `json:"messages"` // daemon messages meant to arrive
	SentBy   struct {
		Send int `json:"agentspool_send"`
		Mv   int `json:"shell_mv"`
	} `json:"sent_by"`

	Delivered  int `json:"delivered_exactly_once"`
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Misrouted  int `json:"misrouted"`
	Garbled    int `json:"garbled"`
	// RetriedAsExpected: messages submitted again because the agent did
	// not ack an earlier submit (the never-ack-first agent's first one).
	RetriedAsExpected int `json:"resubmitted_after_no_ack"`
	DoneAndAcked      int `json:"done_and_acked"`

	Second struct {
		Sent       int `json:"sent"`
		Delivered  int `json:"delivered_exactly_once"`
		Lost       int `json:"lost"`
		Duplicated int `json:"duplicated"`
		Misrouted  int `json:"misrouted"`
		Errors     int `json:"attempt_errors"`
	} `json:"second_deliverer"`

	ForeignSubmits int      `json:"submits_into_non_agent_window"`
	BuiltToFail    []Failed `json:"built_to_fail"`
	// Hostile: where each hostile spool entry ended (issue 11).
	Hostile []string `json:"hostile_entries"`

	Chaos struct {
		FocusSteals int `json:"focus_steals"`
		Clobbers    int `json:"clipboard_clobbers"`
		CPUBurners  int `json:"cpu_burners"`
		DaemonKills int `json:"daemon_sigkills"`
		// GUIKills: the GUI steps after which the daemon was killed
		// inside its GUI phase, in order.
		GUIKills      []string `json:"daemon_killed_in_gui_after"`
		ClipboardKept bool     `json:"clipboard_restored_at_end"`
		SlowAckAgent  string   `json:"slow_ack_agent"`
		NeverAckFirst string   `json:"never_ack_first_agent"`
	} `json:"chaos"`

	Journal  JournalStats `json:"journal"`
	EndToEnd Quantiles    `json:"send_to_done_ms"`

	// CLIs: what each agent CLI's model received (issue 18), by agent.
	CLIs map[string]*CLIStats `json:"agent_clis,omitempty"`

	// Kinds: what the windows themselves saw, by kind of input (tk,
	// textarea, contenteditable, monaco, lexical).
	Kinds map[string]*KindStats `json:"window_kinds"`
}

// KindStats is what the windows of one kind recorded. Pastes that inserted
// nothing are pastes a clobber disturbed (the delivery saw it, looked,
// and tried again); empty submits and multi-clicks must be 0.
type KindStats struct {
	Windows               int `json:"windows"`
	Submits               int `json:"submits"`
	EmptySubmits          int `json:"empty_submits"`
	Pastes                int `json:"pastes"`
	PastesInsertedNothing int `json:"pastes_inserted_nothing"`
	MultiClicks           int `json:"multi_clicks"`
}

// CLIStats is what one agent CLI's model received in the proof.
type CLIStats struct {
	Program  string `json:"program"`
	Terminal string `json:"terminal"`
	Sent     int    `json:"messages_sent"`
	// Prompts: main-turn prompts the model received.
	Prompts     int  `json:"prompts_received"`
	ExactlyOnce int  `json:"received_exactly_once_alone"`
	Merged      int  `json:"prompts_merged"`
	Empty       int  `json:"prompts_empty"`
	Garbled     int  `json:"prompts_garbled_or_foreign"`
	Misrouted   int  `json:"prompts_misrouted"`
	Duplicated  int  `json:"messages_duplicated"`
	Missing     int  `json:"messages_missing"`
	AckedByHook int  `json:"acked_by_its_hook"`
	Died        bool `json:"died"`
	Suspended   bool `json:"suspended"`
}

// Failed is one message built to fail and where it ended.
type Failed struct {
	What   string `json:"what"`
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// Quantiles summarises a set of durations in milliseconds.
type Quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// QuantilesOf returns the p50, p95 and max of ms.
func QuantilesOf(ms []float64) Quantiles {
	if len(ms) == 0 {
		return Quantiles{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	at := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Quantiles{N: len(s), P50: at(0.50), P95: at(0.95), Max: s[len(s)-1]}
}

// JournalLine is one line of the daemon's <spool>/journal.jsonl.
type JournalLine struct {
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	ID       string    `json:"id"`
	Agent    string    `json:"agent"`
	Attempt  int       `json:"attempt"`
	Name     string    `json:"name"`
	OK       bool      `json:"ok"`
	Err      string    `json:"err"`
	Why      string    `json:"why"`
	LockWait float64   `json:"lock_wait_ms"`
	GUI      float64   `json:"gui_ms"`
	Refocus  int       `json:"refocus"`
	Focused  string    `json:"focused_title"`
	LateRead bool      `json:"late_read"`
	Landing  string    `json:"landing"`
	Erased   bool      `json:"erased"`
}

// ReadJournal reads a journal.jsonl.
func ReadJournal(path string) ([]JournalLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []JournalLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l JournalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			// A SIGKILL can cut the last line short; say where.
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// JournalStats is what the journal says about the run.
type JournalStats struct {
	Attempts        int `json:"attempts"`
	FailedAttempts  int `json:"failed_attempts"`
	FocusMismatches int `json:"focus_mismatches"`
	Refocus         int `json:"refocus_clicks"`
	Retries         int `json:"retries_after_no_ack"`
	Done            int `json:"done"`
	Failed          int `json:"failed"`
	Holds           int `json:"holds"`
	LateReads       int `json:"late_reads"` // a window read again after its paste was taken for landed
	// Erased: attempts that found an earlier paste of ours that an undo
	// had left, and deleted it; LeftSubmitted: attempts that found their
	// own message left whole in the input, and submitted it.
	Erased        int       `json:"erased"`
	LeftSubmitted int       `json:"left_submitted"`
	GUI           Quantiles `json:"gui_ms"`
	LockWait      Quantiles `json:"lock_wait_ms"`
	Errors        []string  `json:"attempt_errors_sample,omitempty"`
}

// Stats summarises journal lines.
func Stats(lines []JournalLine) JournalStats {
	var s JournalStats
	var gui, lock []float64
	errs := map[string]int{}
	for _, l := range lines {
		switch l.Event {
		case "attempt":
			s.Attempts++
			s.Refocus += l.Refocus
			if l.LateRead {
				s.LateReads++
			}
			if l.Erased {
				s.Erased++
			}
			if l.OK && l.Landing == "left" {
				s.LeftSubmitted++
			}
			if l.Attempt > 1 && l.OK {
				s.Retries++
			}
			if !l.OK {
				s.FailedAttempts++
				if l.Focused != "" || strings.Contains(l.Err, "focus mismatch") {
					s.FocusMismatches++
				}
				errs[shortErr(l.Err)]++
				continue
			}
			gui = append(gui, l.GUI)
			lock = append(lock, l.LockWait)
		case "done":
			s.Done++
		case "failed":
			s.Failed++
		case "held":
			s.Holds++
		}
	}
	s.GUI, s.LockWait = QuantilesOf(gui), QuantilesOf(lock)
	for e, n := range errs {
		s.Errors = append(s.Errors, fmt.Sprintf("%dx %s", n, e))
	}
	slices.Sort(s.Errors)
	return s
}

// shortErr drops the variable tail (window ids, durations) of an error so
// that like errors count together.
func shortErr(e string) string {
	if i := strings.Index(e, ", focused is"); i > 0 {
		e = e[:i]
	}
	if i := strings.Index(e, " within "); i > 0 {
		e = e[:i]
	}
	return e
}

// Summary is the report in a few lines, for the test log and the console.
func (r *Report) Summary() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "proof %s: %d messages to %d agents in %.1fs (%d by agentspool send, %d by shell mv)\n",
		verdict, r.Messages, r.Agents, r.Seconds, r.SentBy.Send, r.SentBy.Mv)
	fmt.Fprintf(&b, "  exactly once %d, lost %d, duplicated %d, misrouted %d, garbled %d; resubmitted after no ack %d; done+acked %d\n",
		r.Delivered, r.Lost, r.Duplicated, r.Misrouted, r.Garbled, r.RetriedAsExpected, r.DoneAndAcked)
	fmt.Fprintf(&b, "  second deliverer (shared lock): %d sent, exactly once %d, lost %d, duplicated %d, misrouted %d, attempt errors %d\n",
		r.Second.Sent, r.Second.Delivered, r.Second.Lost, r.Second.Duplicated, r.Second.Misrouted, r.Second.Errors)
	fmt.Fprintf(&b, "  submits into the non-agent window: %d; built to fail: %d (", r.ForeignSubmits, len(r.BuiltToFail))
	for i, f := range r.BuiltToFail {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s → %s", f.What, f.State)
	}
	b.WriteString(")\n")
	for _, h := range r.Hostile {
		fmt.Fprintf(&b, "  hostile: %s\n", h)
	}
	c := r.Chaos
	fmt.Fprintf(&b, "  chaos: %d focus steals, %d clipboard clobbers (restored at end: %v), %d CPU burners, %d daemon SIGKILL outside the GUI phase, %d inside it (after %s)\n",
		c.FocusSteals, c.Clobbers, c.ClipboardKept, c.CPUBurners, c.DaemonKills, len(c.GUIKills), strings.Join(c.GUIKills, ", "))
	j := r.Journal
	fmt.Fprintf(&b, "  journal: %d attempts (%d failed, %d focus mismatches, %d refocus clicks), %d retries after no ack, %d holds, %d late reads, %d earlier pastes erased, %d left pastes submitted\n",
		j.Attempts, j.FailedAttempts, j.FocusMismatches, j.Refocus, j.Retries, j.Holds, j.LateReads, j.Erased, j.LeftSubmitted)
	fmt.Fprintf(&b, "  gui ms p50 %.0f p95 %.0f max %.0f; lock wait ms p50 %.0f p95 %.0f max %.0f; send→done ms p50 %.0f p95 %.0f max %.0f\n",
		j.GUI.P50, j.GUI.P95, j.GUI.Max, j.LockWait.P50, j.LockWait.P95, j.LockWait.Max, r.EndToEnd.P50, r.EndToEnd.P95, r.EndToEnd.Max)
	for _, k := range slices.Sorted(maps.Keys(r.Kinds)) {
		ks := r.Kinds[k]
		fmt.Fprintf(&b, "  %s windows (%d): submits %d, empty submits %d, pastes %d, pastes that inserted nothing %d, multi-clicks %d\n",
			k, ks.Windows, ks.Submits, ks.EmptySubmits, ks.Pastes, ks.PastesInsertedNothing, ks.MultiClicks)
	}
	for _, n := range slices.Sorted(maps.Keys(r.CLIs)) {
		c := r.CLIs[n]
		fmt.Fprintf(&b, "  %s (%s in %s): %d sent, model received %d prompts: exactly once alone %d, merged %d, empty %d, garbled %d, misrouted %d; duplicated %d, missing %d; acked by its hook %d; died %v, suspended %v\n",
			n, c.Program, c.Terminal, c.Sent, c.Prompts, c.ExactlyOnce, c.Merged, c.Empty, c.Garbled, c.Misrouted, c.Duplicated, c.Missing, c.AckedByHook, c.Died, c.Suspended)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  PROBLEM: %s\n", p)
	}
	return b.String()
}
