package confirm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Waiter waits for acks. Watcher is the real one; the service's tests use
// fakes.
type Waiter interface {
	// Wait blocks until a's message is acked in a's inbox (true), the
	// deadline passes (false, nil) or ctx ends (false, ctx.Err()).
	// Only an ack written since a.Since (less ClockSlack) counts.
	Wait(ctx context.Context, a Ack, timeout time.Duration) (bool, error)
}

var _ Waiter = (*Watcher)(nil)

// DefaultPollInterval is Watcher.PollInterval unless set.
const DefaultPollInterval = 500 * time.Millisecond

var errClosed = errors.New("confirm: watcher closed")

// Watcher is the Waiter of the daemon. One fsnotify watcher serves all
// waits; inbox directories are added (and created) as waits need them.
// Events are only hints that make a wait look again; the truth is a read of
// the directory, done when a wait starts (after its watch is in place, so an
// ack that landed before the watch is seen), on each hint, every
// PollInterval, on an event-queue overflow, and at the deadline. So a lost
// event, a full inotify queue, an inbox without a watch (inotify limit
// reached) or one deleted and re-created only delay an ack by at most
// PollInterval, never lose it.
//
// Wait is safe for concurrent use, with any mix of inboxes and ids.
type Watcher struct {
	// PollInterval is the period of the directory read; 0 means
	// DefaultPollInterval. Set it before the first Wait.
	PollInterval time.Duration
	// Logger, when set, hears of a watch that could not be added (the
	// wait then relies on polling alone). Set it before the first Wait.
	Logger *slog.Logger

	fsw      *fsnotify.Watcher
	closed   chan struct{}
	once     sync.Once
	loopDone chan struct{}

	mu    sync.Mutex
	waits map[string]map[*wait]struct{} // by inbox: absolute and clean, as watched

	// testHookWaiting, when set, is called once per Wait when it has
	// registered, watched and looked once, and is about to block.
	testHookWaiting func(inbox, id string)
}

type wait struct {
	ack  Ack
	hint chan struct{} // buffered 1: "look again"
}

// NewWatcher starts a Watcher. Close it when done.
func NewWatcher() (*Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("confirm: %w", err)
	}
	w := &Watcher{
		PollInterval: DefaultPollInterval,
		fsw:          fsw,
		closed:       make(chan struct{}),
		loopDone:     make(chan struct{}),
		waits:        make(map[string]map[*wait]struct{}),
	}
	go w.loop()
	return w, nil
}

// Close stops the watcher; waits in progress end with an error.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.closed)
		err = w.fsw.Close()
		<-w.loopDone
	})
	if err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	return nil
}

// Wait blocks until a's message is acked in a's inbox (true), the deadline
// passes (false, nil) or ctx ends (false, ctx.Err()). It creates the inbox
// if missing, so the recipient has a place to ack into. A timeout <= 0
// looks once.
func (w *Watcher) Wait(ctx context.Context, a Ack, timeout time.Duration) (bool, error) {
	if err := checkID(a.ID); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	select {
	case <-w.closed:
		return false, errClosed
	default:
	}
	dir, err := filepath.Abs(a.Inbox)
	if err != nil {
		return false, fmt.Errorf("confirm: %w", err)
	}
	a.Inbox = dir
	if timeout <= 0 {
		return Find(a)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()

	// Register before watching, and watch before the first look: an ack
	// made after the look raises an event this wait hears; one made before
	// it is seen by the look.
	wt := &wait{ack: a, hint: make(chan struct{}, 1)}
	w.register(dir, wt)
	defer w.unregister(dir, wt)
	if err := w.watch(dir); err != nil {
		return false, err
	}

	interval := w.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	poll := time.NewTicker(interval)
	defer poll.Stop()
	for first := true; ; first = false {
		found, exists, err := look(a)
		if err != nil || found {
			return found, err
		}
		if !exists {
			// The inbox was removed during the wait, and its watch with
			// it: make both again (errors aside: the poll goes on).
			w.watch(dir)
		}
		if first && w.testHookWaiting != nil {
			w.testHookWaiting(dir, a.ID)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-w.closed:
			return false, errClosed
		case <-deadline.C:
			// One last look: an ack may have landed since the last one
			// with its event still queued.
			found, _, err := look(a)
			return found, err
		case <-poll.C:
		case <-wt.hint:
		}
	}
}

// watch creates inbox dir and adds it to the fsnotify watcher. Adding a
// path already watched is harmless, and re-adding after the directory was
// re-created is exactly what is needed.
func (w *Watcher) watch(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("confirm: inbox: %w", err)
	}
	if err := w.fsw.Add(dir); err != nil && !errors.Is(err, fsnotify.ErrClosed) && w.Logger != nil {
		w.Logger.Warn("cannot watch inbox; polling it", "inbox", dir, "err", err)
	}
	return nil
}

func (w *Watcher) register(dir string, wt *wait) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.waits[dir]
	if m == nil {
		m = make(map[*wait]struct{})
		w.waits[dir] = m
	}
	m[wt] = struct{}{}
}

func (w *Watcher) unregister(dir string, wt *wait) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waits[dir], wt)
	if len(w.waits[dir]) == 0 {
		// The fsnotify watch stays: inboxes are few (one per agent) and
		// the next wait on this one needs it again.
		delete(w.waits, dir)
	}
}

func (w *Watcher) loop() {
	defer close(w.loopDone)
	for {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handleEvent(ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.handleError(err)
		}
	}
}

func (w *Watcher) handleEvent(ev fsnotify.Event) {
	// Create covers a rename into the inbox (how WriteAck lands); Write and
	// Chmod cover an ack made by `touch` or written in place.
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Chmod) {
		return
	}
	dir, name := filepath.Split(ev.Name)
	dir = filepath.Clean(dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	for wt := range w.waits[dir] {
		if name == wt.ack.ID+AckSuffix {
			wt.wake()
		} else if p := wt.ack.Pattern; p != nil {
			if id, ok := PatternID(p, name); ok && id == wt.ack.ID {
				wt.wake()
			}
		}
	}
}

func (w *Watcher) handleError(err error) {
	if !errors.Is(err, fsnotify.ErrEventOverflow) {
		return // the poll is the truth
	}
	// Events were dropped: every wait must look again.
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.waits {
		for wt := range m {
			wt.wake()
		}
	}
}

func (wt *wait) wake() {
	select {
	case wt.hint <- struct{}{}:
	default: // a look is already due
	}
}
