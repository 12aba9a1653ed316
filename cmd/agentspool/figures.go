package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentspool/agentspool/service"
)

// The old system's figures ("delivery success rate, average delivery
// time, retry rate, failed message recovery rate, clipboard lock
// contention") over a recent window, computed from <spool>/journal.jsonl:
// the daemon's record of every attempt and outcome, which /metrics counts
// too (service/journal.go), and which is there whether or not the daemon
// runs.

// windowFigures are one window's figures, for all agents or one. A rate
// or a time is nil when there was nothing to measure it by.
type windowFigures struct {
	Window string `json:"window"` // "1h", "24h"
	// Messages that ended in the window.
	Done   int `json:"done"`
	Failed int `json:"failed"`
	Held   int `json:"held"`
	// SuccessRate is done / (done + failed), as the rules' failure rate
	// (contrib/prometheus); held messages are counted beside it.
	SuccessRate *float64 `json:"success_rate"`
	// Attempts: every delivery attempt; Submitted: those that pressed the
	// submit key.
	Attempts  int `json:"attempts"`
	Submitted int `json:"submitted"`
	// Delivery time: drop→submit of the submitted attempts; the
	// confirmation time: drop→ack of the acked messages.
	DeliveryAvg *float64 `json:"delivery_avg_seconds"`
	DeliveryP95 *float64 `json:"delivery_p95_seconds"`
	AckAvg      *float64 `json:"ack_avg_seconds"`
	AckP95      *float64 `json:"ack_p95_seconds"`
	// RetryRate is retries after no ack / submitted attempts.
	Retries   int      `json:"retries"`
	RetryRate *float64 `json:"retry_rate"`
	// Recovery: of the messages that went to failed/ in the window, the
	// share that were retried and are done since.
	Recovered    int      `json:"recovered"`
	RecoveryRate *float64 `json:"recovery_rate"`
	// Lock contention: how long the attempts that took the desktop lock
	// waited for it (other processes driving the desktop).
	LockWaitAvg *float64 `json:"lock_wait_avg_seconds"`
	LockWaitP95 *float64 `json:"lock_wait_p95_seconds"`
}

// figureWindows are the windows status shows.
var figureWindows = []struct {
	name string
	d    time.Duration
}{{"1h", time.Hour}, {"24h", 24 * time.Hour}}

// readJournal returns the journal's events from since on. The journal is
// appended in time order, so the start is found by bisecting the file:
// a day's figures do not read a journal of a year.
func readJournal(path string, since time.Time) ([]service.JournalLine, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	lo, hi := int64(0), fi.Size()
	for hi-lo > 64<<10 {
		mid := lo + (hi-lo)/2
		t, ok := lineTimeAfter(f, mid)
		if ok && t.Before(since) {
			lo = mid
		} else {
			hi = mid
		}
	}
	if _, err := f.Seek(lo, io.SeekStart); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	if lo > 0 {
		if _, err := r.ReadSlice('\n'); err != nil {
			return nil, nil
		}
	}
	var out []service.JournalLine
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var ev service.JournalLine
			// A line cut by a crash or a full disk is skipped, as a
			// reader of an append-only log must.
			if json.Unmarshal(line, &ev) == nil && !ev.Time.Before(since) {
				out = append(out, ev)
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// lineTimeAfter is the time of the first whole line starting after off.
func lineTimeAfter(f *os.File, off int64) (time.Time, bool) {
	r := bufio.NewReader(io.NewSectionReader(f, off, 1<<20))
	if _, err := r.ReadSlice('\n'); err != nil {
		return time.Time{}, false
	}
	line, err := r.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return time.Time{}, false
	}
	var ev struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal(line, &ev) != nil {
		return time.Time{}, false
	}
	return ev.Time, true
}

// computeFigures computes the window [now-d, now] from evs (in time
// order, starting no later than now-d), for agent ("" for all).
func computeFigures(evs []service.JournalLine, name string, d time.Duration, now time.Time, agent string) windowFigures {
	w := windowFigures{Window: name}
	from := now.Add(-d)
	var delivery, ack, lock []float64
	failedAt := map[string]bool{} // failed in the window, not yet done
	for _, ev := range evs {
		if ev.Time.Before(from) || ev.Time.After(now) || (agent != "" && ev.Agent != agent) {
			continue
		}
		switch ev.Event {
		case "attempt":
			w.Attempts++
			if ev.OK {
				w.Submitted++
				if ev.SinceDrop > 0 {
					delivery = append(delivery, ev.SinceDrop/1000)
				}
			}
			// Only an attempt that took the lock has a GUI phase (as
			// agentspool_desktop_lock_wait_seconds).
			if ev.GUI > 0 {
				lock = append(lock, ev.LockWait/1000)
			}
		case "done":
			w.Done++
			if strings.Contains(ev.Why, "acked") && ev.SinceDrop > 0 {
				ack = append(ack, ev.SinceDrop/1000)
			}
			if failedAt[ev.ID] {
				w.Recovered++
				delete(failedAt, ev.ID)
			}
		case "failed":
			w.Failed++
			failedAt[ev.ID] = true
		case "held":
			w.Held++
		case "retry":
			w.Retries++
		}
	}
	w.SuccessRate = ratio(w.Done, w.Done+w.Failed)
	w.RetryRate = ratio(w.Retries, w.Submitted)
	w.RecoveryRate = ratio(w.Recovered, w.Failed)
	w.DeliveryAvg, w.DeliveryP95 = mean(delivery), p95(delivery)
	w.AckAvg, w.AckP95 = mean(ack), p95(ack)
	w.LockWaitAvg, w.LockWaitP95 = mean(lock), p95(lock)
	return w
}

func ratio(a, b int) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

func mean(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	return &m
}

// p95 is the nearest-rank 95th percentile: the smallest value that at
// least 95 % of the values do not exceed.
func p95(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	v := s[int(math.Ceil(0.95*float64(len(s))))-1]
	return &v
}

// writeFigures writes the windows' figures as a table, a row a window.
func writeFigures(w io.Writer, ws []windowFigures) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURES\tDELIVERED\tDONE\tFAILED\tHELD\tDELIVERY avg/p95\tACK avg/p95\tRETRIES\tRECOVERED\tLOCK WAIT avg/p95")
	for _, f := range ws {
		label := map[string]string{"1h": "last hour", "24h": "last day"}[f.Window]
		if f.Attempts == 0 && f.Done+f.Failed+f.Held+f.Retries == 0 {
			fmt.Fprintf(tw, "%s\tno deliveries\n", label)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s (%d/%d)\t%s\t%s\n", label, pct(f.SuccessRate), f.Done, f.Failed, f.Held,
			avgP95(f.DeliveryAvg, f.DeliveryP95), avgP95(f.AckAvg, f.AckP95), pct(f.RetryRate), f.Retries, f.Submitted,
			recovered(f), avgP95(f.LockWaitAvg, f.LockWaitP95))
	}
	return tw.Flush()
}

func recovered(f windowFigures) string {
	if f.Failed == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%d/%d)", pct(f.RecoveryRate), f.Recovered, f.Failed)
}

func pct(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *r*100)
}

func avgP95(avg, p *float64) string {
	if avg == nil {
		return "-"
	}
	return fmtSeconds(*avg) + " / " + fmtSeconds(*p)
}

// fmtSeconds is a short duration for a figure: 850µs, 12ms, 1.4s, 2m05s.
func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmtAge(d)
}
