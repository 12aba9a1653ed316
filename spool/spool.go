// Package spool is the on-disk message queue: a Maildir-like tree where a directory is a state and a rename is a transition.
package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
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
	tmpDir       = "tmp"
	reasonSuffix = ".reason"
	dirPerm      = 0o700 // messages may hold anything an agent is told
	filePerm     = 0o600
)

// Spool is a spool directory. The zero MaxMessageBytes means
// DefaultMaxMessageBytes. A Spool caches message headers for Scan, so use
// one *Spool per process rather than copies.
type Spool struct {
	Root            string
	MaxMessageBytes int64

	mu    sync.Mutex
	cache map[dirKey]map[string]cachedHeader
}

// Entry is one message file as a scan saw it.
type Entry struct {
	Agent     string
	Name      string // file name, including any info suffix
	State     State
	Attempt   int       // from the info suffix
	NotBefore time.Time // from the info suffix; zero = deliver any time
	Queued    time.Time // when it entered its current directory
	Priority  Priority  // from the front matter, best effort
	ID        string    // front matter id, else IDFromName(Name)
	Pasting   bool      // from the info suffix: about to be pasted (cur/ only)
	Submitted time.Time // from the info suffix: when it was submitted (cur/ only)
	Size      int64
}

// Open opens the spool at root, creating tmp/ and the state directories.
func Open(root string) (*Spool, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", root, err)
	}
	s := &Spool{Root: abs}
	for _, d := range append([]string{tmpDir}, stateNames()...) {
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
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return Entry{}, fmt.Errorf("spool: enqueue: sync %s: %w", filepath.Dir(dst), err)
	}
	e.Queued = s.queuedAt(dst)
	return e, nil
}

// EnqueueFile reads the message at path and Enqueues it.
func (s *Spool) EnqueueFile(agent, path string) (Entry, error) {
	data, err := readLimited(path, s.maxBytes())
	if err != nil {
		return Entry{}, err
	}
	return s.Enqueue(agent, data)
}

// readLimited reads a regular file of at most max bytes; a larger one is a
// too-large error without reading it all. O_NONBLOCK keeps a FIFO (dropped
// into the queue by hand, or named on the command line) from blocking the
// open until some writer appears; it is then refused as not a regular file.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: read message file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: read message file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, badMessage(kindNotRegular, fmt.Sprintf("%s (%s)", path, fi.Mode().Type()), nil)
	}
	if fi.Size() > max {
		return nil, badMessage(kindTooLarge, fmt.Sprintf("%s is %d bytes, limit %d", path, fi.Size(), max), nil)
	}
	// Read one byte past the limit: the file may have grown since Stat.
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("spool: read message file: %w", err)
	}
	return data, nil
}

// writeSynced creates path (which must not exist), writes data and fsyncs it.
func writeSynced(path string, data []byte) error {
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

// rename moves src to dst. If the rename fails because a directory is
// missing, it tells the two cases apart: src gone (someone else moved it:
// a goneError) or dst's directory missing (an agent directory made by hand
// in new/ only: create it and try once more).
func (s *Spool) rename(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, lerr := os.Lstat(src); errors.Is(lerr, fs.ErrNotExist) {
		return &goneError{op: "move", path: src, err: err}
	}
	if merr := os.MkdirAll(filepath.Dir(dst), dirPerm); merr != nil {
		return merr
	}
	err = os.Rename(src, dst)
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
