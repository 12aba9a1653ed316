package safeio

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// RenameNoReplace never erases its target: the check and the rename are
// one step (or, in the fallback, link(2) refuses the name), so a file that
// appears at dst between a check and the rename cannot be replaced.
func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.WriteFile(src, []byte("mine"), 0o600)
	os.WriteFile(dst, []byte("theirs"), 0o600)
	if err := RenameNoReplace(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("RenameNoReplace onto an existing file = %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "theirs" {
		t.Fatalf("the target holds %q: it was replaced", b)
	}
	if b, _ := os.ReadFile(src); string(b) != "mine" {
		t.Fatalf("the source holds %q", b)
	}
	free := filepath.Join(dir, "free")
	if err := RenameNoReplace(src, free); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the source is still there after the rename: %v", err)
	}
	if err := RenameNoReplace(src, filepath.Join(dir, "other")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RenameNoReplace of a gone source = %v, want ErrNotExist", err)
	}
}
