package confirm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// long is a timeout no passing test reaches: tests wait on signals, and a
// deadline only stops a broken test from hanging.
const long = 20 * time.Second

// newWatcher returns a Watcher that polls once an hour, so a test that
// passes proves the event path (or the look after watching) did the work,
// and a channel fed by the test hook with each wait that is blocked.
func newWatcher(t *testing.T, poll time.Duration) (*Watcher, chan string) {
	t.Helper()
	// The temp dir's removal is set up first, so it runs after the Close
	// below: on Windows a directory still watched cannot go (Wine, and
	// file systems without POSIX delete, leave it pending, and its parent
	// "not empty").
	t.TempDir()
	w, err := NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	w.PollInterval = poll
	waiting := make(chan string, 1000)
	w.testHookWaiting = func(inbox, id string) { waiting <- id }
	return w, waiting
}

type result struct {
	ok  bool
	err error
}

func goWait(ctx context.Context, w *Watcher, inbox, id string, timeout time.Duration) chan result {
	ch := make(chan result, 1)
	go func() {
		ok, err := w.Wait(ctx, Ack{Inbox: inbox, ID: id}, timeout)
		ch <- result{ok, err}
	}()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(long):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// TestExactAcks is issue 11 item 1: only <id>.ack acks id. Before, any
// name holding the id as a token counted (abc.v2.ack acked abc and v2,
// report.ack acked the id "ack", "notes about abc.txt" acked abc), and so
// did a copy of the message itself (abc.md).
func TestExactAcks(t *testing.T) {
	inbox := t.TempDir()
	for _, name := range []string{"abc.v2.ack", "report.ack", "notes about abc.txt", "abc.md", "abc", "x.abc.done", "ABC.ack"} {
		os.WriteFile(filepath.Join(inbox, name), []byte("x"), 0o600)
	}
	for _, id := range []string{"abc", "v2", "ack"} {
		if ok, err := Acked(inbox, id, time.Time{}); ok || err != nil {
			t.Errorf("Acked(%q) = %v, %v; want false: no %s.ack", id, ok, err, id)
		}
	}
	if runtime.GOOS == "windows" {
		// Case-blind names: writing abc.ack would rewrite ABC.ack.
		os.Remove(filepath.Join(inbox, "ABC.ack"))
	}
	os.WriteFile(filepath.Join(inbox, "abc.ack"), []byte("x"), 0o600)
	if ok, err := Acked(inbox, "abc", time.Time{}); !ok || err != nil {
		t.Errorf("Acked(abc) with abc.ack = %v, %v", ok, err)
	}
	// A symlink named like the ack is none.
	os.Symlink(filepath.Join(inbox, "abc.ack"), filepath.Join(inbox, "v2.ack"))
	if ok, _ := Acked(inbox, "v2", time.Time{}); ok {
		t.Error("a symlink counted as an ack")
	}
}

// TestFreshAcks is issue 11 item 2: an ack older than the message's entry
// into the spool (less ClockSlack) is stale and does not count.
func TestFreshAcks(t *testing.T) {
	inbox := t.TempDir()
	p, err := WriteAck(inbox, "hello")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	entered := time.Now().Add(-time.Minute)
	if ok, _ := Acked(inbox, "hello", entered); ok {
		t.Error("an ack from an hour before the message counted")
	}
	if ok, _ := Stale(Ack{Inbox: inbox, ID: "hello"}); !ok {
		t.Error("Stale does not see the old ack")
	}
	if ok, _ := Acked(inbox, "hello", time.Now().Add(ClockSlack/2)); ok {
		t.Log("(within ClockSlack)")
	}
	WriteAck(inbox, "hello")
	if ok, _ := Acked(inbox, "hello", entered); !ok {
		t.Error("a fresh ack did not count")
	}
	w, _ := newWatcher(t, 10*time.Millisecond)
	os.Chtimes(p, old, old)
	if ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: "hello", Since: entered}, 50*time.Millisecond); ok || err != nil {
		t.Errorf("Wait with a stale ack = %v, %v", ok, err)
	}
}

