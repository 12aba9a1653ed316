package deliver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// DesktopLock serialises deliveries across every process that drives one
// desktop: the click, focus check, clipboard, paste and submit of one message
// never interleave with another's. It is an flock(2) on a file, so a process
// that dies releases it with its file descriptors.
type DesktopLock struct {
	fl *flock.Flock
	// in serialises goroutines of this process: a gofrs Flock that is
	// already held reports success to a second TryLock on the same value.
	in chan struct{}
}

// DefaultLockPath is the lock for display: one file per display in the
// user's runtime directory ($XDG_RUNTIME_DIR, else a per-user folder in the
// temp dir). Other tools that drive the same desktop should lock the same
// file (agentspool doctor prints it).
func DefaultLockPath(display string) string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("agentspool-%d", os.Getuid()))
	} else {
		dir = filepath.Join(dir, "agentspool")
	}
	name := strings.NewReplacer(":", "", "/", "_", ".", "_").Replace(display)
	if name == "" {
		name = "default"
	}
	return filepath.Join(dir, "desktop-"+name+".lock")
}

// NewDesktopLock returns the lock on path, creating its directory.
func NewDesktopLock(path string) (*DesktopLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("deliver: desktop lock: %w", err)
	}
	return &DesktopLock{fl: flock.New(path), in: make(chan struct{}, 1)}, nil
}

// Path is the lock file.
func (l *DesktopLock) Path() string { return l.fl.Path() }

// Lock blocks until the lock is held or ctx ends, and says how long it waited.
func (l *DesktopLock) Lock(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	select {
	case l.in <- struct{}{}:
	case <-ctx.Done():
		return time.Since(start), fmt.Errorf("deliver: desktop lock %s: %w", l.Path(), ctx.Err())
	}
	ok, err := l.fl.TryLockContext(ctx, time.Millisecond)
	if err != nil || !ok {
		<-l.in
	}
	if err != nil {
		return time.Since(start), fmt.Errorf("deliver: desktop lock %s: %w", l.Path(), err)
	}
	if !ok {
		return time.Since(start), fmt.Errorf("deliver: desktop lock %s: not acquired", l.Path())
	}
	return time.Since(start), nil
}

// Unlock releases the lock.
func (l *DesktopLock) Unlock() error {
	err := l.fl.Unlock()
	<-l.in
	if err != nil {
		return fmt.Errorf("deliver: desktop lock: %w", err)
	}
	return nil
}
