package desktoptest

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests talk to the recorder over HTTP as a page would, without a
// desktop: the order of reports and the ack rules are the recorder's own.

func newTestRecorder(t *testing.T, pages ...*page) *recorder {
	t.Helper()
	r, err := startRecorder(t.TempDir(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	for _, p := range pages {
		dir := t.TempDir()
		p.record, p.inbox, p.events = filepath.Join(dir, "submits"), filepath.Join(dir, "inbox"), filepath.Join(dir, "events.jsonl")
		for _, sub := range []string{p.record, p.inbox} {
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		r.addPage(p)
	}
	return r
}

func postReport(t *testing.T, r *recorder, name string, ev map[string]any) {
	t.Helper()
	data, _ := json.Marshal(ev)
	resp, err := http.Post("http://"+r.ln.Addr().String()+"/report?name="+name, "application/json", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %v: %s", ev, resp.Status)
	}
}

func TestRecorderOrderAndAcks(t *testing.T) {
	p := &page{name: "Agent-1", kind: KindTextarea, neverAckFirst: true, ackDelay: 10 * time.Millisecond}
	r := newTestRecorder(t, p)
	first := "[agentspool id=first from=x to=Agent-1]\nbody"
	second := "[agentspool id=a1 from=x to=Agent-1]\nsee also [agentspool id=a2 from=y] and [agentspool id=nospace]"
	// Out of order, and one repeated (a page retrying a POST whose answer
	// it lost): the submits must come out in the page's order, once each.
	postReport(t, r, p.name, map[string]any{"seq": 3, "type": "submit", "submit": 2, "text": second})
	postReport(t, r, p.name, map[string]any{"seq": 2, "type": "submit", "submit": 1, "text": first})
	if _, err := os.Stat(filepath.Join(p.record, "000001.txt")); !os.IsNotExist(err) {
		t.Fatalf("a submit was written before the event ahead of it came (%v)", err)
	}
	postReport(t, r, p.name, map[string]any{"seq": 1, "type": "mousedown", "detail": 1})
	postReport(t, r, p.name, map[string]any{"seq": 2, "type": "submit", "submit": 1, "text": "repeated"})
	postReport(t, r, p.name, map[string]any{"seq": 4, "type": "submit", "submit": 3, "text": ""})
	for n, want := range map[string]string{"000001.txt": first, "000002.txt": second, "000003.txt": ""} {
		data, err := os.ReadFile(filepath.Join(p.record, n))
		if err != nil || string(data) != want {
			t.Errorf("%s = %q (%v), want %q", n, data, err, want)
		}
	}
	waitFile(t, filepath.Join(p.inbox, "a1.ack"))
	waitFile(t, filepath.Join(p.inbox, "a2.ack"))
	data, _ := os.ReadFile(filepath.Join(p.inbox, "a1.ack"))
	if string(data) != "a1\n" {
		t.Errorf("a1.ack = %q, want %q", data, "a1\n")
	}
	time.Sleep(50 * time.Millisecond)
	entries, _ := os.ReadDir(p.inbox)
	if len(entries) != 2 {
		t.Errorf("inbox has %d files, want a1.ack and a2.ack only (first is never acked, nospace is no envelope)", len(entries))
	}

	// events.jsonl has every event once, in order, with the receive time.
	f, err := os.ReadFile(p.events)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(f)), "\n")
	if len(lines) != 4 {
		t.Fatalf("events.jsonl has %d lines, want 4:\n%s", len(lines), f)
	}
	for i, line := range lines {
		var ev WindowEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Seq != i+1 || ev.Received.IsZero() {
			t.Errorf("line %d: %s (%v)", i+1, line, err)
		}
	}
}

func TestStats(t *testing.T) {
	evs := []WindowEvent{
		{Type: "mousedown", Detail: 1},
		{Type: "mousedown", Detail: 2},
		{Type: "paste", Data: "a"},
		{Type: "input", Landed: true},
		{Type: "submit", Text: "a"},
		{Type: "paste", Data: "b"}, // Enter overtook it: nothing inserted
		{Type: "submit", Text: ""},
		{Type: "paste", Data: "c"}, // a second paste before this one landed
		{Type: "paste", Data: ""},  // the clipboard was empty
		{Type: "submit", Text: ""},
		{Type: "paste", Data: "d"}, // still open: not counted either way
	}
	got := statsOf(KindMonaco, evs)
	want := WindowStats{Kind: KindMonaco, Events: len(evs), Submits: 3, EmptySubmits: 2, MouseDowns: 2, MultiClicks: 1,
		Pastes: 5, EmptyPastes: 1, PastesInsertedNothing: 2}
	if got != want {
		t.Errorf("statsOf = %+v\nwant %+v", got, want)
	}
}

func TestChromiumNeedsWebFiles(t *testing.T) {
	web := t.TempDir()
	_, err := Start(Options{Dir: t.TempDir(), Agents: 1, Kinds: []string{KindMonaco}, WebDir: web})
	if err == nil || !strings.Contains(err.Error(), "scripts/deps.sh desktop") {
		t.Fatalf("Start without npm files: %v, want an error naming scripts/deps.sh desktop", err)
	}
	if _, err := Start(Options{Dir: t.TempDir(), Agents: 1, Kinds: []string{"vim"}}); err == nil {
		t.Fatal("Start with an unknown kind succeeded")
	}
}
