package deliver

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// The cost of draft_check: one delivery into an agent window whose input
// is empty, as the daemon delivers by default (verify_paste on, the
// input's own select-all/copy/caret keys), without and with the draft
// check, on one desktop in one run. Per sub-benchmark and window kind: the
// GUI phase (p50/p95) and the draft check's own part, focused →
// draft_checked (draft-p50/p95-ms; 0 when off), and how many of its looks
// were quick (quick-looks). Each Deliverer first delivers 10 messages per
// window unmeasured, so its Timings have learned what a running daemon's
// have; KIND-cold-draft-ms is the draft check of
// the very first delivery with it on, before anything was learned (into a
// window of that kind).
//
//	go test -run '^$' -bench DraftCheck -benchtime 100x ./deliver/
//
// BenchmarkDraftCheck is Tk windows only (no npm files needed).
// Tk's select-all (ctrl+slash) selects the text widget's final newline
// too, so its copy of an "empty" input copies "\n": the look never waits
// for a copy that does not come, and Tk is the cheap case.
func BenchmarkDraftCheck(b *testing.B) {
	benchDraftCheck(b, benchDesktop(b))
}

// BenchmarkDraftCheckChromium is the same into Chromium windows of every
// input kind (the users' Electron chat inputs) beside a Tk one, where
// select-all and copy in an empty input copy nothing, and the look waits
// for its copy deadline:
//
//	go test -run '^$' -bench DraftCheckChromium -benchtime 100x ./deliver/
func BenchmarkDraftCheckChromium(b *testing.B) {
	kinds := []string{"tk", desktoptest.KindTextarea, desktoptest.KindContentEditable, desktoptest.KindMonaco, desktoptest.KindLexical}
	d := desktoptest.StartT(b, desktoptest.Options{Agents: len(kinds), Kinds: kinds, Dir: b.TempDir()})
	b.Setenv("DISPLAY", d.Display)
	benchDraftCheck(b, d)
}

func benchDraftCheck(b *testing.B, d *desktoptest.Desktop) {
	x := newX11B(b)
	seq := 0
	text := func(n int, a *desktoptest.AgentWindow) string {
		return fmt.Sprintf("[agentspool id=d%d from=bench to=%s]\ndraft check benchmark %d", n, a.Name, n)
	}
	sent := map[string][]string{}
	// off: no draft check; deadline: the draft check as it was before
	// issue 14 (an empty input told by no copy within the copy deadline);
	// on: as the daemon runs it (an empty input told by no PRIMARY taken
	// on the select-all, once the window is known to take it).
	for _, mode := range []string{"off", "deadline", "on"} {
		on := mode != "off"
		b.Run(mode, func(b *testing.B) {
			dl := &Deliverer{Desktop: x, Timings: NewTimings(5*time.Millisecond, 5*time.Second), slowLooks: mode == "deadline"}
			retries := 0
			deliver := func() (string, Report) {
				a := d.Agents[seq%len(d.Agents)]
				seq++
				t := chromiumTarget(a) // verify on, ctrl+a, ctrl+c, end
				if a.Kind == desktoptest.KindTk {
					t.Read.SelectAll = []string{"ctrl", "slash"}
				}
				if on {
					t.Draft = t.Read
				}
				msg := text(seq, a)
				// A temporary failure is tried again, as the daemon does
				// (after its backoff); only the delivery that went counts.
				var rep Report
				for try := 1; ; try++ {
					var err error
					if rep, err = dl.Deliver(context.Background(), t, msg); err == nil {
						break
					}
					if !IsTemporary(err) || try == 8 {
						b.Fatalf("%s (%s): attempt %d: %v", a.Name, a.Kind, try, err)
					}
					b.Logf("%s (%s): attempt %d: %v", a.Name, a.Kind, try, err)
					retries++
					time.Sleep(100 * time.Millisecond)
				}
				sent[a.Name] = append(sent[a.Name], msg)
				kind := a.Kind
				if kind == "" {
					kind = desktoptest.KindTk
				}
				return kind, rep
			}
			var cold time.Duration
			coldKind := ""
			// 10 per window: a window's quick looks start after 8 looks
			// that copied (each delivery's verifying look is one).
			for i := 0; i < 10*len(d.Agents); i++ {
				if kind, rep := deliver(); i == 0 {
					cold, coldKind = draftPart(rep), kind
				}
			}
			gui, draft := map[string][]time.Duration{}, map[string][]time.Duration{}
			quick := 0
			b.ResetTimer()
			retries = 0
			for i := 0; i < b.N; i++ {
				kind, rep := deliver()
				gui[kind] = append(gui[kind], rep.GUI)
				draft[kind] = append(draft[kind], draftPart(rep))
				quick += rep.QuickLooks
			}
			b.StopTimer()
			b.ReportMetric(float64(retries), "retries")
			b.ReportMetric(float64(quick), "quick-looks")
			if on {
				b.ReportMetric(msOf(cold), coldKind+"-cold-draft-ms")
			}
			for kind := range gui {
				p := kind + "-"
				if len(gui) == 1 {
					p = ""
				}
				g50, g95, _ := quantiles(gui[kind])
				d50, d95, _ := quantiles(draft[kind])
				b.ReportMetric(g50, p+"p50-ms")
				b.ReportMetric(g95, p+"p95-ms")
				b.ReportMetric(d50, p+"draft-p50-ms")
				b.ReportMetric(d95, p+"draft-p95-ms")
			}
		})
	}
	time.Sleep(time.Second) // the Chromium pages report their last submits
	// Every delivery was submitted whole, once, to its own window.
	for _, a := range d.Agents {
		got, err := d.Submits(a.Name)
		if err != nil {
			b.Fatal(err)
		}
		if !slices.Equal(got, sent[a.Name]) {
			b.Errorf("%s (%s): %d submits, %d sent; first differing: %q", a.Name, a.Kind, len(got), len(sent[a.Name]), firstDiff(got, sent[a.Name]))
		}
	}
}

// draftPart is the draft check's share of a delivery: from "focused" to
// "draft_checked" in its Steps; 0 without a draft check.
func draftPart(rep Report) time.Duration {
	var focused, checked time.Duration
	for i := 0; i+1 < len(rep.Steps); i += 2 {
		d, _ := rep.Steps[i+1].(time.Duration)
		switch rep.Steps[i] {
		case "focused":
			focused = d
		case "draft_checked":
			checked = d
		}
	}
	if checked == 0 {
		return 0
	}
	return checked - focused
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
