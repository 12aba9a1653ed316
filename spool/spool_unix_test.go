//go:build unix

package spool

import (
	"path/filepath"
	"syscall"
	"testing"
)

// A FIFO dropped into new/ must neither hang Scan nor Read: it is listed, and
// reading it is a permanent error the daemon answers by failing it.
func TestFIFOInQueue(t *testing.T) {
	s := openTest(t)
	s.EnsureAgent("A")
	if err := syscall.Mkfifo(filepath.Join(s.Root, "new", "A", "pipe"), 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	es := scan(t, s, StateNew, "A")
	if len(es) != 1 || es[0].Name != "pipe" {
		t.Fatalf("scan = %+v", es)
	}
	if _, err := s.Read(es[0]); !IsBadMessage(err) || !IsPermanent(err) {
		t.Errorf("Read(fifo) = %v, want a permanent bad-message error", err)
	}
	if _, err := s.Fail(es[0], "not a regular file"); err != nil {
		t.Error(err)
	}
}
