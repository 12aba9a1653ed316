//go:build unix

package safeio

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The fallback of systems without an exclusive rename keeps the same
// promises: no replace, and a gone source reads as gone.
func TestLinkThenUnlink(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.WriteFile(src, []byte("mine"), 0o600)
	os.WriteFile(dst, []byte("theirs"), 0o600)
	if err := linkThenUnlink(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("onto an existing file = %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "theirs" {
		t.Fatalf("the target holds %q: it was replaced", b)
	}
	if err := linkThenUnlink(src, filepath.Join(dir, "free")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the source is still there: %v", err)
	}
	if err := linkThenUnlink(src, filepath.Join(dir, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("of a gone source = %v, want ErrNotExist", err)
	}
}
