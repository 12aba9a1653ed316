package spool

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// headerBytes is how much of a file Scan reads for its priority and id.
const headerBytes = 4 << 10

type dirKey struct {
	state State
	agent string
}

// cachedHeader is a parsed header, valid while the file keeps its size,
// mtime and ctime. ctime is in the key because a rename sets it: a different
// file renamed in under the same name is reread even if size and mtime match.
type cachedHeader struct {
	size         int64
	mtime, ctime int64
	hdr          header
	orig         string // Entry.OrigName, from names/
}

type scanJob struct {
	dir  int // index into the scanned directories
	name string
}

// scanDir is one agent's directory, held open during a scan so that files
// are opened relative to it (openat) without walking the whole path again.
type scanDir struct {
	agent string
	path  string
	f     *os.File
	fd    int
	names []string
	count int // len(names), kept after names is dropped
}

// fileMeta is what Scan needs from a file's inode.
type fileMeta struct {
	size         int64
	mtime, ctime time.Time
	mode         uint32
	isDir        bool
}

func metaOf(fi fs.FileInfo) fileMeta {
	return fileMeta{size: fi.Size(), mtime: fi.ModTime(), ctime: queuedTime(fi), isDir: fi.IsDir()}
}

// Scan lists the messages in state, for one agent or, with agent "", for all.
// It skips dot-files and, in failed/ and hold/, .reason sidecars. Entries of
// new/ come in delivery order per agent (priority, urgent first; then the
// time each entered new/; then name); other states are sorted by agent,
// queued time and name. Agent directories with names that are not valid agent
// names are listed too, so the daemon can fail their messages.
//
// Headers are read (first 4 KiB only) by a few goroutines and cached in s,
// so a rescan of an unchanged queue costs one lstat per file.
func (s *Spool) Scan(state State, agent string) ([]Entry, error) {
	if !state.valid() {
		return nil, fmt.Errorf("spool: scan: unknown state %q", state)
	}
	var agents []string
	if agent == "" {
		var err error
		if agents, err = s.agentDirs(state); err != nil {
			return nil, err
		}
	} else {
		if !safeComponent(agent) {
			return nil, &badAgentError{agent}
		}
		agents = []string{agent}
	}

	// Three parallel phases: list each agent's directory; stat and read
	// every file; then per agent, order the entries and rebuild the header
	// cache. Agents are independent, and on a 2-core box a 100,000-file scan
	// only fits its 1 s budget if no phase runs on one core alone.
	workers := min(max(runtime.GOMAXPROCS(0)*2, 2), 8)
	dirs := make([]scanDir, len(agents))
	defer func() {
		for _, d := range dirs {
			if d.f != nil {
				d.f.Close()
			}
		}
	}()
	err := parallel(len(agents), workers, func(i int) error {
		return s.listDir(state, agents[i], &dirs[i])
	})
	if err != nil {
		return nil, err
	}
	var jobs []scanJob
	for i := range dirs {
		for _, n := range dirs[i].names {
			jobs = append(jobs, scanJob{i, n})
		}
		dirs[i].names = nil
	}

	old := s.cacheSnapshot(state, agents)
	entries := make([]Entry, len(jobs))
	keep := make([]bool, len(jobs))
	fresh := make([]cachedHeader, len(jobs))
	const chunk = 128
	nchunks := (len(jobs) + chunk - 1) / chunk
	parallel(nchunks, workers, func(c int) error {
		buf := make([]byte, headerBytes)
		for i := c * chunk; i < min((c+1)*chunk, len(jobs)); i++ {
			d := &dirs[jobs[i].dir]
			keep[i] = s.scanOne(state, d, jobs[i].name, old[d.agent], buf, &entries[i], &fresh[i])
		}
		return nil
	})

	// Jobs were laid out agent by agent, and agents are sorted by name, so
	// ordering each agent's run of entries orders the whole list.
	nextCache := make([]map[string]cachedHeader, len(dirs))
	runs := make([][]Entry, len(dirs))
	lo := 0
	for i := range dirs {
		runs[i] = entries[lo : lo+dirs[i].count]
		lo += dirs[i].count
	}
	parallel(len(dirs), workers, func(i int) error {
		base := 0
		for j := 0; j < i; j++ {
			base += dirs[j].count
		}
		m := make(map[string]cachedHeader, dirs[i].count)
		run := runs[i][:0]
		for k := range dirs[i].count {
			if keep[base+k] {
				m[jobs[base+k].name] = fresh[base+k]
				run = append(run, entries[base+k])
			}
		}
		if state == StateNew {
			slices.SortFunc(run, deliveryOrder)
		} else {
			slices.SortFunc(run, listOrder)
		}
		runs[i], nextCache[i] = run, m
		return nil
	})
	cache := make(map[string]map[string]cachedHeader, len(dirs))
	out := entries[:0]
	for i, d := range dirs {
		if d.f != nil {
			cache[d.agent] = nextCache[i]
		}
		out = append(out, runs[i]...) // runs[i] never lies ahead of out: no overlap hazard
	}
	s.cacheStore(state, agent == "", cache)
	return out, nil
}

