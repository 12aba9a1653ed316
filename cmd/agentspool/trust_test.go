//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/spool"
)

// Issue 11 item 3: `ack` follows the message-id rule; before, "x\ny" was
// written as the file "x\ny.ack".
func TestAckRefusesBadID(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"x\ny", "a b", "a]b", "../x"} {
		f.run(nil, "ack", id, "--agent", "Agent-1").want(t, 2).contains(t, "stderr", "bad message id")
	}
	if des, _ := os.ReadDir(filepath.Join(f.inbox, "Agent-1", "inbox")); len(des) != 0 {
		t.Errorf("inbox holds %v", des)
	}
}

// Issue 11 item 2: `send --id X` refuses an id already acked in the inbox.
func TestSendRefusesAckedID(t *testing.T) {
	f := newFixture(t)
	inbox := filepath.Join(f.inbox, "Agent-2", "inbox")
	os.MkdirAll(inbox, 0o700)
	os.WriteFile(filepath.Join(inbox, "hello.ack"), []byte("old"), 0o600)
	f.run(nil, "send", "--to", "Agent-2", "--id", "hello", "-m", "hi").want(t, 1).contains(t, "stderr", "already acked")
	if n := len(f.scan("new")); n != 0 {
		t.Errorf("%d queued", n)
	}
}

// Issue 11 item 5: `send FILE` on a FIFO is refused at once, not a hang.
func TestSendRefusesFIFO(t *testing.T) {
	f := newFixture(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(nil, "send", "--to", "Agent-2", fifo).want(t, 1).contains(t, "stderr", "not a regular file")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("send hangs on a FIFO")
	}
}

// Issue 11 item 8: show gives the sender's name of a message the daemon
// renamed at claim time (from the journal, in a spool without the record).
func TestShowOriginalName(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "x", "--id", "short1")
	sp := f.open()
	e := f.entry("short1")
	c, err := sp.Claim(e)
	if err != nil {
		t.Fatal(err)
	}
	// A spool older than the names/ records: only the journal knows.
	base, _ := spool.ParseName(c.Name)
	if err := os.Remove(filepath.Join(f.spool, "names", base)); err != nil {
		t.Fatal(err)
	}
	line := `{"event":"renamed","id":"short1","agent":"Agent-1","name":"` + c.Name + `","why":"original name: ` + strings.Repeat("L", 200) + `"}` + "\n"
	os.WriteFile(filepath.Join(f.spool, "journal.jsonl"), []byte(line), 0o600)
	f.run(nil, "show", "short1").want(t, 0).contains(t, "stdout", "sent as:    "+strings.Repeat("L", 200))
}

// Issue 11 item 8: show gives the sender's name of a renamed message from
// the spool's own record, with no journal at all (a daemon that died
// between the claim and its journal line); before, only the journal had it.
func TestShowOriginalNameWithoutJournal(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("L", 220) + ".md"
	dir := filepath.Join(f.spool, "new", "Agent-1")
	os.MkdirAll(dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, long), []byte("---\nid: long2\n---\nx"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp := f.open()
	if _, err := sp.Claim(f.entry("long2")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(f.spool, "journal.jsonl"))
	f.run(nil, "show", "long2").want(t, 0).contains(t, "stdout", "state:      cur").contains(t, "stdout", "sent as:    "+long)
}
