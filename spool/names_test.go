package spool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue "Nothing silent, nothing false" item 5: a sender's name that looks
// like agentspool's info suffix is data. Before, "note:A7,N99999999999999"
// was read as attempt 7, not to be delivered before the year 5138.
func TestSenderInfoSuffixIsData(t *testing.T) {
	s := openTest(t)
	s.EnsureAgent("A")
	name := "note" + sep + "A7,N99999999999999"
	os.WriteFile(filepath.Join(s.Root, "new", "A", name), []byte("hello"), 0o600)
	e, ok, _, err := s.Next("A", time.Now())
	if err != nil || !ok {
		t.Fatalf("Next = %+v, %v, %v; want the message, due now", e, ok, err)
	}
	if e.Attempt != 0 || !e.NotBefore.IsZero() || !e.Entered.IsZero() {
		t.Fatalf("scanned %+v: the sender's name read as retry state", e)
	}
	c, err := s.Claim(e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Attempt != 0 || !c.NotBefore.IsZero() || c.OrigName != name || c.ID != "note" {
		t.Fatalf("claimed %+v; want attempt 0, due now, sent as %q", c, name)
	}
	// After a restart too.
	s2, _ := Open(s.Root)
	if got := scan(t, s2, StateCur, "A"); len(got) != 1 || got[0].Attempt != 0 || got[0].OrigName != name || got[0].ID != "note" {
		t.Fatalf("cur/ after a restart = %+v", got)
	}
	r, err := s2.Retry(scan(t, s2, StateCur, "A")[0], time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Back in new/, the daemon's own name is read as its own.
	if got := scan(t, s2, StateNew, "A"); len(got) != 1 || got[0].Name != r.Name || got[0].Attempt != 1 || got[0].OrigName != name {
		t.Fatalf("new/ after a retry = %+v", got)
	}
}

// Item 5: a sender's "x.reason" is a message, in failed/ and hold/ too.
// Before, it kept its name there: it was hidden from listings as if it
// were a sidecar, and failing "x" beside it overwrote it with x's reason.
func TestSenderReasonSuffixIsAMessage(t *testing.T) {
	for _, st := range []State{StateFailed, StateHold} {
		t.Run(string(st), func(t *testing.T) {
			s := openTest(t)
			s.EnsureAgent("A")
			dir := filepath.Join(s.Root, "new", "A")
			os.WriteFile(filepath.Join(dir, "x.reason"), []byte("body of x.reason"), 0o600)
			os.WriteFile(filepath.Join(dir, "x"), []byte("body of x"), 0o600)
			for _, e := range scan(t, s, StateNew, "A") {
				var err error
				if st == StateFailed {
					_, err = s.Fail(e, "why "+e.Name)
				} else {
					_, err = s.Hold(e, "why "+e.Name)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got := scan(t, s, st, "A")
			var origs []string
			for _, e := range got {
				origs = append(origs, e.OrigName)
				m, err := s.Read(e)
				if err != nil || m.Body != "body of "+e.OrigName {
					t.Errorf("%s (sent as %s) reads %+v, %v", e.Name, e.OrigName, m, err)
				}
				if why, _ := s.Reason(e); !strings.Contains(why, "reason: why "+e.OrigName+"\n") {
					t.Errorf("reason of %s = %q", e.OrigName, why)
				}
			}
			slices.Sort(origs)
			if !slices.Equal(origs, []string{"x", "x.reason"}) {
				t.Fatalf("%s/ lists %v (%+v); want both messages", st, origs, got)
			}
		})
	}
}

// Item 5: no transition replaces a file. A name taken in the destination
// (here, put there by hand) gets a few random digits; the file there is
// kept as it was.
func TestMoveNeverReplaces(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "A", "mine")
	c, err := s.Claim(e)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(s.Root, "done", "A"), 0o700)
	theirs := filepath.Join(s.Root, "done", "A", c.Name)
	os.WriteFile(theirs, []byte("theirs"), 0o600)
	d, err := s.Done(c)
	if err != nil || d.Name == c.Name || d.ID != e.ID {
		t.Fatalf("Done = %+v, %v", d, err)
	}
	if b, _ := os.ReadFile(theirs); string(b) != "theirs" {
		t.Errorf("the file in the way holds %q", b)
	}
	if m, err := s.Read(d); err != nil || m.Body != "mine" {
		t.Errorf("Read(done) = %+v, %v", m, err)
	}
}

// Item 5: the record of a sender's name is written before the move that
// needs it, or the move does not happen: a message whose name could not
// be recorded stays in new/, under its name, for a later try.
func TestClaimWithoutRecordStaysQueued(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "A", "hello")
	names := filepath.Join(s.Root, "names")
	os.RemoveAll(names)
	os.WriteFile(names, []byte("not a directory"), 0o600)
	if _, err := s.Claim(e); err == nil || IsGone(err) {
		t.Fatalf("Claim with no names/ = %v, want an error", err)
	}
	if got := scan(t, s, StateNew, "A"); len(got) != 1 || got[0].Name != e.Name {
		t.Fatalf("new/ = %+v", got)
	}
	os.Remove(names)
	os.Mkdir(names, 0o700)
	if c, err := s.Claim(e); err != nil || c.OrigName != e.Name {
		t.Fatalf("Claim = %+v, %v", c, err)
	}
}
