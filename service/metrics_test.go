package service

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
	dto "github.com/prometheus/client_model/go"
)

// figures is what the registry holds, by "name{label=value,...}" with the
// labels sorted: a counter's or gauge's value, a histogram's count and sum.
type figures map[string]float64

func gather(t *testing.T, m *metrics) figures {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	f := figures{}
	for _, fam := range fams {
		if !strings.HasPrefix(fam.GetName(), "agentspool_") {
			continue
		}
		for _, mt := range fam.GetMetric() {
			key := seriesKey(fam.GetName(), mt.GetLabel())
			switch {
			case mt.Counter != nil:
				f[key] = mt.Counter.GetValue()
			case mt.Gauge != nil:
				f[key] = mt.Gauge.GetValue()
			case mt.Histogram != nil:
				f[strings.Replace(key, "{", "_count{", 1)] = float64(mt.Histogram.GetSampleCount())
				f[strings.Replace(key, "{", "_sum{", 1)] = mt.Histogram.GetSampleSum()
			}
		}
	}
	return f
}

func seriesKey(name string, labels []*dto.LabelPair) string {
	var kv []string
	for _, l := range labels {
		kv = append(kv, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}

// fromJournal computes, from journal.jsonl alone, every figure the
// counters and histograms must show.
func fromJournal(t *testing.T, path string, agents []string) figures {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := figures{}
	for _, a := range agents {
		for _, o := range messageOutcomes {
			want[fmt.Sprintf("agentspool_messages_total{agent=%s,outcome=%s}", a, o)] = 0
		}
		for _, r := range attemptResults {
			want[fmt.Sprintf("agentspool_attempts_total{agent=%s,result=%s}", a, r)] = 0
		}
		for _, n := range []string{"retries_total", "recovered_total", "deferred_for_person_total", "bounces_total"} {
			want[fmt.Sprintf("agentspool_%s{agent=%s}", n, a)] = 0
		}
	}
	failed := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l JournalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		a := "agent=" + l.Agent
		hist := func(name string, ms float64) {
			want["agentspool_"+name+"_count{"+a+"}"]++
			want["agentspool_"+name+"_sum{"+a+"}"] += ms / 1000
		}
		switch l.Event {
		case "attempt":
			// The journal's own class of the attempt, cross-checked
			// with what it says besides.
			res := l.Result
			if (res == ResultSubmitted) != l.OK || (res == ResultFocusMismatch) != (l.Mismatch != "") {
				t.Errorf("journal: result %q of an attempt with ok=%v focused_title=%q", res, l.OK, l.Mismatch)
			}
			want["agentspool_attempts_total{"+a+",result="+res+"}"]++
			if res == ResultPerson {
				want["agentspool_deferred_for_person_total{"+a+"}"]++
			}
			if l.GUI > 0 {
				hist("gui_phase_seconds", l.GUI)
				hist("desktop_lock_wait_seconds", l.LockWait)
			}
			if l.OK && l.SinceDrop > 0 {
				hist("drop_to_submit_seconds", l.SinceDrop)
			}
		case "done":
			want["agentspool_messages_total{"+a+",outcome=done}"]++
			if strings.Contains(l.Why, "acked") {
				hist("drop_to_ack_seconds", l.SinceDrop)
			}
			if failed[l.ID] {
				want["agentspool_recovered_total{"+a+"}"]++
				delete(failed, l.ID)
			}
		case "failed":
			want["agentspool_messages_total{"+a+",outcome=failed}"]++
			failed[l.ID] = true
		case "held":
			want["agentspool_messages_total{"+a+",outcome=held}"]++
		case "retry":
			want["agentspool_retries_total{"+a+"}"]++
		case "bounced":
			want["agentspool_bounces_total{"+a+"}"]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestMetricsAgreeWithTheJournal scripts a daemon on the fake desktop
// through every outcome (done at once, done after a retry, failed after
// max_attempts and then recovered by a retry, focus mismatches that hold
// an agent) and checks each counter and histogram against journal.jsonl,
// the queue gauges against the spool, and /metrics over HTTP.
func TestMetricsAgreeWithTheJournal(t *testing.T) {
	r := newRig(t, "metrics: 127.0.0.1:0\n")
	// Per-id submit counts: "retried" is acked from its second submit on,
	// "failing" only once allowFailing is set, the rest at once.
	var mu sync.Mutex
	submits := map[string]int{}
	var allowFailing atomic.Bool
	ids := map[string]string{}
	r.ack = func(agent, id string, n int) (bool, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		submits[id]++
		switch ids[id] {
		case "retried":
			return submits[id] >= 2, 0
		case "failing":
			return allowFailing.Load(), 0
		}
		return true, 0
	}
	r.desk.AfterClick = func(d *fakedesktop.Desk, x, y int) {
		if x >= 100 && x < 200 { // Agent-2's clicks focus the editor
			d.Focus("Editor")
		}
	}
	for _, m := range []struct{ agent, kind string }{
		{"Agent-1", "plain"}, {"Agent-1", "retried"}, {"Agent-1", "failing"},
		{"Agent-2", "held"}, {"Agent-2", "queued behind the hold"},
	} {
		e := r.send(m.agent, m.kind)
		mu.Lock()
		ids[e.ID] = m.kind
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // distinct entry times: a fixed order
	}
	r.start()
	failed := r.waitState(spool.StateFailed, "Agent-1", 1)
	r.waitState(spool.StateDone, "Agent-1", 2)
	r.waitState(spool.StateHold, "Agent-2", 1)
	// `agentspool retry ID`: the failed message goes back, and is acked.
	allowFailing.Store(true)
	if _, err := r.sp.Requeue(failed[0]); err != nil {
		t.Fatal(err)
	}
	r.waitState(spool.StateDone, "Agent-1", 3)

	// The endpoint serves the text format with our families.
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		addr = r.d.MetricsAddr()
	}
	if addr == "" {
		t.Fatalf("no metrics address\n%s", r.logs.String())
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	var sample []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.Contains(line, "agentspool_") {
			sample = append(sample, line)
		}
	}
	t.Logf("/metrics (agentspool_ lines):\n%s", strings.Join(sample, "\n"))
	for _, name := range []string{"agentspool_messages_total", "agentspool_attempts_total", "agentspool_queue_messages",
		"agentspool_gui_phase_seconds_bucket", "agentspool_build_info", "agentspool_start_time_seconds", "go_goroutines"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics has no %s", name)
		}
	}

	// Queue gauges at scrape time: Agent-2 is held with one message
	// parked and one queued behind it.
	got := gather(t, r.d.metrics)
	for k, v := range map[string]float64{
		"agentspool_queue_messages{agent=Agent-2,state=hold}":   1,
		"agentspool_queue_messages{agent=Agent-2,state=new}":    1,
		"agentspool_queue_messages{agent=Agent-1,state=new}":    0,
		"agentspool_queue_messages{agent=Agent-1,state=failed}": 0,
		"agentspool_agent_held{agent=Agent-2}":                  1,
		"agentspool_agent_held{agent=Agent-1}":                  0,
		"agentspool_queue_oldest_age_seconds{agent=Agent-1}":    0,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if age := got["agentspool_queue_oldest_age_seconds{agent=Agent-2}"]; age <= 0 || age > 60 {
		t.Errorf("oldest age of Agent-2 = %v, want a few seconds", age)
	}
	if v := got["agentspool_build_info{goversion="+runtime.Version()+",version=dev}"]; v != 1 {
		t.Errorf("build_info = %v; have %v", v, keysWith(got, "build_info"))
	}
	if st := got["agentspool_start_time_seconds{}"]; math.Abs(st-float64(time.Now().Unix())) > 120 {
		t.Errorf("start time %v", st)
	}

	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	got = gather(t, r.d.metrics)
	want := fromJournal(t, filepath.Join(r.sp.Root, "journal.jsonl"), []string{"Agent-1", "Agent-2"})
	// The scenario reached what it means to test.
	for k, v := range map[string]float64{
		"agentspool_messages_total{agent=Agent-1,outcome=done}":               3,
		"agentspool_messages_total{agent=Agent-1,outcome=failed}":             1,
		"agentspool_messages_total{agent=Agent-2,outcome=held}":               1,
		"agentspool_recovered_total{agent=Agent-1}":                           1,
		"agentspool_attempts_total{agent=Agent-2,result=focus_mismatch}":      MismatchesToHold,
		"agentspool_attempts_total{agent=Agent-1,result=submitted}":           1 + 2 + 3 + 1,
		"agentspool_retries_total{agent=Agent-1}":                             1 + 2,
		"agentspool_drop_to_ack_seconds_count{agent=Agent-1}":                 3,
		"agentspool_gui_phase_seconds_count{agent=Agent-1}":                   7,
		"agentspool_attempts_total{agent=Agent-1,result=" + ResultError + "}": 0,
	} {
		if want[k] != v {
			t.Errorf("journal: %s = %v, want %v (the scenario did not go as planned)", k, want[k], v)
		}
	}
	sameFigures(t, got, want)
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(r.sp.Root, "journal.jsonl"))
		t.Logf("journal:\n%s", b)
	}
}

// sameFigures: every counter and histogram in want (the journal's) is in
// got (the registry's) with its value, and got has none that want lacks.
func sameFigures(t *testing.T, got, want figures) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: missing from the registry (journal says %v)", k, v)
			continue
		}
		// The journal keeps microseconds.
		if math.Abs(g-v) > 1e-5*math.Max(1, want[strings.Replace(k, "_sum{", "_count{", 1)]) {
			t.Errorf("%s = %v, journal says %v", k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && (strings.Contains(k, "_total{") || strings.Contains(k, "_seconds_")) && v != 0 {
			t.Errorf("%s = %v: not in the journal", k, v)
		}
	}
}

