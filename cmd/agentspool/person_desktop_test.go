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

	"github.com/agentspool/agentspool/internal/desktoptest"
	"github.com/agentspool/agentspool/spool"
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
	type burst struct{ start, end time.Time }
	var bursts []burst
	for i := 0; i < len(words); i += 3 {
		chunk := strings.Join(words[i:min(i+3, len(words))], " ") + " "
		sentence.WriteString(chunk)
		first, last, err := typist.Type(chunk, 40*time.Millisecond, 80*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		bursts = append(bursts, burst{first, last})
		time.Sleep(900 * time.Millisecond) // the person thinks
	}
	if _, _, err := typist.Type("\n", 0, 0); err != nil { // submit their own text, in their editor
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

	// Successful GUI phases never overlap a burst of typing.
	attempts := journalAttempts(t, r.spool)
	var waits []time.Duration
	overlaps, stopped := 0, 0
	for _, a := range attempts {
		if !a.OK {
			if strings.Contains(a.Err, "person") {
				stopped++
			}
			continue
		}
		// A delivery may start only when the person has been idle for
		// quiet_for: not during a burst, nor within quiet_for after it.
		// One that started in a quiet moment may still see the next burst
		// begin; the keys typed then are held back and replayed. The 5 ms
		// allow for that and for the idle time's blind spot: input within
		// 1.5 ms after our own passes for ours (deliver.ownSlack).
		end := a.Time
		start := end.Add(-time.Duration(a.GUI * float64(time.Millisecond)))
		for i, b := range bursts {
			if start.After(b.start.Add(5*time.Millisecond)) && start.Before(b.end.Add(quietFor)) {
				overlaps++
				t.Logf("delivery %s started at %s, %v into burst %d (%s..%s)", a.ID, start.Format("15:04:05.000"),
					start.Sub(b.start), i, b.start.Format("15:04:05.000"), b.end.Format("15:04:05.000"))
			}
		}
	}
	// Known blind spot (see deliver.ownSlack): the idle time shows only
	// the latest input, so a keystroke followed by our own injected input
	// before the next quiet check is invisible to it. Such a delivery is
	// still safe (keys typed during it are held back and replayed, checked
	// above), but it started in a burst. Seen at most once in a few runs;
	// more means the quiet check is broken.
	t.Logf("%d of %d successful deliveries started within a burst of typing", overlaps, len(attempts)-stopped)
	if overlaps > 2 {
		t.Errorf("%d deliveries started while the person was typing", overlaps)
	}
	if n := len(doneEntries(t, r.spool)); n != 200 {
		t.Errorf("%d in done/", n)
	}
	waits = sendToDone(t, r.spool)
	slices.Sort(waits)
	t.Logf("person typed %d bursts; %d attempts stopped for the person; send→done wait p50 %v, p95 %v, max %v",
		len(bursts), stopped, waits[len(waits)/2], waits[len(waits)*95/100], waits[len(waits)-1])
}

// The draft in an agent's input is left alone and the message is held.
func TestRunLeavesADraftAlone(t *testing.T) {
	r := newDesktopRig(t, 2, desktoptest.FixtureOptions{})
	// The Tk input's select-all is ctrl+/ and its end-of-text ctrl+End.
	appendConfig(t, r.config, "quiet_for: 0s\n")
	setAgentKeys(t, r.config, "Agent-1", "    draft_check: true\n    select_all: ctrl+slash\n    copy: ctrl+c\n    caret: ctrl+end\n    max_attempts: 2\n    backoff: 100ms\n")
	a := r.desk.Agents[0]
	xdo := r.xdo
	xdo("mousemove", fmt.Sprint(a.X), fmt.Sprint(a.Y), "click", "1")
	xdo("type", "--delay", "20", "DRAFT-not-sent")
	const userClip = "person clipboard"
	if err := r.desk.SetClipboard(userClip); err != nil {
		t.Fatal(err)
	}
	out, _, code := r.cli("send", "--to", "Agent-1", "-m", "for the agent")
	if code != 0 {
		t.Fatal("send failed")
	}
	id := strings.TrimSpace(out)
	r.start()
	deadline := time.Now().Add(60 * time.Second)
	for r.count(spool.StateHold) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not held within 60s\n%s", tailString(r.logText(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	show, _, _ := r.cli("show", id)
	if !strings.Contains(show, "input not empty") {
		t.Errorf("show %s does not give the reason:\n%s", id, show)
	}
	if got, _ := r.desk.Clipboard(); got != userClip {
		t.Errorf("clipboard %q, want %q", got, userClip)
	}
	// Submit what the input holds now: exactly the untouched draft.
	xdo("mousemove", fmt.Sprint(a.X), fmt.Sprint(a.Y), "click", "1", "key", "Return")
	deadline = time.Now().Add(10 * time.Second)
	for {
		subs, _ := r.desk.Submits("Agent-1")
		if len(subs) > 0 {
			if len(subs) != 1 || subs[0] != "DRAFT-not-sent" {
				t.Fatalf("Agent-1's input held %q, want the untouched draft", subs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the draft was never submitted by the person")
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
