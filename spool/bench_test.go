package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchMessage is a typical small message with front matter (~300 bytes).
var benchMessage = []byte("---\nid: 20261127T073012-9f3a1c\nfrom: Agent-6\npriority: high\n---\n" +
	strings.Repeat("Please review the change in spool/scan.go and reply. ", 4) + "\n")

func BenchmarkEnqueue(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Enqueue("Agent-1", benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareWriteFsyncRename is Enqueue's floor: the same file written,
// fsynced and renamed on the same disk, with nothing else.
func BenchmarkBareWriteFsyncRename(b *testing.B) {
	dir := b.TempDir()
	tmp, dst := filepath.Join(dir, "tmp"), filepath.Join(dir, "new")
	for _, d := range []string{tmp, dst} {
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprint(i)
		f, err := os.OpenFile(filepath.Join(tmp, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(benchMessage); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dst, name)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClaim(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.EnsureAgent("Agent-1"); err != nil {
		b.Fatal(err)
	}
	// Stage files with plain writes: the benchmark times the claims only.
	es := make([]Entry, b.N)
	for i := range es {
		es[i] = Entry{Agent: "Agent-1", Name: UniqueName(), State: StateNew}
		if err := os.WriteFile(s.Path(es[i]), benchMessage, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Claim(es[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan100k times a cold Scan (a fresh Spool, so no header cache) of
// 100,000 queued files over 10 agents, a fifth of them urgent.
func BenchmarkScan100k(b *testing.B) {
	const files, agents = 100_000, 10
	root := b.TempDir()
	setup, err := Open(root)
	if err != nil {
		b.Fatal(err)
	}
	urgent := []byte(strings.Replace(string(benchMessage), "priority: high", "priority: urgent", 1))
	for a := range agents {
		if err := setup.EnsureAgent(fmt.Sprintf("Agent-%d", a)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range files {
		e := Entry{Agent: fmt.Sprintf("Agent-%d", i%agents), Name: UniqueName(), State: StateNew}
		data := benchMessage
		if i%5 == 0 {
			data = urgent
		}
		if err := os.WriteFile(setup.Path(e), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(root)
		if err != nil {
			b.Fatal(err)
		}
		es, err := s.Scan(StateNew, "")
		if err != nil {
			b.Fatal(err)
		}
		if len(es) != files {
			b.Fatalf("scanned %d entries, want %d", len(es), files)
		}
	}
	b.StopTimer()
	// A warm rescan, for comparison: the cache saves the header reads.
	s, _ := Open(root)
	s.Scan(StateNew, "")
	start := time.Now()
	s.Scan(StateNew, "")
	b.ReportMetric(float64(time.Since(start).Nanoseconds()), "warm-ns")
}