// listDir opens agent's directory in state and lists the names Scan should
// look at: no dot-files, and in failed/ and hold/ no .reason sidecars.
func (s *Spool) listDir(state State, agent string, d *scanDir) error {
	*d = scanDir{agent: agent, path: s.path(string(state), agent, "")}
	f, err := os.Open(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: scan: %w", err)
	}
	d.f, d.fd = f, int(f.Fd())
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("spool: scan: %w", err)
	}
	var present map[string]bool
	if state.hasReason() {
		present = make(map[string]bool, len(names))
		for _, n := range names {
			present[n] = true
		}
	}
	out := names[:0]
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			continue
		}
		if present != nil && isSidecar(n, present) {
			continue
		}
		out = append(out, n)
	}
	d.names, d.count = out, len(out)
	return nil
}

// isSidecar reports whether n, in failed/ or hold/, is the .reason sidecar
// of a message: of a name of the daemon's own (a sidecar is written just
// before its message is renamed in, so a scan may see it alone for a
// moment), or of a message beside it (a spool older than the daemon's own
// names). A sender's "x.reason" that reached failed/ that way is a
// message, and is listed.
func isSidecar(n string, present map[string]bool) bool {
	msg, ok := strings.CutSuffix(n, reasonSuffix)
	if !ok || msg == "" {
		return false
	}
	base, _ := ParseName(msg)
	return strings.HasSuffix(base, renamedSuffix) || present[msg]
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error.
func parallel(n, workers int, fn func(i int) error) error {
	if n <= 1 || workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// scanOne fills e for one file; false means skip it (gone).
// With a cached header it costs one lstat; without, an open, fstat and read.
func (s *Spool) scanOne(state State, d *scanDir, name string, old map[string]cachedHeader, buf []byte, e *Entry, c *cachedHeader) bool {
	var meta fileMeta
	var hdr header
	base, info := ParseName(name)
	h, cached := old[name]
	orig := h.orig
	if cached {
		fi, err := os.Lstat(d.path + string(filepath.Separator) + name)
		if errors.Is(err, fs.ErrNotExist) {
			return false // claimed or moved since the directory was read
		}
		if err == nil {
			meta = metaOf(fi)
		}
		cached = err == nil && h.size == meta.size && h.mtime == meta.mtime.UnixNano() && h.ctime == meta.ctime.UnixNano()
		hdr = h.hdr
	}
	if !cached {
		m, n, err := readHead(d.fd, d.path, name, buf)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false
		case err != nil && m.size == 0 && m.ctime.IsZero():
			// Unopenable (a symlink, no permission): list it anyway, with
			// lstat's data, so the daemon can fail it with the real error.
			fi, lerr := os.Lstat(d.path + string(filepath.Separator) + name)
			if errors.Is(lerr, fs.ErrNotExist) {
				return false
			}
			if lerr == nil {
				m = metaOf(fi)
			}
			hdr = header{}
		case err != nil:
			hdr = header{}
		default:
			hdr = scanHeader(buf[:n])
		}
		meta = m
		// Recorded before the claim's rename, so it is there by now.
		orig = s.origName(base)
	}
	if state == StateNew && orig == "" {
		// A sender's name: all data, never retry state (Spool.own).
		info = Info{}
	}
	// A directory is listed like any entry (it used to be skipped for
	// ever, silently): the daemon's read refuses it and fails it with the
	// reason (issue 11 item 5).
	*e = Entry{Agent: d.agent, Name: name, State: state, Attempt: info.Attempt, Entered: info.Entered, NotBefore: info.NotBefore,
		Pasting: info.Pasting, Submitted: info.Submitted, FirstSubmit: info.FirstSubmit, Size: meta.size, Queued: meta.ctime, Priority: hdr.prio, ID: hdr.id, OrigName: orig}
	if e.ID == "" {
		// The id comes from the name the sender gave (Read does the same).
		e.ID = IDFromName(cmp.Or(orig, name))
	}
	*c = cachedHeader{size: meta.size, mtime: meta.mtime.UnixNano(), ctime: meta.ctime.UnixNano(), hdr: hdr, orig: orig}
	return true
}

func (s *Spool) cacheSnapshot(state State, agents []string) map[string]map[string]cachedHeader {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]cachedHeader, len(agents))
	for _, a := range agents {
		out[a] = s.cache[dirKey{state, a}]
	}
	return out
}

