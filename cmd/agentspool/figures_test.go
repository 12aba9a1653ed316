package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// journalScript writes journal lines, each at now minus its age.
type journalScript struct {
	now   time.Time
	lines []string
}

func (j *journalScript) add(age time.Duration, fields map[string]any) {
	fields["time"] = j.now.Add(-age).UTC()
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	j.lines = append(j.lines, string(b))
}

func (j *journalScript) attempt(age time.Duration, agent, id string, ok bool, sinceDrop, gui, lockWait float64) {
	f := map[string]any{"event": "attempt", "id": id, "agent": agent, "gui_ms": gui, "lock_wait_ms": lockWait}
	if ok {
		f["ok"], f["since_drop_ms"] = true, sinceDrop
	} else {
		f["err"] = "deliver: focus mismatch"
	}
	j.add(age, f)
}

func (j *journalScript) event(age time.Duration, agent, id, event, why string, sinceDrop float64) {
	f := map[string]any{"event": event, "id": id, "agent": agent, "why": why}
	if sinceDrop > 0 {
		f["since_drop_ms"] = sinceDrop
	}
	j.add(age, f)
}

// scriptedJournal is the journal of TestStatusFigures: what it must give
// is worked out by hand there.
func scriptedJournal(now time.Time) *journalScript {
	j := &journalScript{now: now}
	// Two days ago: outside both windows.
	j.attempt(49*time.Hour, "Agent-1", "old", true, 9e6, 50, 9000)
	j.event(49*time.Hour, "Agent-1", "old", "failed", "no ack", 0)
	// Two hours ago: the day's only.
	j.attempt(2*time.Hour, "Agent-1", "G", true, 500, 50, 5)
	j.event(2*time.Hour, "Agent-1", "G", "failed", "no ack from Agent-1 within 5s, after 3 attempts", 0)
	// The last hour. m0..m9: submitted after (i+1)*100 ms, acked 50 ms
	// later, with lock waits of i ms; m0 and m1 retried once.
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("m%d", i)
		age := 50*time.Minute - time.Duration(i)*time.Minute
		j.attempt(age, "Agent-1", id, true, float64(i+1)*100, 50, float64(i))
		if i < 2 {
			j.event(age, "Agent-1", id, "retry", "no ack within 5s; retry in 100ms", 0)
		}
		j.event(age, "Agent-1", id, "done", "acked", float64(i+1)*100+50)
	}
	// F fails, is retried by the operator and acked: recovered.
	j.attempt(30*time.Minute, "Agent-1", "F", true, 2000, 50, 20)
	j.event(30*time.Minute, "Agent-1", "F", "failed", "no ack", 0)
	j.event(20*time.Minute, "Agent-1", "F", "done", "acked before the retry", 8000)
	// Agent-2: a focus mismatch that holds, and an attempt refused before
	// the lock (a person at the desk: no GUI phase, no lock wait).
	j.attempt(10*time.Minute, "Agent-2", "H", false, 0, 40, 30)
	j.event(10*time.Minute, "Agent-2", "H", "held", "focus mismatch 3 times in a row", 0)
	j.attempt(5*time.Minute, "Agent-2", "P", false, 0, 0, 0)
	j.add(time.Minute, map[string]any{"event": "bounced", "id": "H", "agent": "Agent-2"})
	return j
}

func (j *journalScript) write(t *testing.T, path string, cut bool) {
	t.Helper()
	text := strings.Join(j.lines, "\n") + "\n"
	if cut { // a crash in the middle of the last line
		text += `{"time":"` + j.now.UTC().Format(time.RFC3339Nano) + `","event":"do`
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		g := "nil"
		if got != nil {
			g = fmt.Sprint(*got)
		}
		t.Errorf("%s = %s, want %v", what, g, want)
	}
}

