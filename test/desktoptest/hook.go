package desktoptest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// HookCall is one call of a window's beforeSubmitPrompt hook
// (FixtureOptions.Hooks), as the window made it.
type HookCall struct {
	Seq     int    // 1, 2, ...: the order of the calls
	Payload []byte // the JSON the hook got on stdin
	Exit    int    // its exit code (-1: it could not be run or was killed)
	Stdout  string // its answer
	Stderr  string
	// Continue: the hook let the prompt go (exit 0 and {"continue":
	// true}), so the window submitted it.
	Continue bool
	// Path is the call's record without its extension
	// (<HookRecord>/NNNNNN): .json, .err, .out.
	Path string
}

// HookCalls returns the finished hook calls of a window with a hook, oldest
// first. A call still running is not in it.
func (d *Desktop) HookCalls(agent string) ([]HookCall, error) {
	w, err := d.window(agent)
	if err != nil {
		return nil, err
	}
	if w.HookRecord == "" {
		return nil, fmt.Errorf("desktoptest: %s has no hook (FixtureOptions.Hooks)", agent)
	}
	entries, err := os.ReadDir(w.HookRecord)
	if err != nil {
		return nil, fmt.Errorf("desktoptest: %w", err)
	}
	var seqs []int
	for _, e := range entries {
		// .out is written last, by rename: the call is over.
		n, ok := strings.CutSuffix(e.Name(), ".out")
		if !ok || strings.HasPrefix(n, ".") {
			continue
		}
		if seq, err := strconv.Atoi(n); err == nil {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	calls := make([]HookCall, 0, len(seqs))
	for _, seq := range seqs {
		base := filepath.Join(w.HookRecord, fmt.Sprintf("%06d", seq))
		c := HookCall{Seq: seq, Path: base, Exit: -1}
		out, err := os.ReadFile(base + ".out")
		if err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
		if c.Payload, err = os.ReadFile(base + ".json"); err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
		errb, _ := os.ReadFile(base + ".err")
		c.Stderr = string(errb)
		// "exit=N\ncontinue=0|1\n" then the hook's stdout.
		exitLine, rest, _ := strings.Cut(string(out), "\n")
		contLine, stdout, _ := strings.Cut(rest, "\n")
		if n, err := strconv.Atoi(strings.TrimPrefix(exitLine, "exit=")); err == nil {
			c.Exit = n
		}
		c.Continue = contLine == "continue=1"
		c.Stdout = stdout
		calls = append(calls, c)
	}
	return calls, nil
}
