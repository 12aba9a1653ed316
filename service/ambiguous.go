package service

import (
	"log/slog"
	"strings"
	"sync"
)

// ambiguousOnce is the callback a delivery's title matcher calls when the
// focused window's title matches several agents: one ERROR per distinct
// title in this delivery. The matcher runs on every poll of the focus
// check, so logging each call wrote hundreds of identical ERROR lines in
// the 3 s one delivery waits for the focus.
func ambiguousOnce(log *slog.Logger, agent string) func(title string, others []string) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(title string, others []string) {
		mu.Lock()
		first := !seen[title]
		seen[title] = true
		mu.Unlock()
		if first {
			log.Error("ambiguous focused window: its title matches several agents; nothing pasted",
				"agent", agent, "also", strings.Join(others, ","), "focused_title", title)
		}
	}
}
