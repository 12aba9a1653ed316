package spool

import (
	"testing"
	"time"
)

func TestInfoMarksRoundTrip(t *testing.T) {
	sub := time.UnixMilli(1764228800123)
	nb := time.UnixMilli(1764228700000)
	cases := []struct {
		name string
		info Info
	}{
		{"b" + sep + "A0,P", Info{Pasting: true}},
		{"b" + sep + "A1,S1764228800123", Info{Attempt: 1, Submitted: sub}},
		{"b" + sep + "A2,N1764228700000,P,S1764228800123", Info{Attempt: 2, NotBefore: nb, Pasting: true, Submitted: sub}},
		{"b" + sep + "A1,E1764228600000,F1764228800123,N1764228700000", Info{Attempt: 1, Entered: time.UnixMilli(1764228600000), FirstSubmit: sub, NotBefore: nb}},
	}
	for _, c := range cases {
		if got := FormatName("b", c.info); got != c.name {
			t.Errorf("FormatName(%+v) = %q, want %q", c.info, got, c.name)
		}
		base, info := ParseName(c.name)
		if base != "b" || info.Attempt != c.info.Attempt || info.Pasting != c.info.Pasting ||
			!info.Submitted.Equal(c.info.Submitted) || !info.NotBefore.Equal(c.info.NotBefore) ||
			!info.FirstSubmit.Equal(c.info.FirstSubmit) || !info.Entered.Equal(c.info.Entered) {
			t.Errorf("ParseName(%q) = %q, %+v", c.name, base, info)
		}
	}
	// Out of order, repeated or malformed marks are foreign suffixes.
	for _, foreign := range []string{"b" + sep + "A1,P,N5", "b" + sep + "A1,P,P", "b" + sep + "A1,Px", "b" + sep + "A1,S", "b" + sep + "A1,Sx", "b" + sep + "A1,N5,F5"} {
		if _, info := ParseName(foreign); info != (Info{}) {
			t.Errorf("ParseName(%q) = %+v, want zero info", foreign, info)
		}
	}
}

func TestMarkPostponeAndAgentHold(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "Agent-1", "hello")
	c, err := s.Claim(e)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Mark(c, true, time.Time{})
	if err != nil || !p.Pasting || p.State != StateCur {
		t.Fatalf("Mark pasting: %+v, %v", p, err)
	}
	at := time.UnixMilli(time.Now().UnixMilli())
	m, err := s.Mark(p, false, at)
	if err != nil || m.Pasting || !m.Submitted.Equal(at) {
		t.Fatalf("Mark submitted: %+v, %v", m, err)
	}
	// A fresh scan (a restart) sees the mark.
	again, _ := Open(s.Root)
	cur := scan(t, again, StateCur, "Agent-1")
	if len(cur) != 1 || !cur[0].Submitted.Equal(at) || cur[0].ID != e.ID {
		t.Fatalf("cur after reopen: %+v", cur)
	}
	// Postpone keeps the attempt count and clears the marks.
	nb := time.Now().Add(time.Hour)
	back, err := s.Postpone(m, nb)
	if err != nil || back.State != StateNew || back.Attempt != 0 || back.Pasting || !back.Submitted.IsZero() {
		t.Fatalf("Postpone: %+v, %v", back, err)
	}
	if _, ok, wake, _ := s.Next("Agent-1", time.Now()); ok || !wake.Equal(time.UnixMilli(nb.UnixMilli())) {
		t.Fatalf("a postponed message: due %v, wake %v; want not due, wake at its not-before %v", ok, wake, nb)
	}
	if _, ok, _, _ := s.Next("Agent-1", nb.Add(time.Second)); !ok {
		t.Fatal("a postponed message is not due after its not-before")
	}

	if _, held := s.AgentHeld("Agent-1"); held {
		t.Fatal("held before HoldAgent")
	}
	if err := s.HoldAgent("Agent-1", "focus mismatch 3 times"); err != nil {
		t.Fatal(err)
	}
	if reason, held := s.AgentHeld("Agent-1"); !held || reason != "focus mismatch 3 times" {
		t.Fatalf("AgentHeld = %q, %v", reason, held)
	}
	if es := scan(t, s, StateHold, "Agent-1"); len(es) != 0 {
		t.Fatalf("the agent mark shows up as a message: %+v", es)
	}
	if err := s.ReleaseAgent("Agent-1"); err != nil {
		t.Fatal(err)
	}
	if _, held := s.AgentHeld("Agent-1"); held {
		t.Fatal("still held after ReleaseAgent")
	}
	if err := s.HoldAgent("../x", "r"); !IsBadAgent(err) {
		t.Fatalf("HoldAgent(../x) = %v", err)
	}
}

