// Package spool is the on-disk message queue: a Maildir-like tree where a directory is a state and a rename is a transition.
//
// A file's name is its base (the sender's name for it, or UniqueName's)
// and, once the daemon has claimed it, an info suffix after a separator
// that holds its retry state (ParseName, FormatName): attempts, entry
// time, not-before, pasting and submitted marks, as in
// "<base>:A1,E1764590000000". The separator is ':' on Unix, as in
// Maildir. On Windows it is ';' ("<base>;A1,E1764590000000"), as
// emersion/go-maildir uses there: NTFS takes ':' for the start of an
// alternate data stream name. A spool is read by the platform that wrote
// it; a ':' in a name on Windows, or a ';' on Unix, is part of the base.
//
// On Windows, besides: ids and agent names that Windows takes for devices
// (CON, NUL, COM1, ... alone or before a dot) are refused (safeio.ValidID,
// safeio.ValidAgentName); a file is read with FILE_SHARE_DELETE
// (safeio.OpenRead), so a scan never blocks a claim; and a rename that
// meets a sharing violation (another program has the file open without
// FILE_SHARE_DELETE, as Go's os.Open does) is retried for up to 2 s
// (safeio.Rename).
package spool

import (
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// State is a message's place in its life, and the name of its directory.
type State string

const (
	StateNew    State = "new"    // queued: the rename into new/<agent>/ is the send
	StateCur    State = "cur"    // claimed by the daemon; delivery in progress
	StateDone   State = "done"   // delivered (and acked where acks are on)
	StateFailed State = "failed" // given up; the reason is in a .reason sidecar
	StateHold   State = "hold"   // parked; the reason is in a .reason sidecar
)

// States lists every state, in the order of a message's life.
var States = []State{StateNew, StateCur, StateDone, StateFailed, StateHold}

func (st State) valid() bool { return slices.Contains(States, st) }

// hasReason reports whether messages in st carry a .reason sidecar.
func (st State) hasReason() bool { return st == StateFailed || st == StateHold }

const (
	tmpDir = "tmp"
	// namesDir holds, for each message the daemon named (every message,
	// when it first leaves new/: Claim, Fail or Hold), the file
	// names/<its base> with the sender's name in it (Entry.OrigName). It
	// is not a state and holds no messages; it is kept, as done/ is, so
	// the name (and the id of a message without one in its front matter)
	// survives restarts and `show` finds it in any state, and it is what
	// makes a name in new/ the daemon's own (Spool.own). (DESIGN §2 lists
	// the states; this is beside them.)
	namesDir = "names"
	// renamedSuffix ends every base the daemon makes: only such a base
	// is looked up in names/, so a scan costs no extra lstat for the
	// others.
	renamedSuffix = ".renamed"
	reasonSuffix  = ".reason"
	dirPerm       = 0o700 // messages may hold anything an agent is told
	filePerm      = 0o600
)

// Spool is a spool directory. The zero MaxMessageBytes means
// DefaultMaxMessageBytes. A Spool caches message headers for Scan, so use
// one *Spool per process rather than copies.
type Spool struct {
	Root            string
	MaxMessageBytes int64

	// Log, when set, hears of what went wrong without failing the
	// operation: a directory fsync after a completed rename, a reason
	// sidecar that could not be written.
	Log *slog.Logger
	// OnSyncDir, when set, hears of every directory fsync made after a
	// completed rename (a send, a transition), err nil when it worked.
	// Such a failure is never the operation's error: the rename happened,
	// only its durability is in doubt, and a sender told "failed" would
	// send again (issue 11 item 12). The daemon shows itself degraded
	// while they fail; without OnSyncDir a failure goes to Log.
	OnSyncDir func(dir string, err error)

	mu    sync.Mutex
	cache map[dirKey]map[string]cachedHeader
}

func (s *Spool) warn(msg string, args ...any) {
	if s.Log != nil {
		s.Log.Warn("spool: "+msg, args...)
	}
}

// syncAfterRename fsyncs dir after a completed rename into it (what), and
// reports the result to OnSyncDir, or a failure to Log. It returns nothing:
// the rename was the operation.
func (s *Spool) syncAfterRename(what, dir string) { s.reportSync(what, dir, syncDir(dir)) }

func (s *Spool) reportSync(what, dir string, err error) {
	switch {
	case s.OnSyncDir != nil:
		s.OnSyncDir(dir, err)
	case err != nil:
		s.warn("directory fsync failed after "+what+"; the change is made but may not survive a crash", "dir", dir, "err", err)
	}
}

// EnteredAt is when e entered the spool: the time recorded at its first
// claim, else the time it was renamed into new/. Acks older than this are
// stale.
func (e Entry) EnteredAt() time.Time {
	if !e.Entered.IsZero() {
		return e.Entered
	}
	return e.Queued
}

// AckSince is the instant from which an ack of e counts: its first
// submit, else the submit of the attempt in flight. ok is false for a
// message never submitted: no ack can be about it, whatever its id.
func (e Entry) AckSince() (since time.Time, ok bool) {
	switch {
	case !e.FirstSubmit.IsZero():
		return e.FirstSubmit, true
	case !e.Submitted.IsZero():
		return e.Submitted, true
	}
	return time.Time{}, false
}

// Entry is one message file as a scan saw it.
type Entry struct {
	Agent     string
	Name      string // file name, including any info suffix
	State     State
	Attempt   int       // from the info suffix
	Entered   time.Time // from the info suffix: when it first entered new/ (zero in new/ before its first claim)
	OrigName  string    // the sender's name, once the daemon named the message (kept in names/: survives restarts); "" in new/ before that
	NotBefore time.Time // from the info suffix; zero = deliver any time
	Queued    time.Time // when it entered its current directory
	Priority  Priority  // from the front matter, best effort
	ID        string    // front matter id, else IDFromName(Name)
	Pasting   bool      // from the info suffix: about to be pasted (cur/ only)
	Submitted time.Time // from the info suffix: when it was submitted (cur/ only)
	// FirstSubmit: from the info suffix: when it was first submitted in
	// its attempt series (zero: never); acks count from then (AckSince).
	FirstSubmit time.Time
	Size        int64
}

// Open opens the spool at root, creating tmp/ and the state directories.
func Open(root string) (*Spool, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", root, err)
	}
	s := &Spool{Root: abs}
	for _, d := range append([]string{tmpDir, namesDir}, stateNames()...) {
		if err := os.MkdirAll(filepath.Join(abs, d), dirPerm); err != nil {
			return nil, fmt.Errorf("spool: open %s: %w", abs, err)
		}
	}
	return s, nil
}

