package safeio

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRenameRetriesSharingViolation: a file held open by os.Open (which
// does not share delete) cannot be renamed on Windows; Rename waits for the
// holder to close it, within its bound, and gives up after it.
func TestRenameRetriesSharingViolation(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "msg")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, filepath.Join(dir, "plain")); !errors.Is(err, errorSharingViolation) {
		f.Close()
		t.Fatalf("os.Rename of a file open by os.Open: %v, want a sharing violation (else this test proves nothing)", err)
	}

	old := renameRetry
	renameRetry = 50 * time.Millisecond
	err = Rename(src, filepath.Join(dir, "bounded"))
	renameRetry = old
	if !errors.Is(err, errorSharingViolation) {
		t.Errorf("Rename with the file held past the bound: %v, want a sharing violation", err)
	}

	released := make(chan struct{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.Close()
		close(released)
	}()
	dst := filepath.Join(dir, "moved")
	if err := Rename(src, dst); err != nil {
		t.Fatalf("Rename while the holder closes within the bound: %v", err)
	}
	<-released
	if _, err := os.Stat(dst); err != nil {
		t.Error(err)
	}
}

// TestOpenReadSharesDelete: a file open through OpenRead (and so through
// Open and ReadFile) can be renamed at once, as on Unix.
func TestOpenReadSharesDelete(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "msg")
	if err := os.WriteFile(src, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(src, OpenOptions{MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(src, filepath.Join(dir, "moved")); err != nil {
		t.Fatalf("rename of a file open by safeio.Open: %v", err)
	}
	buf := make([]byte, 10)
	if n, err := f.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Errorf("read after the rename: %q, %v", buf[:n], err)
	}
	if _, err := OpenRead(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenRead of a missing file: %v, want ErrNotExist", err)
	}
	if _, err := Open(dir, OpenOptions{}); err == nil {
		t.Error("Open of a directory: no error")
	} else if k, ok := IsRefused(err); !ok || k != KindNotRegular {
		t.Errorf("Open of a directory: %v, want KindNotRegular", err)
	}
}
