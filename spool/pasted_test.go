package spool

import (
	"strings"
	"testing"
	"time"
)

// Pasted finds a message for its agent's hook once the daemon pasted it,
// wherever it is now, and never before (an envelope typed by hand is no
// delivery).
func TestPastedFindsAMessageOnlyOnceItWasPasted(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "Agent-1", "hello")
	if _, ok, err := s.Pasted("Agent-1", e.ID); ok || err == nil || !strings.Contains(err.Error(), "never pasted") {
		t.Fatalf("queued, never pasted: ok %v, err %v", ok, err)
	}
	c, err := s.Claim(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Pasted("Agent-1", e.ID); ok {
		t.Fatal("claimed, not yet marked pasting: found")
	}
	p, err := s.Mark(c, true, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Pasted("Agent-1", e.ID); !ok || err != nil || got.State != StateCur {
		t.Fatalf("marked pasting: %+v, %v, %v", got, ok, err)
	}
	// After an ack timeout the message is back in new/ with an attempt
	// counted: a late submit of it is still its delivery.
	r, err := s.Retry(p, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Pasted("Agent-1", e.ID); !ok || err != nil || got.State != StateNew || got.Name != r.Name {
		t.Fatalf("back in new/ after a timeout: %+v, %v, %v", got, ok, err)
	}
	if _, ok, err := s.Pasted("Agent-2", e.ID); ok || err == nil {
		t.Fatalf("another agent's: ok %v, err %v", ok, err)
	}
	if _, _, err := s.Pasted("Agent-1", "../x"); err == nil {
		t.Fatal("an invalid id is looked up")
	}
}

// A paste that may show in the input yet (a pane that had not drawn it
// when its attempt stopped waiting): the daemon marks it submitted at the
// paste, then postpones it to new/ with no attempt counted. It stays found,
// so that whoever submits it (a person's Enter) has it acked.
func TestPastedFindsAPostponedMessageWhosePasteMayShowYet(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "Agent-1", "hello")
	c, err := s.Claim(e)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Mark(c, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Postpone(m, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if p.Attempt != 0 || p.FirstSubmit.IsZero() {
		t.Fatalf("postponed: attempt %d, first submit %v; want 0 and the paste's time", p.Attempt, p.FirstSubmit)
	}
	if got, ok, err := s.Pasted("Agent-1", e.ID); !ok || err != nil || got.State != StateNew {
		t.Fatalf("postponed after a paste that may show: %+v, %v, %v", got, ok, err)
	}
}