func stateNames() []string {
	out := make([]string, len(States))
	for i, st := range States {
		out[i] = string(st)
	}
	return out
}

func (s *Spool) maxBytes() int64 {
	if s.MaxMessageBytes > 0 {
		return s.MaxMessageBytes
	}
	return DefaultMaxMessageBytes
}

// path builds every path inside the spool: <root>/<dir>[/<agent>][/<name>].
func (s *Spool) path(dir, agent, name string) string {
	p := filepath.Join(s.Root, dir)
	if agent != "" {
		p = filepath.Join(p, agent)
	}
	if name != "" {
		p = filepath.Join(p, name)
	}
	return p
}

// Path is the file of e.
func (s *Spool) Path(e Entry) string { return s.path(string(e.State), e.Agent, e.Name) }

func (s *Spool) reasonPath(e Entry) string {
	return s.path(string(e.State), e.Agent, e.Name+reasonSuffix)
}

// EnsureAgent creates agent's directory in every state.
func (s *Spool) EnsureAgent(agent string) error {
	if !ValidAgentName(agent) {
		return &badAgentError{agent}
	}
	for _, st := range States {
		if err := os.MkdirAll(s.path(string(st), agent, ""), dirPerm); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

// Agents lists the agent directories found in any state, sorted. It includes
// directories whose names are not valid agent names (made by hand), so the
// caller can notice them.
func (s *Spool) Agents() ([]string, error) {
	set := map[string]bool{}
	for _, st := range States {
		names, err := s.agentDirs(st)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (s *Spool) agentDirs(st State) ([]string, error) {
	des, err := os.ReadDir(s.path(string(st), "", ""))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") || !safeComponent(de.Name()) {
			continue
		}
		if de.IsDir() || de.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(s.path(string(st), "", ""), de.Name())) {
			out = append(out, de.Name())
		}
	}
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Enqueue queues data for agent: it writes tmp/<UniqueName()>, fsyncs it,
// renames it into new/<agent>/ and fsyncs that directory. A message that
// would fail ParseMessage is refused before anything is written.
func (s *Spool) Enqueue(agent string, data []byte) (Entry, error) {
	if !ValidAgentName(agent) {
		return Entry{}, &badAgentError{agent}
	}
	name := UniqueName()
	m, err := ParseMessage(name, data, s.maxBytes())
	if err != nil {
		return Entry{}, err
	}
	tmp := s.path(tmpDir, "", name)
	if err := writeSynced(tmp, data); err != nil {
		return Entry{}, fmt.Errorf("spool: enqueue: %w", err)
	}
	e := Entry{Agent: agent, Name: name, State: StateNew, Priority: m.Priority, ID: m.ID, Size: int64(len(data))}
	dst := s.Path(e)
	if err := s.rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return Entry{}, fmt.Errorf("spool: enqueue: %w", err)
	}
	// The rename was the send: a failing directory fsync after it is a
	// warning, never a failure that would make the sender send it twice.
	s.syncAfterRename("the message was queued", filepath.Dir(dst))
	e.Queued = s.queuedAt(dst)
	return e, nil
}

// EnqueueAll queues one message per agent, all or nothing: every copy is
// written to tmp/ and fsynced first, and only when all are staged are they
// renamed into new/ (issue 11 item 13). A full disk shows up while
// staging, and then nothing at all is queued; the renames need no space.
func (s *Spool) EnqueueAll(agents []string, data [][]byte) ([]Entry, error) {
	if len(agents) != len(data) {
		return nil, fmt.Errorf("spool: enqueue: %d agents, %d messages", len(agents), len(data))
	}
	type staged struct {
		tmp string
		e   Entry
	}
	var st []staged
	cleanup := func() {
		for _, x := range st {
			os.Remove(x.tmp)
		}
	}
	for i, agent := range agents {
		if !ValidAgentName(agent) {
			cleanup()
			return nil, &badAgentError{agent}
		}
		name := UniqueName()
		m, err := ParseMessage(name, data[i], s.maxBytes())
		if err != nil {
			cleanup()
			return nil, err
		}
		tmp := s.path(tmpDir, "", name)
		if err := writeSynced(tmp, data[i]); err != nil {
			cleanup()
			return nil, fmt.Errorf("spool: enqueue for %s (nothing queued): %w", agent, err)
		}
		st = append(st, staged{tmp, Entry{Agent: agent, Name: name, State: StateNew, Priority: m.Priority, ID: m.ID, Size: int64(len(data[i]))}})
	}
	out := make([]Entry, 0, len(st))
	for i, x := range st {
		dst := s.Path(x.e)
		if err := s.rename(x.tmp, dst); err != nil {
			for _, y := range st[i:] {
				os.Remove(y.tmp)
			}
			return out, fmt.Errorf("spool: enqueue for %s: %w", x.e.Agent, err)
		}
		s.syncAfterRename("the message was queued", filepath.Dir(dst))
		x.e.Queued = s.queuedAt(dst)
		out = append(out, x.e)
	}
	return out, nil
}

// Settled reports whether e's file is complete, so that it may be
// claimed, and when it is not, when to look again (wake).
//
// A file renamed into new/ (the Maildir way: tmp/ then mv) is complete by
// definition and settled at once. A file written in place in new/ is
// settled once its writer has closed it, however long the writer pauses
// between its writes; before, a rest of its mtime for window (150 ms)
// passed for the end, so a writer that paused longer had its file claimed
// half written, or failed as empty, and its later writes landed in
// failed/ (issue "Nothing silent, nothing false" item 6). Whether a
// writer still has the file open is asked of the system (openForWriting:
// a read lease on Linux, a share mode on Windows), which needs no event
// and so also holds for a file found by the scan at start-up. Where it
// cannot be told (macOS, the BSDs, a file system without leases), the
// file is settled once its mtime has rested for window, as before.
//
// A writer that closes the file and opens it again later (": > x", then
// "echo hi >> x") is between two files as far as any check can see: the
// first, empty one may be claimed.
func (s *Spool) Settled(e Entry, window time.Duration, now time.Time) (ok bool, wake time.Time) {
	p := s.Path(e)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return true, time.Time{} // the read decides what is wrong with it
	}
	if open, known := openForWriting(p); known {
		if !open {
			return true, time.Time{}
		}
		// No event says "closed" (fsnotify has no close-write), so look
		// again: soon while the writer writes, less often the longer it
		// has been quiet, at most once a second.
		idle := now.Sub(fi.ModTime())
		return false, now.Add(min(max(idle/4, 10*time.Millisecond), time.Second))
	}
	if at := fi.ModTime().Add(window); now.Before(at) {
		return false, at
	}
	return true, time.Time{}
}

