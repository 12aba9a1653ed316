package service

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

// An attempt's line says what the delivery found out of the ordinary,
// each under its own key: the journal is where a person reads why a
// message took the path it did (a submit whose key went while the focus
// moved, a focus left where someone else put it, a paste taken back from a
// draft, an undo, an earlier paste erased, a paste left and submitted)
// and the steps it went through.
func TestJournalAttemptSaysWhatTheDeliveryFound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	e := spool.Entry{ID: "m1", Agent: "Agent-1", Name: "m1.md"}
	j.Attempt(e, deliver.Report{SubmitUncertain: true, FocusMovedByOthers: true, Merged: true, QuickLooks: 2, Undone: true, Erased: true, Landing: "left",
		Program: deliver.Program{Terminal: "xterm", CLI: deliver.CLIGemini}, KeptOn: true,
		Steps: []any{"quiet", 3 * time.Millisecond, "pasted", 1500400 * time.Microsecond}}, nil)
	j.Attempt(e, deliver.Report{}, nil)
	j.f.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	want := map[string]any{"submit_uncertain": true, "focus_left": true, "paste_merged": true, "quick_looks": 2.0, "undone": true, "erased": true, "landing": "left",
		"terminal": "xterm", "cli": "gemini", "kept_on": true, "steps": "quiet 3ms, pasted 1.5s"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("%s = %v, want %v", k, lines[0][k], v)
		}
		if _, ok := lines[1][k]; ok {
			t.Errorf("%s written for an attempt that found nothing of it", k)
		}
	}
}
