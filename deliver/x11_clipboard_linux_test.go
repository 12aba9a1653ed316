package deliver

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// The message is served only to our own read-back and to the agent's
// window's client from the moment it owns the CLIPBOARD: another client
// (xclip, a clipboard manager that fetches on every owner change) asking
// before, during or after the read-back gets nothing. Before, anyone got
// it until the offer was restricted, after the read-back, so every message
// landed in the person's clipboard history (issue 19, item 3).
func TestX11OfferIsRestrictedFromBirth(t *testing.T) {
	d := startDesktop(t, 1)
	x := newX11(t)
	text := "[agentspool id=secret1 from=test to=Agent-1]\nnot for the clipboard history"
	xclipOut := func(when string) {
		t.Helper()
		out, err := exec.Command("xclip", "-o", "-selection", "clipboard").Output()
		if strings.Contains(string(out), "secret1") {
			t.Errorf("%s: another client (xclip -o) read %q", when, out)
		} else {
			t.Logf("%s: xclip -o got %q (%v)", when, out, err)
		}
	}
	o, err := x.Offer([]byte(text), x.client(d.Agents[0].WindowID))
	if err != nil {
		t.Fatal(err)
	}
	xclipOut("before the read-back")
	for i := 0; i < 2; i++ {
		if got, err := x.Clipboard(); err != nil || string(got) != text {
			t.Fatalf("read-back %d: %q (%v), want the message", i, got, err)
		}
		xclipOut(fmt.Sprintf("after read-back %d", i))
	}
	o.Close()

	// A clipboard manager fetches the text on every owner change, while
	// deliveries run; they still deliver, and the manager gets the
	// person's copy (put back after each) but never a message.
	mgr := newClipboardManager(t, d.Display)
	if err := x.SetClipboard([]byte("the person's copy")); err != nil {
		t.Fatal(err)
	}
	dl := &Deliverer{Desktop: x, Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	var want []string
	for i := 0; i < 3; i++ {
		m := fmt.Sprintf("[agentspool id=secret%d from=test to=%s]\nmessage %d", i+2, d.Agents[0].Name, i)
		if _, err := dl.Deliver(context.Background(), targetOf(d.Agents[0]), m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want = append(want, m)
	}
	assertSubmits(t, d, d.Agents[0].Name, want)
	persons := 0
	for _, got := range mgr.wait(t) {
		if strings.Contains(got, "secret") {
			t.Errorf("the clipboard manager got %q", got)
		}
		if got == "the person's copy" {
			persons++
		}
	}
	if persons == 0 {
		t.Errorf("the clipboard manager never got the person's copy: it reads nothing, and proves nothing")
	}
}

// clipboardManager fetches the CLIPBOARD's text every time its owner
// changes (XFixes), as clipman, GPaste or KDE's Klipper do.
type clipboardManager struct {
	c                 *xgb.Conn
	mu                sync.Mutex
	changes, answered int
	got               []string
}

func newClipboardManager(t *testing.T, display string) *clipboardManager {
	t.Helper()
	c, win, clip := otherClient(t, display)
	if err := xfixes.Init(c); err != nil {
		t.Fatal(err)
	}
	if _, err := xfixes.QueryVersion(c, 2, 0).Reply(); err != nil {
		t.Fatal(err)
	}
	utf8Atom, _ := xproto.InternAtom(c, false, 11, "UTF8_STRING").Reply()
	prop, _ := xproto.InternAtom(c, false, 8, "MGR_DATA").Reply()
	if err := xfixes.SelectSelectionInputChecked(c, win, clip.Atom, xfixes.SelectionEventMaskSetSelectionOwner).Check(); err != nil {
		t.Fatal(err)
	}
	m := &clipboardManager{c: c}
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			switch e := ev.(type) {
			case xfixes.SelectionNotifyEvent:
				if e.Owner == 0 {
					continue
				}
				m.mu.Lock()
				m.changes++
				m.mu.Unlock()
				xproto.ConvertSelection(c, win, clip.Atom, utf8Atom.Atom, prop.Atom, xproto.TimeCurrentTime)
			case xproto.SelectionNotifyEvent:
				var s string
				if e.Property != xproto.AtomNone {
					if r, err := xproto.GetProperty(c, true, win, e.Property, xproto.AtomAny, 0, 1<<20).Reply(); err == nil {
						s = string(r.Value)
					}
				}
				m.mu.Lock()
				m.answered++
				m.got = append(m.got, s)
				m.mu.Unlock()
			}
		}
	}()
	return m
}

// wait returns what the manager got once every owner change it saw was
// answered.
func (m *clipboardManager) wait(t *testing.T) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		changes, answered, got := m.changes, m.answered, append([]string(nil), m.got...)
		m.mu.Unlock()
		if changes > 0 && answered >= changes {
			t.Logf("the clipboard manager saw %d owner changes, got %q", changes, got)
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clipboard manager saw %d owner changes, %d answered", changes, answered)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