// EnqueueFile reads the message at path and Enqueues it.
func (s *Spool) EnqueueFile(agent, path string) (Entry, error) {
	data, err := readLimited(path, s.maxBytes(), false)
	if err != nil {
		return Entry{}, err
	}
	return s.Enqueue(agent, data)
}

// readLimited reads a message file through safeio.Open: never through a
// symlink, never blocking on a FIFO, only a regular file of at most max
// bytes, and (ownerOnly) only one owned by the daemon's user. Refusals are
// permanent bad-message errors; other errors (EACCES, EIO) are not.
func readLimited(path string, max int64, ownerOnly bool) ([]byte, error) {
	data, err := safeio.ReadFile(path, safeio.OpenOptions{MaxBytes: max, OwnerOnly: ownerOnly})
	if err == nil {
		return data, nil
	}
	var re *safeio.RefusedError
	if errors.As(err, &re) {
		kind := map[safeio.Kind]messageKind{safeio.KindSymlink: kindSymlink, safeio.KindNotRegular: kindNotRegular,
			safeio.KindNotOwned: kindNotOwned, safeio.KindTooLarge: kindTooLarge}[re.Kind]
		return nil, badMessage(kind, fmt.Sprintf("%s: %s", path, re.Detail), nil)
	}
	return nil, fmt.Errorf("spool: read message file: %w", err)
}

