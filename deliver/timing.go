package deliver

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/agentspool/agentspool/internal/safeio"
)

// Steps whose latencies are learned.
const (
	StepFocus    = "focus"    // click → the agent's window has focus
	StepReadback = "readback" // offer → the CLIPBOARD reads back as the message
	// StepFetch is ctrl+v → the agent's client's last request of the
	// paste (the end of its burst of reads, not its first byte).
	StepFetch = "fetch"
	// StepReadGap is the time between two requests of one paste's burst:
	// the quiet that ends a burst is learned from it.
	StepReadGap = "read_gap"
	// StepCopy is select-all + copy → the window took the CLIPBOARD (a
	// look at what the input holds); an empty input copies nothing, so a
	// look at one waits the whole deadline.
	StepCopy = "copy"
	// StepSelect is select-all → the agent's window took PRIMARY (a look
	// into a non-empty input, on X11): how soon a select-all shows, and so
	// how long a draft check waits before it takes "nothing selected" for
	// an empty input (see Prompt).
	StepSelect = "select"
)

// PrimaryCount, with the agent's name after it, counts for each look that
// copied whether the agent's window took PRIMARY on its select-all (2) or
// not (1): only a window that always does can have its empty input told
// by the absence of it (see Deliverer.quickEmpty).
const PrimaryCount = "primary:"

// timingsVersion 2: StepFetch ends at a paste's last read (version 1 had
// the first, 1–2 ms after ctrl+v on Chromium, which made every wait
// learned from it too short); version 1's fetch samples are dropped, its
// others kept.
const timingsVersion = 2

const (
	keepSamples = 128
	// pollFloor keeps a poll deadline from shrinking to a few milliseconds on
	// a fast desktop: a poll returns as soon as its condition holds, so a
	// generous deadline costs nothing when things work, and a too-tight one
	// turns a single hiccup into a retry.
	pollFloor = 250 * time.Millisecond
	// settleStart is the settle wait before anything was measured.
	settleStart = 50 * time.Millisecond
	// focusStart is the focus deadline before any focus was measured: a
	// window manager answers a click in tens of milliseconds, and the
	// keyboard is grabbed meanwhile. (With Max, a wrong point in coords.yaml
	// on a fresh install grabbed it 3 × 5 s per attempt.) The other steps
	// start at Max: a fetch given up too soon is an undo and a retry.
	focusStart = time.Second
	// quietFloor is the least quiet after a paste's last request that
	// ends its burst. Chromium's requests come 0.3–5 ms apart on an idle
	// desk (tens of ms on a loaded one: learned); an ended wait is paid
	// once per delivery, a cut one costs an empty submit.
	quietFloor = 25 * time.Millisecond
	// promptFloor is the least time Prompt allows a window to show a
	// select-all: Chromium takes PRIMARY 1–5 ms after the key on an idle
	// desk.
	promptFloor = 30 * time.Millisecond
)

// Timings learns how long the desktop takes for each step and turns that into
// deadlines: a poll waits up to p95×4 (at least 250 ms), a settle waits
// p95×1.5, both clamped to [Min, Max]; before the first measurement a poll
// waits Max (the focus poll 1 s). A desktop that gets slower makes the waits
// grow; none is a fixed sleep. Safe for concurrent use.
type Timings struct {
	Min, Max time.Duration

	mu      sync.Mutex
	samples map[string][]time.Duration
	counts  map[string][]int
	path    string
}

// NewTimings returns Timings with no history, bounded by min and max.
func NewTimings(min, max time.Duration) *Timings {
	if min <= 0 {
		min = time.Millisecond
	}
	if max < min {
		max = min
	}
	return &Timings{Min: min, Max: max, samples: map[string][]time.Duration{}, counts: map[string][]int{}}
}

type timingsFile struct {
	Version int                `json:"version"`
	Samples map[string][]int64 `json:"samples_ns"`
	Counts  map[string][]int   `json:"counts,omitempty"`
}

// LoadTimings returns Timings remembered in path (written by Save). A missing
// file is a fresh start; a corrupt one is reported and also a fresh start, so
// the returned Timings is always usable.
func LoadTimings(path string, min, max time.Duration) (*Timings, error) {
	t := NewTimings(min, max)
	t.path = path
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("deliver: timings: %w", err)
	}
	var f timingsFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version < 1 || f.Version > timingsVersion {
		if err == nil {
			err = fmt.Errorf("version %d", f.Version)
		}
		return t, fmt.Errorf("deliver: timings %s unreadable, starting fresh: %v", path, err)
	}
	if f.Version == 1 {
		delete(f.Samples, StepFetch) // measured to the first read: not what ends a paste
	}
	for step, ns := range f.Samples {
		for _, v := range ns {
			if v > 0 {
				t.observeLocked(step, time.Duration(v))
			}
		}
	}
	for key, ns := range f.Counts {
		for _, n := range ns {
			if n > 0 {
				t.countLocked(key, n)
			}
		}
	}
	return t, nil
}

// keepCounts is how many counts of one key are kept.
const keepCounts = 32

// ObserveCount records one count of key: how many requests one paste into
// an agent's window made (see PasteCount).
func (t *Timings) ObserveCount(key string, n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.countLocked(key, n)
}

