//go:build unix

package deliver_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/agentspool/agentspool/deliver"
)

// Issue 11 item 6: the lock folder must be ours and private, and the
// sidecar is written without following a link planted beside the lock.
func TestDesktopLockDirMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o777)
	os.Chmod(shared, 0o777)
	if _, err := deliver.NewDesktopLock(filepath.Join(shared, "desktop.lock")); err == nil {
		t.Error("a world-writable lock folder was accepted")
	}
	if os.Getuid() == 0 {
		theirs := filepath.Join(dir, "theirs")
		os.Mkdir(theirs, 0o700)
		os.Chown(theirs, 65534, 65534)
		if _, err := deliver.NewDesktopLock(filepath.Join(theirs, "desktop.lock")); err == nil {
			t.Error("a lock folder owned by another user was accepted")
		}
	}
}

func TestDesktopLockSidecarDoesNotFollowLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	lockDir := filepath.Join(dir, "lock")
	os.Mkdir(lockDir, 0o700)
	l, err := deliver.NewDesktopLock(filepath.Join(lockDir, "desktop.lock"))
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(victim, l.Path()+".input")
	if err := l.WriteSidecar("input", []byte("1 2\n")); err == nil {
		t.Error("WriteSidecar wrote through a symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("victim overwritten: %q", b)
	}
	if _, err := l.ReadSidecar("input"); err == nil {
		t.Error("ReadSidecar read through a symlink")
	}
	os.Remove(l.Path() + ".input")
	if err := l.WriteSidecar("input", []byte("1 2\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := l.ReadSidecar("input"); err != nil || string(b) != "1 2\n" {
		t.Fatalf("ReadSidecar = %q, %v", b, err)
	}
}