// cacheStore replaces the cached headers of the scanned directories, which
// drops files that have left them. A scan of all agents also drops agents
// whose directories are gone.
func (s *Spool) cacheStore(state State, all bool, dirs map[string]map[string]cachedHeader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		s.cache = make(map[dirKey]map[string]cachedHeader)
	}
	if all {
		for k := range s.cache {
			if _, ok := dirs[k.agent]; k.state == state && !ok {
				delete(s.cache, k)
			}
		}
	}
	for a, m := range dirs {
		s.cache[dirKey{state, a}] = m
	}
}

// deliveryOrder is each agent's messages by priority, then by when they
// first entered new/ (EnteredAt: a message postponed or retried keeps
// its place, rather than go behind those queued after it), to the
// millisecond (a claimed message's name keeps no finer time); within one
// millisecond a message claimed before goes first (it was first in line
// at its claim), then by the time each entered new/ last, then by name.
func deliveryOrder(a, b Entry) int {
	claimed := func(e Entry) int {
		if e.Entered.IsZero() {
			return 1
		}
		return 0
	}
	return cmp.Or(
		strings.Compare(a.Agent, b.Agent),
		cmp.Compare(b.Priority, a.Priority),
		a.EnteredAt().Truncate(time.Millisecond).Compare(b.EnteredAt().Truncate(time.Millisecond)),
		cmp.Compare(claimed(a), claimed(b)),
		a.Queued.Compare(b.Queued),
		strings.Compare(a.Name, b.Name),
	)
}

func listOrder(a, b Entry) int {
	return cmp.Or(
		strings.Compare(a.Agent, b.Agent),
		a.Queued.Compare(b.Queued),
		strings.Compare(a.Name, b.Name),
	)
}

// Next returns the first message for agent ("" = any agent) in delivery
// order, if its not-before time has come: an agent's messages go in that
// order, and one postponed (a retry's backoff, a paste refused for a
// moment) is waited for, not passed by those queued after it. When none is
// due, wake is the earliest not-before of the agents' first messages
// (zero if there are none), so the caller knows when to look again
// without a second scan.
func (s *Spool) Next(agent string, now time.Time) (e Entry, ok bool, wake time.Time, err error) {
	return s.NextFirst(agent, now, nil, nil)
}

// NextFirst is Next, but the first message in delivery order for which
// first holds (nil: none) goes before every other of the scan (one
// agent's, as the daemon asks): when its not-before time has not come,
// no other is returned, and wake is that time. A
// message not yet due for which passable holds (nil: none) is passed by
// those after it, as a message that keeps failing on its own should not
// stop its agent's queue.
func (s *Spool) NextFirst(agent string, now time.Time, first, passable func(Entry) bool) (e Entry, ok bool, wake time.Time, err error) {
	es, err := s.Scan(StateNew, agent)
	if err != nil {
		return Entry{}, false, time.Time{}, err
	}
	if first != nil {
		for _, e := range es {
			if !first(e) {
				continue
			}
			if e.NotBefore.After(now) {
				return Entry{}, false, e.NotBefore, nil
			}
			return e, true, time.Time{}, nil
		}
	}
	waiting := map[string]bool{} // agents whose first message is not due
	for _, e := range es {
		if waiting[e.Agent] {
			continue
		}
		if !e.NotBefore.After(now) {
			return e, true, time.Time{}, nil
		}
		if passable == nil || !passable(e) {
			waiting[e.Agent] = true
		}
		if wake.IsZero() || e.NotBefore.Before(wake) {
			wake = e.NotBefore
		}
	}
	return Entry{}, false, wake, nil
}