// TestAckIDRule is issue 11 item 3: ack ids follow the message-id rule.
func TestAckIDRule(t *testing.T) {
	inbox := t.TempDir()
	for _, id := range []string{"x\ny", "a b", "a]b", "-x", ".x", "a\tb"} {
		if _, err := WriteAck(inbox, id); err == nil {
			t.Errorf("WriteAck(%q): no error", id)
		}
	}
	if ents, _ := os.ReadDir(inbox); len(ents) != 0 {
		t.Errorf("inbox holds %v", ents)
	}
	in2 := filepath.Join(t.TempDir(), "new-inbox")
	WriteAck(in2, "ok1")
	if fi, err := os.Stat(in2); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("inbox mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}

func TestWriteAckAndAcked(t *testing.T) {
	inbox := filepath.Join(t.TempDir(), "Agent-1", "inbox") // not there yet
	if ok, err := Acked(inbox, "m1", time.Time{}); ok || err != nil {
		t.Fatalf("Acked(missing inbox) = %v, %v; want false, nil", ok, err)
	}
	path, err := WriteAck(inbox, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(inbox, "m1.ack") {
		t.Errorf("path = %q", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, w := range []string{"id: m1\n", "time: ", "host: " + host + "\n"} {
		if !strings.Contains(string(data), w) {
			t.Errorf("ack content %q lacks %q", data, w)
		}
	}
	if ok, err := Acked(inbox, "m1", time.Time{}); !ok || err != nil {
		t.Errorf("Acked(m1) = %v, %v", ok, err)
	}
	if ok, err := Acked(inbox, "m", time.Time{}); ok || err != nil {
		t.Errorf("Acked(m) = %v, %v; want false: only m.ack acks m", ok, err)
	}
	// Acking again is harmless.
	if _, err := WriteAck(inbox, "m1"); err != nil {
		t.Error(err)
	}
	ents, _ := os.ReadDir(inbox)
	if len(ents) != 1 {
		t.Errorf("inbox holds %v; want only m1.ack (no temp files left)", ents)
	}
	for _, id := range []string{"", ".hidden", "a/b", "a\x00b"} {
		if _, err := WriteAck(inbox, id); err == nil {
			t.Errorf("WriteAck(%q): no error", id)
		}
		if _, err := Acked(inbox, id, time.Time{}); err == nil {
			t.Errorf("Acked(%q): no error", id)
		}
	}
	// A file in place of the inbox is an error, not "not acked".
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Acked(file, "m1", time.Time{}); err == nil {
		t.Error("Acked(a file): no error")
	}
}

func TestAckedIgnoresDotFilesAndDirs(t *testing.T) {
	inbox := t.TempDir()
	for _, name := range []string{".abc.ack.tmp-123", ".abc.ack"} {
		if err := os.WriteFile(filepath.Join(inbox, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(inbox, "abc.ack"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ok, err := Acked(inbox, "abc", time.Time{}); ok || err != nil {
		t.Errorf("Acked = %v, %v; want false: dot-files and directories are not acks", ok, err)
	}
}

// TestWriteAckAtomic watches the inbox while acks are written: every
// visible ack is complete, and the only other names are dot-files.
func TestWriteAckAtomic(t *testing.T) {
	inbox := t.TempDir()
	const n = 100
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			ents, err := os.ReadDir(inbox)
			if err != nil {
				errs <- err
				return
			}
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") {
					continue
				}
				data, err := os.ReadFile(filepath.Join(inbox, e.Name()))
				if err != nil {
					errs <- err
					return
				}
				if !strings.HasSuffix(string(data), "\n") || !strings.Contains(string(data), "host: ") {
					errs <- fmt.Errorf("partial ack %s visible: %q", e.Name(), data)
					return
				}
			}
		}
	}()
	for i := range n {
		if _, err := WriteAck(inbox, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for err := range errs {
		t.Error(err)
	}
	ents, _ := os.ReadDir(inbox)
	if len(ents) != n {
		t.Errorf("%d entries, want %d", len(ents), n)
	}
}

func TestWaitAckBefore(t *testing.T) {
	w, _ := newWatcher(t, time.Hour)
	inbox := t.TempDir()
	if _, err := WriteAck(inbox, "m1"); err != nil {
		t.Fatal(err)
	}
	ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: "m1"}, long)
	if !ok || err != nil {
		t.Errorf("Wait = %v, %v; want true", ok, err)
	}
	// timeout <= 0 looks once.
	if ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: "m1"}, 0); !ok || err != nil {
		t.Errorf("Wait(timeout 0) = %v, %v; want true", ok, err)
	}
}

func TestWaitAckDuring(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inbox := t.TempDir()
	res := goWait(context.Background(), w, inbox, "m1", long)
	recv(t, waiting, "the wait to block")
	written := make(chan error, 1)
	go func() {
		_, err := WriteAck(inbox, "m1")
		written <- err
	}()
	if err := recv(t, written, "WriteAck"); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, res, "Wait"); !r.ok || r.err != nil {
		t.Errorf("Wait = %v, %v; want true", r.ok, r.err)
	}
}

// An ack written in place (touch, then write) rather than renamed in.
func TestWaitAckTouched(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inbox := t.TempDir()
	res := goWait(context.Background(), w, inbox, "m1", long)
	recv(t, waiting, "the wait to block")
	if err := os.WriteFile(filepath.Join(inbox, "m1.ack"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, res, "Wait"); !r.ok || r.err != nil {
		t.Errorf("Wait = %v, %v; want true", r.ok, r.err)
	}
}

func TestWaitNever(t *testing.T) {
	w, _ := newWatcher(t, 10*time.Millisecond)
	inbox := t.TempDir()
	start := time.Now()
	ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: "m1"}, 50*time.Millisecond)
	if ok || err != nil {
		t.Errorf("Wait = %v, %v; want false, nil", ok, err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Wait returned after %v, before its timeout", d)
	}
}

func TestWaitContext(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inbox := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	res := goWait(ctx, w, inbox, "m1", long)
	recv(t, waiting, "the wait to block")
	cancel()
	if r := recv(t, res, "Wait"); r.ok || !errors.Is(r.err, context.Canceled) {
		t.Errorf("Wait = %v, %v; want false, context.Canceled", r.ok, r.err)
	}
	// Already ended: returns at once.
	if ok, err := w.Wait(ctx, Ack{Inbox: inbox, ID: "m1"}, long); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(ended ctx) = %v, %v", ok, err)
	}
}

func TestWaitClose(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	res := goWait(context.Background(), w, t.TempDir(), "m1", long)
	recv(t, waiting, "the wait to block")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, res, "Wait"); r.ok || r.err == nil {
		t.Errorf("Wait after Close = %v, %v; want an error", r.ok, r.err)
	}
}