func (t *Timings) countLocked(key string, n int) {
	s := append(t.counts[key], n)
	if len(s) > keepCounts {
		s = s[len(s)-keepCounts:]
	}
	t.counts[key] = s
}

// TypicalCount is the median of key's recent counts, false before any.
func (t *Timings) TypicalCount(key string) (int, bool) {
	t.mu.Lock()
	s := slices.Clone(t.counts[key])
	t.mu.Unlock()
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	return s[len(s)/2], true
}

// Observe records one measured latency of step.
func (t *Timings) Observe(step string, d time.Duration) {
	if d <= 0 {
		d = time.Microsecond
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observeLocked(step, d)
}

func (t *Timings) observeLocked(step string, d time.Duration) {
	s := append(t.samples[step], d)
	if len(s) > keepSamples {
		s = s[len(s)-keepSamples:]
	}
	t.samples[step] = s
}

// Quantile returns the q-quantile (0..1) of step's recent latencies, and
// false when none was measured yet.
func (t *Timings) Quantile(step string, q float64) (time.Duration, bool) {
	t.mu.Lock()
	s := slices.Clone(t.samples[step])
	t.mu.Unlock()
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	i := int(q*float64(len(s)-1) + 0.5)
	return s[min(max(i, 0), len(s)-1)], true
}

func (t *Timings) clamp(d, lo time.Duration) time.Duration {
	return min(max(d, lo, t.Min), t.Max)
}

// Deadline is how long to poll for step's condition before giving up.
func (t *Timings) Deadline(step string) time.Duration {
	p, ok := t.Quantile(step, 0.95)
	if !ok {
		if step == StepFocus || step == StepCopy {
			return t.clamp(focusStart, 0)
		}
		return t.Max
	}
	return t.clamp(p*4, pollFloor)
}

// Prompt is how long to wait for step's signal where its absence is an
// answer in itself (no PRIMARY taken: nothing was selected): p95×4 of the
// measured latency, at least promptFloor, within [Min, Max]; false before
// anything was measured, when absence says nothing yet. Unlike Deadline it
// has no 250 ms floor: a wait cut short here costs a paste that a
// verifying look sees merged, and takes back.
func (t *Timings) Prompt(step string) (time.Duration, bool) {
	p, ok := t.Quantile(step, 0.95)
	if !ok {
		return 0, false
	}
	return t.clamp(p*4, promptFloor), true
}

// Always reports whether key's last n counts (at least n of them) were
// all v.
func (t *Timings) Always(key string, v, n int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.counts[key]
	if len(s) < n {
		return false
	}
	for _, c := range s[len(s)-n:] {
		if c != v {
			return false
		}
	}
	return true
}

// PasteEnd is how long a paste usually takes to end, for a window that
// may be reading another client's text (which we cannot see): 2 × the p95
// of StepFetch, at least 100 ms (another owner, an xclip say, answers in
// its own time), at most Deadline(StepFetch).
func (t *Timings) PasteEnd() time.Duration {
	p, ok := t.Quantile(StepFetch, 0.95)
	if !ok {
		return t.Deadline(StepFetch)
	}
	return min(max(2*p, 2*t.Quiet(), pasteEndFloor), t.Deadline(StepFetch))
}

const pasteEndFloor = 100 * time.Millisecond

// Settle is how long to let the window digest step's effect (a paste, a
// submit) when no signal tells us it has: p95×1.5 of the measured latency.
func (t *Timings) Settle(step string) time.Duration {
	p, ok := t.Quantile(step, 0.95)
	if !ok {
		return t.clamp(settleStart, 0)
	}
	return t.clamp(p*3/2, 0)
}

// Quiet is how long no request of the agent's client must come, after its
// last one, for a paste's burst of reads to count as ended, once the burst
// has as many requests as the agent's pastes usually make: p95×4 of the
// gaps seen inside bursts, at least quietFloor, at most Max. (Gaps alone
// cannot end a burst: each Chromium paste has one long one, the browser
// handing the text to the page and the page asking again, 25 ms and more
// on a loaded desktop.)
func (t *Timings) Quiet() time.Duration {
	p, ok := t.Quantile(StepReadGap, 0.95)
	if !ok {
		return t.clamp(quietFloor, quietFloor)
	}
	return t.clamp(p*4, quietFloor)
}

// Save writes the history to the file it was loaded from (tmp, fsync,
// rename), so deadlines survive a restart. Without a file it does nothing.
func (t *Timings) Save() error {
	if t.path == "" {
		return nil
	}
	t.mu.Lock()
	f := timingsFile{Version: timingsVersion, Samples: map[string][]int64{}, Counts: map[string][]int{}}
	for step, s := range t.samples {
		for _, d := range s {
			f.Samples[step] = append(f.Samples[step], int64(d))
		}
	}
	for key, s := range t.counts {
		f.Counts[key] = slices.Clone(s)
	}
	t.mu.Unlock()
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("deliver: timings: %w", err)
	}
	return writeFileAtomic(t.path, data)
}

// writeFileAtomic is safeio's one atomic writer (tmp, fsync, rename,
// directory fsync); a directory fsync that fails after the rename leaves
// the timings in place and is no failure.
func writeFileAtomic(path string, data []byte) error {
	if err := safeio.WriteFile(path, data, 0o600); err != nil && !safeio.IsSyncDirError(err) {
		return fmt.Errorf("deliver: write %s: %w", path, err)
	}
	return nil
}
