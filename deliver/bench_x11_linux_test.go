package deliver

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
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

// BenchmarkGUIPhaseChromium is the GUI phase into Chromium windows of every
// input kind beside Tk windows, on one desktop in one run, per kind:
//
//	go test -run '^$' -bench GUIPhaseChromium -benchtime 400x ./deliver/
//
// It fails if any window saw an empty submit, a multi-click or a submit
// that is not the message. Goal: Chromium p50 ≤ 80 ms.
func BenchmarkGUIPhaseChromium(b *testing.B) {
	kinds := []string{"tk", desktoptest.KindTextarea, desktoptest.KindContentEditable, desktoptest.KindMonaco, desktoptest.KindLexical, "tk"}
	d := desktoptest.StartT(b, desktoptest.Options{Agents: len(kinds), Kinds: kinds, Dir: b.TempDir()})
	b.Setenv("DISPLAY", d.Display)
	dl := &Deliverer{Desktop: newX11B(b), Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	gui := map[string][]time.Duration{}
	steps := map[string][]time.Duration{} // Chromium: each step's own time
	sent := map[string][]string{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := d.Agents[i%len(d.Agents)]
		text := fmt.Sprintf("[agentspool id=b%d from=bench to=%s]\nbenchmark message %d ✓", i, a.Name, i)
		// As the daemon delivers by default: verify_paste, with each
		// input's select-all (Tk: ctrl+slash).
		tg := chromiumTarget(a)
		if a.Kind == desktoptest.KindTk {
			tg.Read.SelectAll = []string{"ctrl", "slash"}
		}
		rep, err := dl.Deliver(context.Background(), tg, text)
		if err != nil {
			b.Fatalf("%s (%s): %v", a.Name, a.Kind, err)
		}
		kind := a.Kind
		if kind != "tk" && kind != "" {
			gui["chromium"] = append(gui["chromium"], rep.GUI)
			stepDeltas(rep, steps)
			steps["fetch"] = append(steps["fetch"], rep.Fetch)
		} else {
			kind = "tk"
		}
		gui[kind] = append(gui[kind], rep.GUI)
		sent[a.Name] = append(sent[a.Name], text)
	}
	b.StopTimer()
	for kind, ds := range gui {
		p50, p95, _ := quantiles(ds)
		b.ReportMetric(p50, kind+"-p50-ms")
		b.ReportMetric(p95, kind+"-p95-ms")
	}
	// Where a Chromium delivery's time goes: the p50 of each step's own
	// part (from the step before it to its end).
	for step, ds := range steps {
		p50, _, _ := quantiles(ds)
		b.ReportMetric(p50, "chromium-"+step+"-ms")
	}
	// The learned quiet that ends a paste's burst, and the gaps in bursts.
	b.ReportMetric(msOf(dl.Timings.Quiet()), "quiet-ms")
	for _, q := range []float64{0.5, 0.9, 0.95} {
		g, _ := dl.Timings.Quantile(StepReadGap, q)
		b.ReportMetric(msOf(g), fmt.Sprintf("read-gap-p%02.0f-ms", q*100))
	}
	time.Sleep(time.Second) // the pages report their last submits
	for _, a := range d.Agents {
		got, err := d.Submits(a.Name)
		if err != nil {
			b.Fatal(err)
		}
		if !slices.Equal(got, sent[a.Name]) {
			b.Errorf("%s (%s): %d submits, %d sent; first differing: %q", a.Name, a.Kind, len(got), len(sent[a.Name]), firstDiff(got, sent[a.Name]))
		}
		if a.Kind == "tk" || a.Kind == "" {
			continue
		}
		st, err := d.Stats(a.Name)
		if err != nil {
			b.Fatal(err)
		}
		if st.EmptySubmits+st.MultiClicks+st.PastesInsertedNothing > 0 {
			b.Errorf("%s (%s): %+v", a.Name, a.Kind, st)
		}
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			if i < len(got) {
				return got[i]
			}
			return "(missing) " + want[i]
		}
	}
	return ""
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
	p50, p95, top := quantiles(ds)
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p95, "p95-ms")
	b.ReportMetric(top, "max-ms")
}

// quantiles are the p50, p95 and max of ds in milliseconds.
func quantiles(ds []time.Duration) (p50, p95, top float64) {
	slices.Sort(ds)
	q := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1)+0.5)].Microseconds()) / 1000
	}
	return q(0.5), q(0.95), q(1)
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

// stepDeltas adds each step's own part of rep (its end minus the end of
// the step before it) to steps.
func stepDeltas(rep Report, steps map[string][]time.Duration) {
	var prev time.Duration
	for i := 0; i+1 < len(rep.Steps); i += 2 {
		name, _ := rep.Steps[i].(string)
		at, _ := rep.Steps[i+1].(time.Duration)
		steps[name] = append(steps[name], at-prev)
		prev = at
	}
}
