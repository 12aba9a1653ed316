package service

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

// journal is the append-only JSON-lines record of every attempt and outcome
// in <spool>/journal.jsonl: the audit trail beside the directories, with the
// step timings the logs also carry.
type journal struct {
	mu sync.Mutex
	f  *os.File
	// onErr hears of every failed write (the daemon logs it, rate-limited,
	// and shows itself degraded); onOK of every write that worked.
	onErr func(error)
	onOK  func()
	// m hears of every attempt and event the journal records: the one
	// hook of the Prometheus figures, so they agree with the journal.
	m *metrics
}

// JournalLine is one line of the journal: an attempt or an event. `agentspool
// status` reads them back for its figures.
type JournalLine struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"` // attempt | done | failed | held | retry | bounced | renamed
	ID      string    `json:"id"`
	Agent   string    `json:"agent"`
	Attempt int       `json:"attempt"`
	Name    string    `json:"name"`
	// OrigName: the sender's name of a message the claim named
	// (spool.Entry.OrigName), on every line about it.
	OrigName string `json:"orig_name,omitempty"`
	OK       bool   `json:"ok,omitempty"`
	// Result is an attempt's class, the result label of
	// agentspool_attempts_total (submitted, focus_mismatch, ...).
	Result string `json:"result,omitempty"`
	Err    string `json:"err,omitempty"`
	Why    string `json:"why,omitempty"`
	// SinceDrop: from entering the spool to this line, on submitted
	// attempts (drop→submit) and done events (drop→ack when acked).
	SinceDrop float64 `json:"since_drop_ms,omitempty"`
	LockWait  float64 `json:"lock_wait_ms,omitempty"`
	GUI       float64 `json:"gui_ms,omitempty"`
	Focus     float64 `json:"focus_ms,omitempty"`
	Readback  float64 `json:"readback_ms,omitempty"`
	Fetch     float64 `json:"fetch_ms,omitempty"`
	Settle    float64 `json:"settle_ms,omitempty"`
	Restore   float64 `json:"restore_ms,omitempty"`
	GiveBack  float64 `json:"giveback_ms,omitempty"`
	Release   float64 `json:"release_ms,omitempty"`
	Refocus   int     `json:"refocus,omitempty"`
	Quiet     float64 `json:"quiet_wait_ms,omitempty"`
	Forced    bool    `json:"forced,omitempty"` // urgent, past quiet_max_wait, a person at the desk
	// The quiet check that let the attempt go began and ended.
	CheckFrom *time.Time `json:"check_from,omitempty"`
	CheckTo   *time.Time `json:"check_to,omitempty"`
	Kept      int        `json:"kept_keys,omitempty"`
	GaveBack  bool       `json:"gave_back"`
	Mismatch  string     `json:"focused_title,omitempty"`
	// The paste: how many reads and requests the window's burst made,
	// how far it is known to have landed ("read": the window read only our
	// text, to the end of its burst; that it is in the input is not
	// observable), a request after the burst was taken for ended, and
	// where the click went.
	Reads    int    `json:"paste_reads,omitempty"`
	Requests int    `json:"paste_requests,omitempty"`
	Landing  string `json:"landing,omitempty"`
	LateRead bool   `json:"late_read,omitempty"`
	// SubmitUncertain: the focus moved while the submit key went (Windows
	// has no server grab); a look found the input empty, so it counts as
	// submitted, to be confirmed by the ack.
	SubmitUncertain bool `json:"submit_uncertain,omitempty"`
	// FocusLeft: someone else moved the focus to a third window during
	// the delivery; it was left there.
	FocusLeft bool `json:"focus_left,omitempty"`
	// PasteMerged: the verifying look found the message merged with a
	// draft that was in the input; the paste was taken back and the
	// draft left as it was. QuickLooks: looks that took the input for
	// empty because its window did not take PRIMARY on the select-all.
	PasteMerged bool `json:"paste_merged,omitempty"`
	QuickLooks  int  `json:"quick_looks,omitempty"`
	// Undone: the undo key was tapped to take a paste back. Erased: the
	// input held a paste of ours and nothing else, which an undo had not
	// taken back; it was selected and deleted.
	Undone bool `json:"undone,omitempty"`
	Erased bool `json:"erased,omitempty"`
	ClickX int  `json:"click_x,omitempty"`
	ClickY int  `json:"click_y,omitempty"`
	// Terminal and CLI: what was found behind the agent's window (a
	// terminal emulator, the agent CLI in it). KeptOn: a person used the
	// desk after the paste into a terminal whose program has no safe
	// undo; the submit went on.
	Terminal string `json:"terminal,omitempty"`
	CLI      string `json:"cli,omitempty"`
	KeptOn   bool   `json:"kept_on,omitempty"`
	// Steps: each GUI or pane step the attempt ended, with its time
	// from the lock ("quiet 3ms, looked 9ms, pasted 12ms, ..."): what a
	// message that went wrong went through.
	Steps string `json:"steps,omitempty"`
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("service: journal: %w", err)
	}
	return &journal{f: f}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (j *journal) write(l JournalLine) {
	l.Time = time.Now().UTC()
	b, err := json.Marshal(l)
	if err != nil {
		return
	}
	j.mu.Lock()
	// One write(2) per line with O_APPEND: lines never interleave.
	_, err = j.f.Write(append(b, '\n'))
	j.mu.Unlock()
	// A full disk used to leave the journal empty without a word.
	if err != nil && j.onErr != nil {
		j.onErr(fmt.Errorf("journal: %w", err))
	} else if err == nil && j.onOK != nil {
		j.onOK()
	}
}

