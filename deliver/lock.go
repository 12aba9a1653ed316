package deliver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/agentspool/agentspool/internal/safeio"
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

// DefaultPaneLockDir is where the tmux channel keeps one lock per pane:
// beside the default desktop locks.
func DefaultPaneLockDir() string { return filepath.Dir(DefaultLockPath("")) }

// NewDesktopLock returns the lock on path, creating its directory (0700).
// The directory must be owned by this user and writable by nobody else
// (issue 11 item 6): the default one in the temp dir, /tmp/agentspool-<uid>,
// could have been made by another user first, who could then hold the
// lock, plant symlinks beside it or forge the own-input sidecar. The
// default one must moreover be mode 0700 exactly.
func NewDesktopLock(path string) (*DesktopLock, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("deliver: desktop lock: %w", err)
	}
	if err := checkLockDir(dir); err != nil {
		return nil, fmt.Errorf("deliver: desktop lock: %w", err)
	}
	return &DesktopLock{fl: flock.New(path), in: make(chan struct{}, 1)}, nil
}

func checkLockDir(dir string) error {
	if err := safeio.CheckPrivateDir(dir); err != nil {
		return err
	}
	if filepath.Clean(dir) == filepath.Join(os.TempDir(), fmt.Sprintf("agentspool-%d", os.Getuid())) {
		if fi, err := os.Lstat(dir); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
			return fmt.Errorf("%s has mode %04o, want 0700 (fix: chmod 700 %s)", dir, fi.Mode().Perm(), dir)
		}
	}
	return nil
}

// sidecarPath is the file <lock>.<name> beside the lock.
func (l *DesktopLock) sidecarPath(name string) string { return l.Path() + "." + name }

// WriteSidecar writes <lock>.<name> (e.g. "input": the last own input, for
// the other processes' quiet checks) without following a symlink there:
// a link planted beside the lock must never make us overwrite its target.
func (l *DesktopLock) WriteSidecar(name string, data []byte) error {
	if err := safeio.WriteNoFollow(l.sidecarPath(name), data, 0o600); err != nil {
		return fmt.Errorf("deliver: lock sidecar: %w", err)
	}
	return nil
}

// ReadSidecar reads <lock>.<name>: only a regular file of ours (no symlink,
// no FIFO, nobody else's), at most 4 KiB.
func (l *DesktopLock) ReadSidecar(name string) ([]byte, error) {
	b, err := safeio.ReadFile(l.sidecarPath(name), safeio.OpenOptions{MaxBytes: 4 << 10, OwnerOnly: true})
	if err != nil {
		return nil, fmt.Errorf("deliver: lock sidecar: %w", err)
	}
	return b, nil
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
