//go:build linux

package winetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkGUIPhaseWine is the GUI phase of one delivery through the
// Windows backend under Wine (Xvfb + openbox), into two Win32 EDIT fixture
// windows in turn, with verify_paste's look: b.N deliveries in one
// Windows process; it reports p50 and p95. `make bench` runs it beside the
// X11 BenchmarkGUIPhase.
func BenchmarkGUIPhaseWine(b *testing.B) {
	dir, _, p, exe := startRig(b, "winbench-", "guiphase.exe", "./test/winetest/testdata/guiphase")
	ws, err := p.StartAgents(dir, 2, FixtureOptions{})
	if err != nil {
		b.Fatal(err)
	}
	args := []string{strconv.Itoa(b.N)}
	for _, w := range ws {
		args = append(args, fmt.Sprintf("%s:%d:%d", w.Name, w.CX, w.CY))
	}
	b.ResetTimer()
	out, stderr, err := p.Run(30*time.Minute, nil, exe, args...)
	b.StopTimer()
	if err != nil {
		b.Fatalf("%v\n%s", err, stderr)
	}
	var gui []float64
	failed := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[2] == "gui_us" {
			us, _ := strconv.Atoi(f[3])
			gui = append(gui, float64(us)/1000)
		} else {
			failed++
		}
	}
	if len(gui) == 0 {
		b.Fatalf("no delivery succeeded:\n%s", out)
	}
	slices.Sort(gui)
	b.ReportMetric(gui[len(gui)/2], "p50-ms")
	b.ReportMetric(gui[len(gui)*95/100], "p95-ms")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(0, "ns/op")
	var subs int
	for _, w := range ws {
		s, _ := w.Submits()
		subs += len(s)
	}
	if subs != len(gui) {
		b.Errorf("%d submits for %d deliveries that reported success", subs, len(gui))
	}
}