// TestMetricsCountTheDesktopsRefusals: attempts that another client's
// copy or a person at the desk stopped are counted by result, the person's
// also as deferred, and agree with the journal.
func TestMetricsCountTheDesktopsRefusals(t *testing.T) {
	r := newRig(t, "")
	r.quietFor = 30 * time.Millisecond
	var pastes atomic.Int32
	r.desk.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") != "ctrl+v" {
			return
		}
		switch n := pastes.Add(1); {
		case n <= 3: // every offer of the first attempt: clipboard taken
			d.Clobber("a copy of theirs")
		case n == 4: // the second: a person types
			d.PersonTypes("hello")
		}
	}
	r.desk.Click(250, 50) // the person works in the editor
	r.send("Agent-1", "first")
	r.send("Agent-1", "second")
	r.start()
	r.waitState(spool.StateDone, "Agent-1", 2)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	got := gather(t, r.d.metrics)
	want := fromJournal(t, filepath.Join(r.sp.Root, "journal.jsonl"), []string{"Agent-1", "Agent-2"})
	for k, v := range map[string]float64{
		"agentspool_attempts_total{agent=Agent-1,result=clipboard_taken}": 1,
		"agentspool_attempts_total{agent=Agent-1,result=person}":          1,
		"agentspool_attempts_total{agent=Agent-1,result=submitted}":       2,
		"agentspool_messages_total{agent=Agent-1,outcome=done}":           2,
	} {
		if want[k] != v {
			t.Errorf("journal: %s = %v, want %v (the scenario did not go as planned)", k, want[k], v)
		}
	}
	if got["agentspool_deferred_for_person_total{agent=Agent-1}"] != want["agentspool_attempts_total{agent=Agent-1,result=person}"] {
		t.Errorf("deferred for the person %v, person attempts %v", got["agentspool_deferred_for_person_total{agent=Agent-1}"], want["agentspool_attempts_total{agent=Agent-1,result=person}"])
	}
	sameFigures(t, got, want)
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(r.sp.Root, "journal.jsonl"))
		t.Logf("journal:\n%s\nlogs:\n%s", b, r.logs)
	}
}

func keysWith(f figures, s string) []string {
	var out []string
	for k := range f {
		if strings.Contains(k, s) {
			out = append(out, k)
		}
	}
	return out
}

func TestAttemptResult(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ResultSubmitted},
		{fmt.Errorf("deliver: paste: another client took the clipboard before the window read the message (%w)", deliver.ErrClipboardTaken), ResultClipboardTaken},
		{fmt.Errorf("x: %w", deliver.ErrClipboardSilent), ResultClipboardTaken},
		{fmt.Errorf("deliver: paste: the window did not read the clipboard within 2s (%w)", deliver.ErrNotLanded), ResultNotFetched},
		// The words alone no longer classify: deliver's errors say what they are.
		{errors.New("deliver: paste: the window did not read the clipboard within 2s"), ResultError},
		{errors.New("deliver: key [enter]: refused"), ResultError},
	} {
		if got := attemptResult(tc.err); got != tc.want {
			t.Errorf("attemptResult(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
