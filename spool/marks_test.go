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
	}
	for _, c := range cases {
		if got := FormatName("b", c.info); got != c.name {
			t.Errorf("FormatName(%+v) = %q, want %q", c.info, got, c.name)
		}
		base, info := ParseName(c.name)
		if base != "b" || info.Attempt != c.info.Attempt || info.Pasting != c.info.Pasting ||
			!info.Submitted.Equal(c.info.Submitted) || !info.NotBefore.Equal(c.info.NotBefore) {
			t.Errorf("ParseName(%q) = %q, %+v", c.name, base, info)
		}
	}
	// Out of order, repeated or malformed marks are foreign suffixes.
	for _, foreign := range []string{"b" + sep + "A1,P,N5", "b" + sep + "A1,P,P", "b" + sep + "A1,Px", "b" + sep + "A1,S", "b" + sep + "A1,Sx"} {
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
