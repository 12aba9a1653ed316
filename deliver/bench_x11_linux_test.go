package deliver

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// The GUI phase (desktop lock taken → submit settled) on a virtual desktop,
// against the old script's fixed sleeps measured on the same desktop:
//
//	go test -run '^$' -bench 'GUIPhase|OldFixedSleeps' -benchtime 200x ./deliver/
//
// Goal: p50 ≤ 50 ms and p95 ≤ 120 ms.
func BenchmarkGUIPhase(b *testing.B) {
	d := benchDesktop(b)
	dl := &Deliverer{Desktop: newX11B(b), Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	var gui []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := d.Agents[i%len(d.Agents)]
		rep, err := dl.Deliver(context.Background(), targetOf(a), fmt.Sprintf("[agentspool id=b%d from=bench to=%s]\nbenchmark message %d", i, a.Name, i))
		if err != nil {
			b.Fatal(err)
		}
		gui = append(gui, rep.GUI)
	}
	b.StopTimer()
	reportQuantiles(b, gui)
}

// BenchmarkOldFixedSleeps replays the old script: click, sleep 0.5 s, copy,
// sleep 0.2 s, ctrl+v, sleep 0.3 s, Enter, sleep 0.5 s, sleep 0.5 s.
func BenchmarkOldFixedSleeps(b *testing.B) {
	d := benchDesktop(b)
	x := newX11B(b)
	var gui []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := d.Agents[i%len(d.Agents)]
		start := time.Now()
		x.Click(a.X, a.Y)
		time.Sleep(500 * time.Millisecond)
		x.SetClipboard([]byte(fmt.Sprintf("old message %d", i)))
		time.Sleep(200 * time.Millisecond)
		x.Key(pasteKey)
		time.Sleep(300 * time.Millisecond)
		x.Key([]string{"enter"})
		time.Sleep(500 * time.Millisecond)
		time.Sleep(500 * time.Millisecond)
		gui = append(gui, time.Since(start))
	}
	b.StopTimer()
	reportQuantiles(b, gui)
}

func reportQuantiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	q := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1)+0.5)].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(q(1), "max-ms")
}

func benchDesktop(b *testing.B) *desktoptestDesktop {
	b.Helper()
	d := desktoptestStartT(b, 4)
	b.Setenv("DISPLAY", d.Display)
	return d
}

func newX11B(b *testing.B) *x11Desktop {
	b.Helper()
	desk, err := NewX11()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { desk.Close() })
	return desk.(*x11Desktop)
}