// writeSynced creates path (which must not exist), writes data and fsyncs
// it. A variable, so tests can make staging fail (a full disk).
var writeSynced = writeSyncedFile

func writeSyncedFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// rename moves src to dst, never replacing a file at dst (an error
// satisfying errors.Is(err, fs.ErrExist) then), with safeio.RenameNoReplace:
// on Windows a sharing violation, another process reading the file, is
// retried for a bounded time. If the
// rename fails because a directory is missing, it tells the two cases apart: src gone (someone else moved it:
// a goneError) or dst's directory missing (an agent directory made by hand
// in new/ only: create it and try once more).
func (s *Spool) rename(src, dst string) error {
	err := safeio.RenameNoReplace(src, dst)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, lerr := os.Lstat(src); errors.Is(lerr, fs.ErrNotExist) {
		return &goneError{op: "move", path: src, err: err}
	}
	if merr := os.MkdirAll(filepath.Dir(dst), dirPerm); merr != nil {
		return merr
	}
	err = safeio.RenameNoReplace(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		return &goneError{op: "move", path: src, err: err}
	}
	return err
}

func (s *Spool) queuedAt(p string) time.Time {
	if fi, err := os.Lstat(p); err == nil {
		return queuedTime(fi)
	}
	return time.Now()
}

// CheckModes is ssh's StrictModes for the spool (issue 11 item 4): the
// root, tmp/, names/, every state directory and every agent directory in them must
// be real directories owned by this process's user and not writable by
// group or others, since the daemon types what lands in new/ into the
// person's windows. The error names the path and the fix.
func (s *Spool) CheckModes() error {
	dirs := []string{s.Root, s.path(tmpDir, "", ""), s.path(namesDir, "", "")}
	for _, st := range States {
		dirs = append(dirs, s.path(string(st), "", ""))
		agents, err := s.agentDirs(st)
		if err != nil {
			return err
		}
		for _, a := range agents {
			dirs = append(dirs, s.path(string(st), a, ""))
		}
	}
	for _, d := range dirs {
		if err := safeio.CheckPrivateDir(d); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}