func TestWaitToken(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inbox := t.TempDir()
	if _, err := WriteAck(inbox, "abcd"); err != nil {
		t.Fatal(err)
	}
	if ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: "abc"}, 30*time.Millisecond); ok || err != nil {
		t.Errorf("Wait(abc) with abcd.ack = %v, %v; want false, nil", ok, err)
	}
	res := goWait(context.Background(), w, inbox, "abc", long)
	recv(t, waiting, "the wait to block")
	// An event for abc-2.ack must not end the wait for abc...
	if _, err := WriteAck(inbox, "abc-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteAck(inbox, "abc"); err != nil {
		t.Fatal(err)
	}
	// ... but abc.ack does.
	if r := recv(t, res, "Wait"); !r.ok || r.err != nil {
		t.Errorf("Wait(abc) = %v, %v; want true", r.ok, r.err)
	}
}

func TestWaitMany(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inboxes := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	const n = 100
	results := make(chan error, n)
	for i := range n {
		inbox, id := inboxes[i%len(inboxes)], fmt.Sprintf("msg-%d", i)
		go func() {
			ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: id}, long)
			if err == nil && !ok {
				err = fmt.Errorf("%s: not acked", id)
			}
			results <- err
		}()
	}
	for range n {
		recv(t, waiting, "the waits to block")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := WriteAck(inboxes[i%len(inboxes)], fmt.Sprintf("msg-%d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for range n {
		if err := recv(t, results, "the waits to end"); err != nil {
			t.Error(err)
		}
	}
	w.mu.Lock()
	left := len(w.waits)
	w.mu.Unlock()
	if left != 0 {
		t.Errorf("%d inboxes still registered after all waits ended", left)
	}
}

func TestWaitCreatesInbox(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inbox := filepath.Join(t.TempDir(), "agent_workspaces", "Agent-1", "inbox")
	res := goWait(context.Background(), w, inbox, "m1", long)
	recv(t, waiting, "the wait to block")
	if fi, err := os.Stat(inbox); err != nil || !fi.IsDir() {
		t.Fatalf("inbox not created by Wait: %v", err)
	}
	if _, err := WriteAck(inbox, "m1"); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, res, "Wait"); !r.ok || r.err != nil {
		t.Errorf("Wait = %v, %v; want true", r.ok, r.err)
	}
}

