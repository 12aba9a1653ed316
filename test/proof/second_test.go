package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/deliver"
)

// The second delivering process: the test binary run again with
// AGENTSPOOL_PROOF_ROLE=second. It drives the same desktop as the daemon,
// through deliver.Deliverer and the real X11 desktop, under the same
// desktop lock file, and types its own messages (envelope "[second id=…")
// into the agent windows. It is what another tool on the person's desktop
// would be, and it proves the lock keeps two deliverers from typing into
// each other.

// secondPlan is what the test hands the second deliverer (a JSON file).
type secondPlan struct {
	Lock     string         `json:"lock"`
	Out      string         `json:"out"` // one secondEvent per line
	Messages []secondMsg    `json:"messages"`
	Targets  []secondTarget `json:"targets"`
	Seed     uint64         `json:"seed"`
}

type secondMsg struct {
	ID    string `json:"id"`
	Agent string `json:"agent"`
	Text  string `json:"text"`
}

type secondTarget struct {
	Agent string `json:"agent"`
	X     int    `json:"x"`
	Y     int    `json:"y"`
	PID   int    `json:"pid"`
	// SelectAll: the input's select-all key, for reading what a disturbed
	// paste left (Tk: ctrl+slash; Chromium: ctrl+a).
	SelectAll []string `json:"select_all"`
}

// secondEvent is one line of the second deliverer's output.
type secondEvent struct {
	ID        string  `json:"id"`
	Agent     string  `json:"agent"`
	OK        bool    `json:"ok"`
	Err       string  `json:"err,omitempty"`
	Pasted    bool    `json:"pasted,omitempty"`
	Submitted bool    `json:"submitted,omitempty"`
	Undone    bool    `json:"undone,omitempty"`
	LockWait  float64 `json:"lock_wait_ms"`
	GUI       float64 `json:"gui_ms"`
}

// secondText is what the second deliverer types for one message.
func secondText(id, agent, body string) string {
	return fmt.Sprintf("[second id=%s to=%s]\n%s", id, agent, body)
}

// runSecond is the second deliverer's main. It delivers every message of
// the plan (retrying failed attempts), writes one event per attempt, then
// waits for its stdin to close before it exits: the clipboard it restored
// for the person is served by this process, and the test reads it first.
func runSecond() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "second:", err)
		return 1
	}
	data, err := os.ReadFile(os.Getenv("AGENTSPOOL_PROOF_PLAN"))
	if err != nil {
		return fail(err)
	}
	var plan secondPlan
	if err := json.Unmarshal(data, &plan); err != nil {
		return fail(err)
	}
	out, err := os.OpenFile(plan.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail(err)
	}
	defer out.Close()
	desk, err := deliver.NewX11()
	if err != nil {
		return fail(err)
	}
	defer desk.Close()
	lock, err := deliver.NewDesktopLock(plan.Lock)
	if err != nil {
		return fail(err)
	}
	dl := &deliver.Deliverer{Desktop: desk, Lock: lock, Timings: deliver.NewTimings(5*time.Millisecond, 5*time.Second),
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	targets := map[string]deliver.Target{}
	for _, t := range plan.Targets {
		name := t.Agent
		targets[name] = deliver.Target{
			Agent: name, X: t.X, Y: t.Y, PID: t.PID, Window: fmt.Sprintf("%q", name),
			Match:  func(title string) bool { return title == name },
			Submit: []string{"enter"}, Undo: []string{"ctrl", "z"},
			Read: &deliver.DraftKeys{SelectAll: t.SelectAll, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}},
			// As a daemon with the default settings does: without the
			// verifying look nothing on the X side shows a Lexical
			// paste that inserted nothing (CI, 15:06: a focus steal
			// between the click and the ctrl+v, the paste event with
			// the text, no insert, and Enter submitted an empty input).
			Verify: config.DefaultAgentSettings.VerifyPaste,
		}
	}
	rng := rand.New(rand.NewPCG(plan.Seed, 2))
	ctx := context.Background()
	for _, m := range plan.Messages {
		t := targets[m.Agent]
		for try := 1; ; try++ {
			time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
			rep, err := dl.Deliver(ctx, t, m.Text)
			ev := secondEvent{ID: m.ID, Agent: m.Agent, OK: err == nil, Pasted: rep.Pasted, Submitted: rep.Submitted,
				Undone: rep.Undone, LockWait: ms(rep.LockWait), GUI: ms(rep.GUI)}
			if err != nil {
				ev.Err = err.Error()
			}
			b, _ := json.Marshal(ev)
			out.Write(append(b, '\n'))
			if err == nil {
				break
			}
			if rep.Pasted && !rep.Submitted {
				// Text may be left in the input: take it back before the
				// next try, as the daemon would after a crash.
				_ = dl.Undo(ctx, t)
			}
			if try >= 30 {
				return fail(fmt.Errorf("%s: gave up after %d attempts: %v", m.ID, try, err))
			}
		}
	}
	out.WriteString(`{"id":"END","ok":true}` + "\n")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// secondBody is a recognisable body for second-deliverer message n.
func secondBody(n int, agent string) string {
	return fmt.Sprintf("second deliverer #%d for %s — ünïcödé ✓\nit shares the desktop lock", n, strings.ToLower(agent))
}
