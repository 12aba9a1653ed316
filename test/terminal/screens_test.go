//go:build unix

package terminal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// screenLog records each CLI pane's screen as it changes (looked at every
// screenEvery), so that a message that went wrong can be shown with the
// screen its CLI had just before: at work or not, what its input held.
// Each change is also appended to <dir>/<agent>.screens for a kept work
// dir (AGENTSPOOL_TERMINAL_KEEP).
type screenLog struct {
	mu    sync.Mutex
	shots map[string][]screenShot
	stop  chan struct{}
	done  sync.WaitGroup
}

type screenShot struct {
	at   time.Time
	text string
}

// screenEvery is how often the recorder looks: often enough to catch a
// CLI's turn beginning (its spinner), seldom enough not to load the desk.
const screenEvery = 250 * time.Millisecond

// maxShots bounds each agent's record in memory (the oldest go first).
const maxShots = 4000

// recordScreens starts recording the rig's CLI panes (as tmux shows
// them) until the test ends.
func (r *rig) recordScreens() {
	s := &screenLog{shots: map[string][]screenShot{}, stop: make(chan struct{})}
	r.screens = s
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		files := map[string]*os.File{}
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(screenEvery):
			}
			for name, a := range r.agents {
				text, err := a.PaneScreen()
				if err != nil {
					continue
				}
				now := time.Now()
				s.mu.Lock()
				shots := s.shots[name]
				changed := len(shots) == 0 || shots[len(shots)-1].text != text
				if changed {
					if len(shots) >= maxShots {
						shots = shots[1:]
					}
					s.shots[name] = append(shots, screenShot{at: now, text: text})
				}
				s.mu.Unlock()
				if !changed {
					continue
				}
				f := files[name]
				if f == nil {
					f, _ = os.Create(filepath.Join(r.dir, name+".screens"))
					files[name] = f
				}
				if f != nil {
					fmt.Fprintf(f, "=== %s\n%s\n", now.UTC().Format("15:04:05.000"), text)
				}
			}
		}
	}()
	r.t.Cleanup(func() { close(s.stop); s.done.Wait() })
}

// before is the bottom of agent's last screen seen at or before t (its
// last n lines that are not blank), and when it was seen.
func (s *screenLog) before(agent string, t time.Time, n int) (time.Time, string, bool) {
	if s == nil {
		return time.Time{}, "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	shots := s.shots[agent]
	for i := len(shots) - 1; i >= 0; i-- {
		if shots[i].at.After(t) {
			continue
		}
		var lines []string
		for _, l := range strings.Split(shots[i].text, "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, strings.TrimRight(l, " "))
			}
		}
		return shots[i].at, strings.Join(lines[max(0, len(lines)-n):], "\n"), true
	}
	return time.Time{}, "", false
}