// The inbox is removed and made again during a wait: its watch is gone with
// it, and the poll finds the ack (and watches the new directory).
func TestWaitInboxRecreated(t *testing.T) {
	w, waiting := newWatcher(t, 10*time.Millisecond)
	inbox := filepath.Join(t.TempDir(), "inbox")
	res := goWait(context.Background(), w, inbox, "m1", long)
	recv(t, waiting, "the wait to block")
	if err := os.RemoveAll(inbox); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteAck(inbox, "m1"); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, res, "Wait"); !r.ok || r.err != nil {
		t.Errorf("Wait = %v, %v; want true", r.ok, r.err)
	}
}

// An event-queue overflow makes every wait look again.
func TestWaitOverflow(t *testing.T) {
	w, waiting := newWatcher(t, time.Hour)
	inbox := t.TempDir()
	res := goWait(context.Background(), w, inbox, "m1", long)
	recv(t, waiting, "the wait to block")
	// Lose the event: no watch, as if the kernel queue had dropped it.
	if err := w.fsw.Remove(inbox); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteAck(inbox, "m1"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		t.Fatalf("Wait = %v, %v before the overflow; the test lost no event", r.ok, r.err)
	default:
	}
	w.handleError(fmt.Errorf("inotify: %w", fsnotify.ErrEventOverflow))
	if r := recv(t, res, "Wait"); !r.ok || r.err != nil {
		t.Errorf("Wait = %v, %v; want true", r.ok, r.err)
	}
}

// An ack pattern (issue 11 item 1) takes a file for the ack of the one id
// its group captures from the whole name: fresh, a regular file, and not a
// copy of the message. A name never acks two ids; without the message's
// body the pattern is not looked at; Stale sees any file of the pattern.
func TestAckPatternTakesOnlyFreshAcksOfItsOwnID(t *testing.T) {
	inbox := t.TempDir()
	pattern := regexp.MustCompile(`^(?:MESSAGE_[0-9]+_(?P<id>.+)\.md)$`)
	const body = "line one\nline two"
	entered := time.Now()
	write := func(name, text string, age time.Duration) {
		t.Helper()
		path := filepath.Join(inbox, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if age != 0 {
			at := entered.Add(-age)
			if err := os.Chtimes(path, at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	find := func(id string) bool {
		t.Helper()
		ok, err := Find(Ack{Inbox: inbox, ID: id, Since: entered, Pattern: pattern, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	write("MESSAGE_1_abc.v2.md", "done\n", 0)
	write("MESSAGE_2_old.md", "done\n", time.Minute)
	write("MESSAGE_3_copy.md", "[agentspool id=copy from=- to=A]\r\nline one\r\nline two\r\n", 0)
	write("MESSAGE_x_bad.md", "done\n", 0)
	write("NOTE_4_note.md", "done\n", 0)
	if err := os.Symlink(filepath.Join(inbox, "MESSAGE_1_abc.v2.md"), filepath.Join(inbox, "MESSAGE_5_link.md")); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{
		"abc.v2": true,  // its own file
		"abc":    false, // a token of another id's name
		"v2":     false,
		"old":    false, // written before the message entered the spool
		"copy":   false, // the message itself, with Windows line ends
		"bad":    false, // the name does not match
		"note":   false,
		"link":   false, // a symlink
	} {
		if got := find(id); got != want {
			t.Errorf("Find(%s) = %v, want %v", id, got, want)
		}
	}
	if ok, _ := Find(Ack{Inbox: inbox, ID: "abc.v2", Since: entered, Pattern: pattern}); ok {
		t.Error("without the message's body a file of the pattern counted: a copy could not be told")
	}
	if ok, _ := Find(Ack{Inbox: inbox, ID: "abc.v2", Since: entered}); ok {
		t.Error("without the pattern a file of it counted")
	}
	for _, id := range []string{"old", "copy"} {
		if ok, _ := Stale(Ack{Inbox: inbox, ID: id, Pattern: pattern}); !ok {
			t.Errorf("Stale(%s) = false: send --id would take an id with a file of the pattern", id)
		}
	}

	// A wait hears a file of the pattern at once, not at the next poll.
	w, err := NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.PollInterval = time.Hour
	go func() {
		time.Sleep(50 * time.Millisecond)
		write("MESSAGE_6_late.md", "done\n", 0)
	}()
	ok, err := w.Wait(context.Background(), Ack{Inbox: inbox, ID: "late", Since: entered, Pattern: pattern, Body: body}, 10*time.Second)
	if !ok || err != nil {
		t.Fatalf("Wait for a file of the pattern = %v, %v", ok, err)
	}
}
