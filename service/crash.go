package service

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// CrashAfterEnv names the environment variable of the crash tests: set to
// STEP:N, the daemon kills itself (a SIGKILL of its own: no clean-up, no
// last word) the N-th time the GUI step STEP ends, inside the GUI phase
// with the desktop lock held. The proof sets it to show every message
// delivered exactly once across a crash after each step (the click, the
// clipboard offer, the paste key, the submit key). Not for production.
const CrashAfterEnv = "AGENTSPOOL_CRASH_AFTER"

// crashAfter parses a CrashAfterEnv value into a deliver.Deliverer's
// AfterStep; "" is none.
func crashAfter(v string) (func(step string), error) {
	if v == "" {
		return nil, nil
	}
	step, count, ok := strings.Cut(v, ":")
	n, err := strconv.Atoi(count)
	if !ok || step == "" || err != nil || n < 1 {
		return nil, fmt.Errorf("service: %s=%q, want STEP:N (a GUI step's name, N ≥ 1)", CrashAfterEnv, v)
	}
	var mu sync.Mutex
	seen := 0
	return func(s string) {
		if s != step {
			return
		}
		mu.Lock()
		seen++
		last := seen == n
		mu.Unlock()
		if !last {
			return
		}
		fmt.Fprintf(os.Stderr, "agentspool: %s: killing this process after the GUI step %q (%d)\n", CrashAfterEnv, step, n)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Kill()
		}
		select {} // the kill is on its way
	}, nil
}