// The first submit of a message's attempt series travels with it: acks
// count from it (Entry.AckSince), so it must survive the retry, a postpone,
// the next claim, a hold and its release, and a restart; a requeue from
// failed/ starts a new series without it.
func TestFirstSubmitTravelsWithTheSeries(t *testing.T) {
	s := openTest(t)
	c, err := s.Claim(enqueue(t, s, "Agent-1", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.AckSince(); ok {
		t.Fatalf("a message never submitted has an ack time: %+v", c)
	}
	first := time.UnixMilli(time.Now().UnixMilli())
	m, err := s.Mark(c, false, first)
	if err != nil || !m.FirstSubmit.Equal(first) {
		t.Fatalf("Mark submitted: %+v, %v", m, err)
	}
	r, err := s.Retry(m, time.Time{})
	if err != nil || !r.FirstSubmit.Equal(first) || !r.Submitted.IsZero() {
		t.Fatalf("Retry: %+v, %v", r, err)
	}
	c2, err := s.Claim(r)
	if err != nil || !c2.FirstSubmit.Equal(first) {
		t.Fatalf("Claim again: %+v, %v", c2, err)
	}
	m2, err := s.Mark(c2, false, first.Add(time.Minute))
	if since, ok := m2.AckSince(); err != nil || !ok || !since.Equal(first) {
		t.Fatalf("a second submit moved the ack time: %v, %v, %v", since, ok, err)
	}
	p, err := s.Postpone(m2, time.Time{})
	if err != nil || !p.FirstSubmit.Equal(first) {
		t.Fatalf("Postpone: %+v, %v", p, err)
	}
	h, err := s.Hold(p, "parked")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := s.Release(h)
	if err != nil || !rel.FirstSubmit.Equal(first) {
		t.Fatalf("Release: %+v, %v", rel, err)
	}
	again, _ := Open(s.Root)
	if es := scan(t, again, StateNew, "Agent-1"); len(es) != 1 || !es[0].FirstSubmit.Equal(first) {
		t.Fatalf("after a reopen: %+v", es)
	}
	f, err := s.Fail(rel, "given up")
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.Requeue(f)
	if err != nil || !q.FirstSubmit.IsZero() {
		t.Fatalf("Requeue: %+v, %v", q, err)
	}
}

// NextFirst puts the first message its predicate holds for before every
// other: it is returned when due, and while it is not, no other is (wake
// is its not-before); with no such message it is Next.
func TestNextFirstPutsOneMessageBeforeTheOthers(t *testing.T) {
	s := openTest(t)
	a := enqueue(t, s, "Agent-1", "queued first")
	// Apart by more than a file time's tick (the kernel's coarse clock:
	// up to 10 ms): b is claimed out of turn below, and a message claimed
	// before goes first among those of its millisecond.
	time.Sleep(20 * time.Millisecond)
	b := enqueue(t, s, "Agent-1", "queued second")
	isB := func(e Entry) bool { return e.ID == b.ID }
	if e, ok, _, _ := s.NextFirst("Agent-1", time.Now(), isB, nil); !ok || e.ID != b.ID {
		t.Fatalf("NextFirst: %v %v, want the second", e.ID, ok)
	}
	c, err := s.Claim(b)
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Now().Add(time.Hour)
	if _, err := s.Postpone(c, nb); err != nil {
		t.Fatal(err)
	}
	if e, ok, wake, _ := s.NextFirst("Agent-1", time.Now(), isB, nil); ok || !wake.Equal(time.UnixMilli(nb.UnixMilli())) {
		t.Fatalf("NextFirst, its message not due: %v %v wake %v; want none, wake at %v", e.ID, ok, wake, nb)
	}
	if e, ok, _, _ := s.NextFirst("Agent-1", time.Now(), func(Entry) bool { return false }, nil); !ok || e.ID != a.ID {
		t.Fatalf("NextFirst, no message of its: %v %v, want the first", e.ID, ok)
	}
}

// A postponed or retried message keeps its place in its agent's queue: it
// is waited for, not passed by those queued after it (an agent sees its
// messages in order; the tmux proof's Tk windows once got one last, after
// a paste refused for a moment), while other agents' messages go on.
func TestAPostponedMessageKeepsItsPlace(t *testing.T) {
	s := openTest(t)
	a := enqueue(t, s, "Agent-1", "queued first")
	b := enqueue(t, s, "Agent-1", "queued second")
	o := enqueue(t, s, "Agent-2", "another agent's")
	c, err := s.Claim(a)
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Now().Add(time.Hour)
	if _, err := s.Postpone(c, nb); err != nil {
		t.Fatal(err)
	}
	if e, ok, wake, _ := s.Next("Agent-1", time.Now()); ok || !wake.Equal(time.UnixMilli(nb.UnixMilli())) {
		t.Fatalf("Next: %v %v wake %v; want the postponed first message waited for, wake at %v", e.ID, ok, wake, nb)
	}
	if e, ok, _, _ := s.Next("", time.Now()); !ok || e.ID != o.ID {
		t.Fatalf("Next of any agent: %v %v; want the other agent's", e.ID, ok)
	}
	// One that keeps failing on its own may be passed.
	if e, ok, _, _ := s.NextFirst("Agent-1", time.Now(), nil, func(e Entry) bool { return e.ID == a.ID }); !ok || e.ID != b.ID {
		t.Fatalf("NextFirst, the first passable: %v %v; want the second", e.ID, ok)
	}
	due, ok, _, _ := s.Next("Agent-1", nb.Add(time.Second))
	if !ok || due.ID != a.ID {
		t.Fatalf("Next when due: %v %v; want the first message, before %v", due.ID, ok, b.ID)
	}
	c, err = s.Claim(due)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Retry(c, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if e, ok, _, _ := s.Next("Agent-1", time.Now()); !ok || e.ID != a.ID {
		t.Fatalf("after a retry: %v %v; want the first message still first", e.ID, ok)
	}
}
