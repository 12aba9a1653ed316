package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// A person types into their editor, in bursts with pauses, while 200
// messages are delivered: their sentence ends up whole in their window and
// nowhere else, every message arrives once at its agent, deliveries happen
// in the quiet gaps, and the focus and pointer are theirs at the end.
func TestRunRespectsThePersonAtTheDesk(t *testing.T) {
	r := newDesktopRig(t, 4, desktoptest.FixtureOptions{})
	const quietFor = 300 * time.Millisecond
	appendConfig(t, r.config, fmt.Sprintf("quiet_for: %v\nquiet_max_wait: 1m\n", quietFor))
	editor, err := r.desk.StartEditor("Editor")
	if err != nil {
		t.Fatal(err)
	}
	xdo := r.xdo
	xdo("mousemove", fmt.Sprint(editor.X), fmt.Sprint(editor.Y), "click", "1")

	sent, agentOf := map[string]string{}, map[string]string{}
	r.sendMany(200, sent, agentOf)
	r.start()

	// The person: plain letters typed 40–120 ms apart, in bursts with
	// pauses long enough for the daemon, through XTEST like a keyboard.
	typist, err := r.desk.Typist()
	if err != nil {
		t.Fatal(err)
	}
	defer typist.Close()
	words := strings.Fields("the quick brown fox jumps over the lazy dog while agents chat Quietly about Nothing at all")
	var sentence strings.Builder
	var keys []desktoptest.Keystroke
	bursts := 0
	for i := 0; i < len(words); i += 3 {
		chunk := strings.Join(words[i:min(i+3, len(words))], " ") + " "
		sentence.WriteString(chunk)
		typed, err := typist.Type(chunk, 40*time.Millisecond, 80*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, typed...)
		bursts++
		time.Sleep(900 * time.Millisecond) // the person thinks
	}
	if _, err := typist.Type("\n", 0, 0); err != nil { // submit their own text, in their editor
		t.Fatal(err)
	}
	t.Logf("the person pressed Return at %s", time.Now().Format("15:04:05.000"))

	r.waitDone(200, 3*time.Minute)
	if os.Getenv("PERSON_DEBUG") != "" {
		j, _ := os.ReadFile(filepath.Join(r.spool, "journal.jsonl"))
		os.WriteFile("/tmp/person-journal.jsonl", j, 0o644)
	}
	r.checkDelivered(sent, agentOf)

	subs, err := r.desk.Submits("Editor")
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0] != sentence.String() {
		t.Fatalf("the person's editor submitted %q, want exactly %q", subs, sentence.String())
	}
	// Focus and pointer are the person's.
	if id, err := r.desk.ActiveWindow(); err != nil || id != editor.WindowID {
		t.Errorf("active window 0x%x (%v), want the editor 0x%x", id, err, editor.WindowID)
	}
	cmd := exec.Command("xdotool", "getmouselocation", "--shell")
	cmd.Env = r.desk.Env()
	out, _ := cmd.Output()
	if !strings.Contains(string(out), fmt.Sprintf("X=%d\n", editor.X)) || !strings.Contains(string(out), fmt.Sprintf("Y=%d\n", editor.Y)) {
		t.Errorf("pointer at %q, want the person's (%d,%d)", out, editor.X, editor.Y)
	}

	// Every attempt began in a quiet gap: its quiet check saw no key of
	// the person's within quiet_for before it. A key counts against a check
	// only when it certainly came before it (the server had it before the
	// check began) and certainly within quiet_for of its decision: no
	// allowance for timing is needed, and none is made.
	attempts := journalAttempts(t, r.spool)
	var waits []time.Duration
	checked, stopped, early, kept := 0, 0, 0, 0
	for _, a := range attempts {
		if !a.OK && strings.Contains(a.Err, "person") {
			stopped++
		}
		kept += a.Kept
		if a.CheckFrom == nil {
			continue
		}
		checked++
		for _, k := range keys {
			if k.Done.Before(*a.CheckFrom) && k.Sent.After(a.CheckTo.Add(-quietFor)) {
				early++
				t.Errorf("attempt %s (ok %v) began at %s, %v after the person's key at %s",
					a.ID, a.OK, a.CheckTo.Format("15:04:05.000"), a.CheckTo.Sub(k.Sent), k.Sent.Format("15:04:05.000"))
				break
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d attempts carry their quiet check in the journal", checked)
	}
	t.Logf("%d attempts began, %d of them within quiet_for (%v) of the person's typing; %d stopped for the person; %d of the person's key events held back and replayed",
		checked, early, quietFor, stopped, kept)
	if n := len(doneEntries(t, r.spool)); n != 200 {
		t.Errorf("%d in done/", n)
	}
	waits = sendToDone(t, r.spool)
	slices.Sort(waits)
	t.Logf("person typed %d keys in %d bursts; send→done wait p50 %v, p95 %v, max %v",
		len(keys), bursts, waits[len(waits)/2], waits[len(waits)*95/100], waits[len(waits)-1])
}

// The draft in an agent's input is left alone (the draft check is on by
// default): nothing is pasted into it or submitted with it, the person's
// clipboard stays theirs, the message is not parked (a draft is not an
// attempt) and goes once the person has sent their draft themselves.
func TestRunLeavesADraftAlone(t *testing.T) {
	r := newDesktopRig(t, 2, desktoptest.FixtureOptions{})
	// The Tk input's select-all is ctrl+/ (desktoptest's coords.yaml sets it) and its end-of-text ctrl+End.
	appendConfig(t, r.config, "quiet_for: 0s\n")
	setAgentKeys(t, r.config, "Agent-1", "    caret: ctrl+end\n    max_attempts: 2\n    backoff: 100ms\n")
	a := r.desk.Agents[0]
	xdo := r.xdo
	xdo("mousemove", fmt.Sprint(a.X), fmt.Sprint(a.Y), "click", "1")
	xdo("type", "--delay", "20", "DRAFT-not-sent")
	const userClip = "person clipboard"
	if err := r.desk.SetClipboard(userClip); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := r.cli("send", "--to", "Agent-1", "-m", "for the agent")
	if code != 0 {
		t.Fatalf("send failed: %s", errOut)
	}
	id := strings.TrimSpace(out)
	r.start()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(r.logText(), "input not empty") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the draft was not looked at 3 times within 60s\n%s", tailString(r.logText(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := r.count(spool.StateHold) + r.count(spool.StateFailed); n != 0 {
		t.Fatalf("%d messages parked or failed for a draft", n)
	}
	if subs, _ := r.desk.Submits("Agent-1"); len(subs) != 0 {
		t.Fatalf("Agent-1 submitted %q while its input held a draft", subs)
	}
	if got, _ := r.desk.Clipboard(); got != userClip {
		t.Errorf("clipboard %q, want %q", got, userClip)
	}
	// The person submits what the input holds: exactly the untouched
	// draft. Then the message goes, alone.
	xdo("mousemove", fmt.Sprint(a.X), fmt.Sprint(a.Y), "click", "1", "key", "Return")
	r.waitDone(1, 60*time.Second)
	deadline = time.Now().Add(10 * time.Second)
	for {
		subs, _ := r.desk.Submits("Agent-1")
		if len(subs) == 2 {
			if subs[0] != "DRAFT-not-sent" || !strings.Contains(subs[1], "id="+id) || !strings.HasSuffix(subs[1], "\nfor the agent") {
				t.Fatalf("Agent-1's submits %q, want the untouched draft, then the message alone", subs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Agent-1's submits %q, want the draft and the message", subs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func appendConfig(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// setAgentKeys adds indented lines under an agent in a config written by
// desktoptest (each agent is a block "  NAME:" of "    key: value" lines).
func setAgentKeys(t *testing.T, path, agent, lines string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := "  " + agent + ":\n"
	i := strings.Index(string(data), marker)
	if i < 0 {
		t.Fatalf("no agent %s in %s", agent, path)
	}
	out := string(data[:i+len(marker)]) + lines + string(data[i+len(marker):])
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

type attemptLine struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	ID    string    `json:"id"`
	OK    bool      `json:"ok"`
	Err   string    `json:"err"`
	GUI   float64   `json:"gui_ms"`
	Kept  int       `json:"kept_keys"`
	// The quiet check that let the attempt go.
	CheckFrom *time.Time `json:"check_from"`
	CheckTo   *time.Time `json:"check_to"`
}

func journalAttempts(t *testing.T, spoolDir string) []attemptLine {
	t.Helper()
	f, err := os.Open(filepath.Join(spoolDir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []attemptLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l attemptLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Event == "attempt" {
			out = append(out, l)
		}
	}
	return out
}

func doneEntries(t *testing.T, spoolDir string) []spool.Entry {
	sp, err := spool.Open(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	es, err := sp.Scan(spool.StateDone, "")
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// sendToDone is, per done message, the time from its queueing (the send) to
// the journal's done line.
func sendToDone(t *testing.T, spoolDir string) []time.Duration {
	t.Helper()
	f, err := os.Open(filepath.Join(spoolDir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l attemptLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Event == "done" {
			// Ids are spool.NewID: <UTC time>-<hex>, the time of the send.
			if sentAt, err := time.Parse("20060102T150405", strings.SplitN(l.ID, "-", 2)[0]); err == nil {
				out = append(out, l.Time.Sub(sentAt))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no done lines in the journal")
	}
	return out
}
