package service

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
)

func benchDaemon(b *testing.B) *Daemon {
	b.Helper()
	dir := b.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf("spool: %s/spool\ninbox_root: %s/inboxes\nagents:\n  Agent-1: {x: 50, y: 50, window: Agent-1}\n", dir, dir)),
		filepath.Join(dir, "coords.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(cfg.Spool)
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(Options{Config: cfg, Spool: sp, Waiter: neverAcked{},
		Deliverer: &deliver.Deliverer{Desktop: fakedesktop.New(), Timings: deliver.NewTimings(time.Millisecond, time.Second)}})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

var (
	benchEntry  = spool.Entry{ID: "20261201T100000-abcdef", Agent: "Agent-1", Name: "20261201T100000.000000000-abcdef.msg"}
	benchReport = deliver.Report{LockWait: 50 * time.Microsecond, GUI: 40 * time.Millisecond, Focus: 5 * time.Millisecond, Fetch: 3 * time.Millisecond}
)

// BenchmarkMetricsMessage is what the Prometheus figures and the alert
// samples cost per delivered message: one attempt and one done event
// counted, histograms observed. The daemon always keeps them (metrics: only
// says whether they are served); a GUI phase is tens of milliseconds
// (make bench), so this is the cost of metrics on it.
func BenchmarkMetricsMessage(b *testing.B) {
	m := benchDaemon(b).metrics
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.attempt("Agent-1", benchReport, ResultSubmitted, 120*time.Millisecond)
		m.event(benchEntry, "done", true, 900*time.Millisecond)
	}
}

// BenchmarkJournalMessage is the journal's record of one delivered
// message (its attempt line and its done line, two write(2)s) with the
// figures fed from it (metrics=on, as the daemon runs) and without
// (metrics=off): the difference is BenchmarkMetricsMessage within the
// noise of the writes.
func BenchmarkJournalMessage(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "metrics=off", true: "metrics=on"}[on], func(b *testing.B) {
			d := benchDaemon(b)
			j, err := openJournal(filepath.Join(b.TempDir(), "journal.jsonl"))
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			if on {
				j.m = d.metrics
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j.Attempt(benchEntry, benchReport, nil)
				j.Event(benchEntry, "done", "acked")
			}
		})
	}
}