// Attempt records one delivery attempt.
func (j *journal) Attempt(e spool.Entry, r deliver.Report, err error) {
	l := JournalLine{Event: "attempt", ID: e.ID, Agent: e.Agent, Attempt: e.Attempt + 1, Name: e.Name, OrigName: e.OrigName, OK: err == nil,
		LockWait: ms(r.LockWait), GUI: ms(r.GUI), Focus: ms(r.Focus), Readback: ms(r.Readback), Fetch: ms(r.Fetch), Settle: ms(r.Settle), Restore: ms(r.Restore), GiveBack: ms(r.GiveBack), Release: ms(r.Release), Refocus: r.Refocus,
		Quiet: ms(r.QuietWait), Forced: r.Forced, Kept: r.KeptKeys, GaveBack: r.GaveBack,
		Reads: r.PasteReads, Requests: r.PasteRequests, Landing: r.Landing, LateRead: r.LateRead, ClickX: r.ClickX, ClickY: r.ClickY,
		SubmitUncertain: r.SubmitUncertain, FocusLeft: r.FocusMovedByOthers, PasteMerged: r.Merged, QuickLooks: r.QuickLooks,
		Undone: r.Undone, Erased: r.Erased, Terminal: r.Program.Terminal, CLI: r.Program.CLI, KeptOn: r.KeptOn, Steps: steps(r.Steps)}
	if !r.CheckFrom.IsZero() {
		from, to := r.CheckFrom.UTC(), r.CheckTo.UTC()
		l.CheckFrom, l.CheckTo = &from, &to
	}
	var since time.Duration
	l.Result = attemptResult(err)
	if err != nil {
		l.Err = err.Error()
		if w, ok := deliver.IsFocusMismatch(err); ok {
			l.Mismatch = w.Title
		}
	} else {
		since = sinceDrop(e)
		l.SinceDrop = ms(since)
	}
	if j.m != nil {
		j.m.attempt(e.Agent, r, l.Result, since)
	}
	j.write(l)
}

// steps writes Report.Steps (name, duration pairs) as one line.
func steps(pairs []any) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		d, _ := pairs[i+1].(time.Duration)
		fmt.Fprintf(&b, "%v %v", pairs[i], d.Round(time.Millisecond))
	}
	return b.String()
}

// sinceDrop is how long ago e entered the spool; 0 when unknown.
func sinceDrop(e spool.Entry) time.Duration {
	t := e.EnteredAt()
	if t.IsZero() {
		return 0
	}
	return max(time.Since(t), 0)
}

// Renamed records the name the claim gave a message, beside the sender's
// name for it (every message is named at its first claim).
func (j *journal) Renamed(e spool.Entry) {
	j.write(JournalLine{Event: "renamed", ID: e.ID, Agent: e.Agent, Attempt: e.Attempt, Name: e.Name, OrigName: e.OrigName, Why: "original name: " + e.OrigName})
}

// Event records a final or parking transition (done, failed, held) or a
// retry after no ack.
func (j *journal) Event(e spool.Entry, event, why string) {
	l := JournalLine{Event: event, ID: e.ID, Agent: e.Agent, Attempt: e.Attempt, Name: e.Name, OrigName: e.OrigName, Why: why}
	var since time.Duration
	// "acked", "acked before the retry", "recovered: acked before the
	// restart"; not "submitted; agent has ack off".
	acked := event == "done" && strings.Contains(why, "acked")
	if event == "done" {
		since = sinceDrop(e)
		l.SinceDrop = ms(since)
	}
	if j.m != nil {
		j.m.event(e, event, acked, since)
	}
	j.write(l)
}

func (j *journal) Close() error { return j.f.Close() }