func TestStatusFigures(t *testing.T) {
	f := newFixture(t)
	f.run(nil, "status").want(t, 0) // makes the spool
	scriptedJournal(time.Now()).write(t, filepath.Join(f.spool, "journal.jsonl"), true)

	r := f.run(nil, "status", "--json").want(t, 0)
	var rows []agentStatus
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	by := map[string]map[string]windowFigures{}
	for _, row := range rows {
		by[row.Agent] = map[string]windowFigures{}
		for _, w := range row.Figures {
			by[row.Agent][w.Window] = w
		}
	}
	// Agent-1, the last hour: m0..m9 and F done (11), F failed (1).
	h := by["Agent-1"]["1h"]
	if h.Done != 11 || h.Failed != 1 || h.Held != 0 || h.Attempts != 11 || h.Submitted != 11 || h.Retries != 2 || h.Recovered != 1 {
		t.Errorf("Agent-1 1h counts: %+v", h)
	}
	near(t, "Agent-1 1h success", h.SuccessRate, 11.0/12)
	near(t, "Agent-1 1h retry rate", h.RetryRate, 2.0/11)
	near(t, "Agent-1 1h recovery", h.RecoveryRate, 1)
	// Drop→submit: 0.1 … 1.0 s and F's 2 s; p95 of 11 is the 11th.
	near(t, "Agent-1 1h delivery avg", h.DeliveryAvg, (5.5+2)/11)
	near(t, "Agent-1 1h delivery p95", h.DeliveryP95, 2)
	// Drop→ack: 0.15 … 1.05 s and F's 8 s.
	near(t, "Agent-1 1h ack avg", h.AckAvg, (6.0+8)/11)
	near(t, "Agent-1 1h ack p95", h.AckP95, 8)
	// Lock waits 0 … 9 ms and F's 20 ms.
	near(t, "Agent-1 1h lock avg", h.LockWaitAvg, (0.045+0.020)/11)
	near(t, "Agent-1 1h lock p95", h.LockWaitP95, 0.020)
	// The day adds G: an attempt and a failure, not recovered.
	d := by["Agent-1"]["24h"]
	if d.Done != 11 || d.Failed != 2 || d.Attempts != 12 || d.Submitted != 12 || d.Recovered != 1 {
		t.Errorf("Agent-1 24h counts: %+v", d)
	}
	near(t, "Agent-1 24h success", d.SuccessRate, 11.0/13)
	near(t, "Agent-1 24h recovery", d.RecoveryRate, 0.5)
	near(t, "Agent-1 24h retry rate", d.RetryRate, 2.0/12)
	// Agent-2: one held, two attempts, nothing finished.
	a2 := by["Agent-2"]["1h"]
	if a2.Held != 1 || a2.Attempts != 2 || a2.Submitted != 0 || a2.SuccessRate != nil || a2.RetryRate != nil || a2.DeliveryAvg != nil {
		t.Errorf("Agent-2 1h: %+v", a2)
	}
	near(t, "Agent-2 1h lock avg (the held attempt only)", a2.LockWaitAvg, 0.030)
	if a3 := by["Agent-3"]["24h"]; a3.Attempts != 0 || a3.SuccessRate != nil {
		t.Errorf("Agent-3: %+v", a3)
	}

	// The text: all agents together.
	r = f.run(nil, "status").want(t, 0)
	t.Logf("status:\n%s", r.stdout)
	var rowsText []string
	for _, l := range r.lines() {
		if strings.HasPrefix(l, "last ") {
			rowsText = append(rowsText, strings.Join(strings.Fields(l), " "))
		}
	}
	want := []string{
		"last hour 91.7% 11 1 1 681ms / 2.0s 1.3s / 8.0s 18.2% (2/11) 100.0% (1/1) 7ms / 30ms",
		"last day 84.6% 11 2 1 666ms / 2.0s 1.3s / 8.0s 16.7% (2/12) 50.0% (1/2) 7ms / 30ms",
	}
	if strings.Join(rowsText, "\n") != strings.Join(want, "\n") {
		t.Errorf("figures:\n%s\nwant:\n%s", strings.Join(rowsText, "\n"), strings.Join(want, "\n"))
	}

	// No journal: no figures, and no error.
	os.Remove(filepath.Join(f.spool, "journal.jsonl"))
	f.run(nil, "status").want(t, 0).contains(t, "stdout", "last hour  no deliveries").contains(t, "stdout", "last day   no deliveries")
}

// readJournal bisects to the window's start: a long journal gives the
// same events as reading it all.
func TestReadJournalSkipsToTheWindow(t *testing.T) {
	now := time.Now()
	j := &journalScript{now: now}
	for i := 0; i < 30000; i++ { // about 3 MB, three days
		j.attempt(72*time.Hour-time.Duration(i)*8*time.Second, "Agent-1", fmt.Sprintf("x%d", i), true, 100, 50, 1)
	}
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j.write(t, path, false)
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 100 * time.Hour, 0} {
		since := now.Add(-back)
		got, err := readJournal(path, since)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for i := 0; i < 30000; i++ {
			if !now.Add(-(72*time.Hour - time.Duration(i)*8*time.Second)).UTC().Before(since) {
				want++
			}
		}
		if len(got) != want {
			t.Errorf("since %v ago: %d events, want %d", back, len(got), want)
		}
		if len(got) > 0 && got[0].Time.Before(since) {
			t.Errorf("since %v ago: the first is at %v", back, got[0].Time)
		}
	}
}

// --watch on a pipe: a dated block after another until SIGINT, then exit 0.
func TestStatusWatchPlain(t *testing.T) {
	f := newFixture(t)
	cmd := exec.Command(binary, "--config", f.config, "status", "--watch=100ms")
	cmd.Dir, cmd.Env = f.dir, cleanEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	blocks := 0
	var text strings.Builder
	for blocks < 3 && sc.Scan() {
		text.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "--- ") {
			blocks++
		}
	}
	if blocks < 3 {
		t.Fatalf("%d blocks:\n%s", blocks, text.String())
	}
	if strings.Contains(text.String(), "\x1b") {
		t.Errorf("escape codes on a pipe:\n%q", text.String())
	}
	if !strings.Contains(text.String(), "daemon: not running") || !strings.Contains(text.String(), "last hour") {
		t.Errorf("a block:\n%s", text.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v", err)
	}
}

// --watch on a terminal (script(1) gives it one): redrawn in place.
func TestStatusWatchTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) not found (util-linux): %v", err)
	}
	f := newFixture(t)
	line := fmt.Sprintf("timeout --preserve-status -s INT 1 %s --config %s status --watch=200ms", binary, f.config)
	cmd := exec.Command(script, "-qec", line, "/dev/null")
	cmd.Dir, cmd.Env = f.dir, cleanEnv()
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%q", err, b)
	}
	s := string(b)
	if !strings.HasPrefix(s, "\x1b[H\x1b[2J") || strings.Count(s, "\x1b[H") < 3 || strings.Contains(s, "--- ") {
		t.Errorf("not redrawn in place:\n%q", s)
	}
	if strings.Count(s, "daemon: not running") < 2 {
		t.Errorf("blocks:\n%q", s)
	}
}
