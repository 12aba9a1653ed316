package service

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
)

// TestAttemptResultOfTheDeliverersOwnErrors: each way an attempt goes
// wrong, made to happen on the fake desktop by the real Deliverer, lands
// in its result class. attemptResult tells some classes apart by the
// errors' text (deliver exports no check for them); a reworded error
// fails here instead of silently counting as "error".
func TestAttemptResultOfTheDeliverersOwnErrors(t *testing.T) {
	draftKeys := &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	for _, tc := range []struct {
		name  string
		setup func(d *fakedesktop.Desk, dl *deliver.Deliverer, tg *deliver.Target)
		want  string
	}{
		{"submitted", func(*fakedesktop.Desk, *deliver.Deliverer, *deliver.Target) {}, ResultSubmitted},
		{"the click focuses another window", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.AfterClick = func(d *fakedesktop.Desk, x, y int) { d.Focus("Editor") }
		}, ResultFocusMismatch},
		{"a copy after every offer", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.AfterOffer = func(d *fakedesktop.Desk) { d.Clobber("CLOBBER") }
		}, ResultClipboardTaken},
		{"a copy before every paste key", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
				if strings.Join(combo, "+") == "ctrl+v" {
					d.Clobber("CLOBBER")
				}
			}
		}, ResultClipboardTaken},
		{"the clipboard's owner never answers", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.SetClipboard([]byte("theirs"))
			d.Clobber("held by a hung client")
			d.ClipboardErr = deliver.ErrClipboardSilent
		}, ResultClipboardTaken},
		{"the window never reads the paste", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.NeverFetch = true
		}, ResultNotFetched},
		{"a person types during the delivery", func(d *fakedesktop.Desk, dl *deliver.Deliverer, _ *deliver.Target) {
			dl.QuietFor, dl.QuietMaxWait = 50*time.Millisecond, time.Second
			d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
				if strings.Join(combo, "+") == "ctrl+v" {
					d.PersonTypes("hello")
				}
			}
		}, ResultPerson},
		{"a person keeps typing", func(d *fakedesktop.Desk, dl *deliver.Deliverer, _ *deliver.Target) {
			dl.QuietFor, dl.QuietMaxWait = 50*time.Millisecond, 200*time.Millisecond
			done := make(chan struct{})
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				for {
					d.PersonTypes("x")
					select {
					case <-done:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}()
			t.Cleanup(func() { close(done); <-stopped })
		}, ResultPerson},
		{"the input holds a draft", func(d *fakedesktop.Desk, _ *deliver.Deliverer, tg *deliver.Target) {
			d.Click(50, 50)
			d.PersonTypes("DRAFT")
			tg.Draft = draftKeys
		}, ResultDraft},
		// A vanished window reads as a focus mismatch (nothing is pasted).
		{"the window vanishes", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.FocusErr = errors.New("BadWindow")
		}, ResultFocusMismatch},
		{"the person's clipboard cannot be read", func(d *fakedesktop.Desk, _ *deliver.Deliverer, _ *deliver.Target) {
			d.SetClipboard([]byte("theirs"))
			d.Clobber("theirs")
			d.ClipboardErr = errors.New("BadAtom")
		}, ResultError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedesktop.New()
			d.AddWindow("Agent-1", 101, 0, 0, 100, 100)
			d.AddWindow("Editor", 103, 200, 0, 100, 100)
			dl := &deliver.Deliverer{Desktop: d, Timings: deliver.NewTimings(time.Millisecond, 100*time.Millisecond)}
			tg := deliver.Target{Agent: "Agent-1", X: 50, Y: 50, Window: `"Agent-1"`,
				Match:  func(title string) bool { return title == "Agent-1" },
				Submit: []string{"enter"}, Undo: []string{"ctrl", "z"}}
			tc.setup(d, dl, &tg)
			_, err := dl.Deliver(context.Background(), tg, "the message")
			if got := attemptResult(err); got != tc.want {
				t.Fatalf("attemptResult(%v) = %s, want %s", err, got, tc.want)
			}
		})
	}
}
