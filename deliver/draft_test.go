package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
)

// The draft check as the daemon runs it by default (issue 14 item 4): a
// look before the paste, a verifying look after it.
func draftTarget(name string, x int) deliver.Target {
	tg := target(name, x)
	tg.Read = &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	tg.Draft, tg.Verify = tg.Read, true
	return tg
}

// draftDeliverer has a copy deadline well above a quick look's wait
// (Deadline's 250 ms floor), as a running daemon's has.
func draftDeliverer(d deliver.Desktop) *deliver.Deliverer {
	return &deliver.Deliverer{Desktop: d, Timings: deliver.NewTimings(time.Millisecond, 2*time.Second)}
}

// deliverN delivers n messages to Agent-2 and returns each one's count of
// quick looks.
func deliverN(t *testing.T, d *fakedesktop.Desk, dl *deliver.Deliverer, tg deliver.Target, n int) []int {
	t.Helper()
	var quick []int
	var want []string
	for i := range n {
		text := fmt.Sprintf("message %d of %d for %s", i, n, tg.Agent)
		rep, err := dl.Deliver(context.Background(), tg, text)
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		quick = append(quick, rep.QuickLooks)
		want = append(want, text)
	}
	if got := d.Window(tg.Agent).Submits; len(got) < n || !slices.Equal(got[len(got)-n:], want) {
		t.Fatalf("%s submits %q, want them to end with %q", tg.Agent, got, want)
	}
	return quick
}

// Once 8 looks that copied text all saw the window take PRIMARY on the
// select-all, a draft check takes an input whose select-all does not show
// for empty, without waiting out the copy deadline; before that, never.
func TestDraftCheckTellsAnEmptyInputByItsPrimary(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("PERSON"))
	dl := draftDeliverer(d)
	quick := deliverN(t, d, dl, draftTarget("Agent-2", 150), 12)
	// Each delivery's verifying look copies the message: 8 of them are
	// learned after 8 deliveries, so the 9th draft check is quick.
	if want := []int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}; !slices.Equal(quick, want) {
		t.Fatalf("quick looks per delivery %v, want %v", quick, want)
	}
	if clip, _ := d.Clipboard(); string(clip) != "PERSON" {
		t.Fatalf("the person's clipboard is %q after the deliveries", clip)
	}
}

// On a desk without a PRIMARY selection to watch (Windows), a draft
// check takes an input for empty when no copy came in the time copies
// take there (Prompt(StepCopy)), once 8 looks in a row copied; and a
// person's draft is still seen.
func TestDraftCheckWithoutSelectionsIsQuickByTheCopy(t *testing.T) {
	d := desk(t)
	d.NoSelections = true
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	quick := deliverN(t, d, dl, tg, 12)
	if want := []int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}; !slices.Equal(quick, want) {
		t.Fatalf("quick looks per delivery %v, want %v", quick, want)
	}
	d.Focus("Agent-2")
	d.PersonTypes("a draft")
	if _, err := dl.Deliver(context.Background(), tg, "the message"); !deliver.IsDraft(err) {
		t.Fatalf("into a draft: %v", err)
	}
	if w := d.Window("Agent-2"); w.Input != "a draft" || len(w.Submits) != 12 {
		t.Fatalf("input %q, %d submits", w.Input, len(w.Submits))
	}
}

// A window that does not show a select-all by taking PRIMARY on a desk
// that watches it (Tk once it owns it, an app that does not export its
// selection) never has a quick look: its draft checks wait their
// deadline, and still deliver.
func TestDraftCheckWithoutPrimaryIsNeverQuick(t *testing.T) {
	d := desk(t)
	d.NoPrimary = true
	quick := deliverN(t, d, draftDeliverer(d), draftTarget("Agent-2", 150), 10)
	if slices.Max(quick) != 0 {
		t.Fatalf("quick looks %v into a window that never takes PRIMARY", quick)
	}
}

// Without a verifying look after the paste, a quick draft check that was
// wrong would merge the draft into the submit: it is never quick.
func TestDraftCheckIsQuickOnlyWithVerify(t *testing.T) {
	d := desk(t)
	tg := draftTarget("Agent-2", 150)
	tg.Verify = false
	quick := deliverN(t, d, draftDeliverer(d), tg, 10)
	if slices.Max(quick) != 0 {
		t.Fatalf("quick looks %v without verify", quick)
	}
}

// A person's draft is seen by the quick draft check (their select-all
// shows): nothing is pasted or submitted, the draft stays as it was, and
// the message goes once the input is clear.
func TestDraftIsNeitherSubmittedNorDestroyed(t *testing.T) {
	d := desk(t)
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	deliverN(t, d, dl, tg, 9) // learned: the draft checks are quick now
	d.Focus("Agent-2")
	d.PersonTypes("half a thought")
	_, err := dl.Deliver(context.Background(), tg, "the message")
	if !deliver.IsDraft(err) {
		t.Fatalf("delivery into a draft: err %v, want a draft error", err)
	}
	w := d.Window("Agent-2")
	if w.Input != "half a thought" || len(w.Submits) != 9 {
		t.Fatalf("after the draft check: input %q, %d submits; want the draft untouched and nothing submitted", w.Input, len(w.Submits))
	}
	d.ClearInput("Agent-2") // the person sends their draft or deletes it
	if _, err := dl.Deliver(context.Background(), tg, "the message"); err != nil {
		t.Fatalf("into the cleared input: %v", err)
	}
	if got := d.Window("Agent-2").Submits; got[len(got)-1] != "the message" {
		t.Fatalf("last submit %q", got[len(got)-1])
	}
}

// A window that lags behind its keys (a loaded desktop) shows the draft
// check's select-all only after the quick look gave up on it: the draft
// check is wrong, and the verifying look must catch it. Nothing is
// submitted, the person's draft is still in the input, the attempt fails,
// and quick looks stop for that window until it has shown its select-alls
// in time again.
func TestQuickDraftCheckThatMissesADraftSubmitsNothing(t *testing.T) {
	for _, noSelections := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-selections=%v", noSelections), func(t *testing.T) { quickDraftCheckMisses(t, noSelections) })
	}
}

func quickDraftCheckMisses(t *testing.T, noSelections bool) {
	d := desk(t)
	d.NoSelections = noSelections
	d.SetClipboard([]byte("PERSON"))
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	deliverN(t, d, dl, tg, 9)
	d.Focus("Agent-2")
	d.PersonTypes("draft")
	d.Lag = 150 * time.Millisecond // far past the quick look's wait (30 ms)
	rep, err := dl.Deliver(context.Background(), tg, "the message")
	time.Sleep(3 * d.Lag) // the window catches up with its keys
	if err == nil {
		t.Fatalf("a delivery into a draft succeeded: report %+v", rep)
	}
	w := d.Window("Agent-2")
	if len(w.Submits) != 9 {
		t.Fatalf("submits %q: the lagging window submitted something", w.Submits[9:])
	}
	if w.Input != "draft" {
		t.Fatalf("the input holds %q after the failed attempt, want the person's draft as typed", w.Input)
	}
	if rep.QuickLooks != 1 {
		t.Fatalf("quick looks %d, want 1 (the scenario did not happen)", rep.QuickLooks)
	}
	d.Lag = 0
	d.ClearInput("Agent-2")
	rep, err = dl.Deliver(context.Background(), tg, "the message")
	if err != nil {
		t.Fatal(err)
	}
	if rep.QuickLooks != 0 {
		t.Fatal("a quick look right after one that was wrong")
	}
}

// Without a draft check, the verifying look sees the message merged with a
// draft: the paste is taken back, the draft is left as it was, nothing is
// submitted, and the message waits (a draft error) until the input is
// clear.
func TestVerifyTakesAPasteMergedWithADraftBack(t *testing.T) {
	d := desk(t)
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	tg.Draft = nil
	d.Focus("Agent-2")
	d.PersonTypes("my draft")
	rep, err := dl.Deliver(context.Background(), tg, "the message")
	if !deliver.IsDraft(err) || !rep.Merged {
		t.Fatalf("err %v, merged %v; want a draft error for a merged paste", err, rep.Merged)
	}
	if w := d.Window("Agent-2"); w.Input != "my draft" || len(w.Submits) != 0 {
		t.Fatalf("input %q, submits %q; want the draft untouched, nothing submitted", w.Input, w.Submits)
	}
	d.ClearInput("Agent-2")
	if _, err := dl.Deliver(context.Background(), tg, "the message"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-2").Submits; !slices.Equal(got, []string{"the message"}) {
		t.Fatalf("submits %q", got)
	}
}

// A window whose empty input copies something (Monaco copies its empty
// line) never has a quick look, and that is remembered: under load its
// empty copy can come after a look's deadline, so that the looks that
// copied are all of text and all showed their select-all, and a quick
// verdict would then come before the late copy, which takes the clipboard
// from the paste (the proof saw Monaco paste its own "\n" that way). Here
// the window copies on empty once, then (as under load) no more.
func TestDraftCheckNeverQuickWhereAnEmptyInputCopied(t *testing.T) {
	d := desk(t)
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	d.EmptyCopies = "\n"
	first := deliverN(t, d, dl, tg, 1)
	d.EmptyCopies = ""
	rest := deliverN(t, d, dl, tg, 12)
	if slices.Max(append(first, rest...)) != 0 {
		t.Fatalf("quick looks %v, %v into a window whose empty input copied", first, rest)
	}
}

// A window that dropped the submit key keeps the message in its input.
// After LookFirst (the daemon calls it when that message's ack does not
// come) the agent's next delivery looks first and clears the input, so the
// next message goes alone; without it, the next paste lands next to the
// old message, the verifying look sees them merged, and the next message
// waits.
func TestLookFirstClearsWhatADroppedSubmitLeft(t *testing.T) {
	for _, lookFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("LookFirst=%v", lookFirst), func(t *testing.T) {
			d := desk(t)
			dl := deliverer(d)
			tg := draftTarget("Agent-2", 150)
			tg.Draft = nil // as the daemon's verify_paste without draft_check
			d.DropEnters = 1
			if _, err := dl.Deliver(context.Background(), tg, "first"); err != nil {
				t.Fatal(err)
			}
			if w := d.Window("Agent-2"); w.Input != "first" || len(w.Submits) != 0 {
				t.Fatalf("the dropped Enter: input %q, submits %q", w.Input, w.Submits)
			}
			if lookFirst {
				dl.LookFirst("Agent-2")
			}
			_, err := dl.Deliver(context.Background(), tg, "second")
			w := d.Window("Agent-2")
			if lookFirst {
				if err != nil || !slices.Equal(w.Submits, []string{"second"}) || w.Input != "" {
					t.Fatalf("after LookFirst: err %v, submits %q, input %q; want the second alone", err, w.Submits, w.Input)
				}
				return
			}
			if !deliver.IsDraft(err) || len(w.Submits) != 0 || w.Input != "first" {
				t.Fatalf("without LookFirst: err %v, submits %q, input %q; want the second waiting behind the first", err, w.Submits, w.Input)
			}
		})
	}
}

// A paste that inserted nothing into an input holding a person's draft
// (no draft check to see it): the verifying look finds text without the
// message, so nothing of ours is there. The draft is left exactly as it is
// and no undo is tapped (it would take back the person's last edit); the
// message waits.
func TestPasteThatInsertedNothingIntoADraftTapsNoUndo(t *testing.T) {
	d := desk(t)
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	tg.Draft = nil
	d.Focus("Agent-2")
	d.PersonTypes("the person's draft")
	d.DropPastes = 1
	_, err := dl.Deliver(context.Background(), tg, "the message")
	if !deliver.IsDraft(err) {
		t.Fatalf("err %v, want a draft error", err)
	}
	if w := d.Window("Agent-2"); w.Input != "the person's draft" || len(w.Submits) != 0 {
		t.Fatalf("input %q, submits %q", w.Input, w.Submits)
	}
	for _, k := range d.Keys() {
		if strings.Join(k, "+") == "ctrl+z" {
			t.Fatalf("keys %v: an undo was tapped into the person's draft", d.Keys())
		}
	}
}

// A delivery stopped for a person after its paste taps the undo without a
// look, and the undo can miss: here a person's key that reached the input
// after the paste is what it takes back (in a CI run of the Windows proof
// the input held the whole paste after such an undo, cause not known). The
// input holds the message, whole and alone. That is no draft to wait
// behind (that run's agent waited until the proof timed out): the agent's
// next delivery erases it if it is another message's, or submits it if it
// is this one's. Each message is submitted exactly once.
func TestAnUndoSpentOnAPersonsKeyStrandsNoPaste(t *testing.T) {
	for _, next := range []string{"another message", "the same message"} {
		t.Run(next, func(t *testing.T) {
			d := desk(t)
			dl := draftDeliverer(d)
			dl.QuietFor, dl.QuietMaxWait = 20*time.Millisecond, 5*time.Second
			tg := draftTarget("Agent-2", 150)
			pastes, leaked := 0, false
			d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
				switch strings.Join(combo, "+") {
				case "ctrl+v":
					pastes++
				case "end":
					if pastes == 1 && !leaked { // the verifying look's caret
						leaked = true
						d.PersonTypesThrough("p")
						d.PersonKeyDown(true) // and is seen: the key is still down
					}
				}
			}
			first := "[agentspool id=first] the first message"
			if _, err := dl.Deliver(context.Background(), tg, first); !deliver.IsPersonActive(err) {
				t.Fatalf("err %v, want a stop for the person", err)
			}
			d.PersonKeyDown(false)
			if w := d.Window("Agent-2"); w.Input != first || len(w.Submits) != 0 {
				t.Fatalf("after the stop: input %q, submits %q; want the first message left by an undo spent on the person's key", w.Input, w.Submits)
			}
			want := []string{first}
			if next == "another message" {
				second := "[agentspool id=second] the second message"
				rep, err := dl.Deliver(context.Background(), tg, second)
				if err != nil || !rep.Erased {
					t.Fatalf("the second message: err %v, erased %v; want the first's paste erased and the second delivered", err, rep.Erased)
				}
				want = []string{second, first}
			}
			rep, err := dl.Deliver(context.Background(), tg, first)
			if err != nil {
				t.Fatal(err)
			}
			w := d.Window("Agent-2")
			if !slices.Equal(w.Submits, want) || w.Input != "" {
				t.Fatalf("submits %q, input %q; want %q, each once", w.Submits, w.Input, want)
			}
			if next == "the same message" && (rep.Landing != "left" || pastes != 1) {
				t.Fatalf("landing %q after %d pastes; want the first message's own paste submitted, not pasted again", rep.Landing, pastes)
			}
		})
	}
}

// The draft check takes an input that holds the message itself and
// nothing else (an earlier attempt's paste that a crash left) for that
// paste, and submits it, once; the same text with anything added is a
// draft.
func TestDraftCheckSubmitsTheMessageItselfLeftInTheInput(t *testing.T) {
	const msg = "[agentspool id=m1] left by a crash"
	for _, in := range []string{msg, msg + " and a person's words"} {
		d := desk(t)
		dl := draftDeliverer(d)
		d.Focus("Agent-2")
		d.PersonTypes(in)
		d.Focus("Editor")
		rep, err := dl.Deliver(context.Background(), draftTarget("Agent-2", 150), msg)
		w := d.Window("Agent-2")
		if in != msg {
			if !deliver.IsDraft(err) || w.Input != in || len(w.Submits) != 0 {
				t.Fatalf("input %q: err %v, input now %q, submits %q; want a draft left alone", in, err, w.Input, w.Submits)
			}
			continue
		}
		if err != nil || rep.Landing != "left" || !slices.Equal(w.Submits, []string{msg}) || w.Input != "" {
			t.Fatalf("err %v, landing %q, submits %q, input %q; want the message submitted once as it was left", err, rep.Landing, w.Submits, w.Input)
		}
		for _, k := range d.Keys() {
			if strings.Join(k, "+") == "ctrl+v" {
				t.Fatalf("keys %v: pasted again over the paste that was left", d.Keys())
			}
		}
	}
}

// A look's copy that came after the look gave up on it (Monaco, loaded,
// copies its empty line "\n" late) takes the CLIPBOARD while the window
// reads the paste: the window pastes its own "\n". That blank line is taken out
// again, so that the next paste does not land after it and submit a
// message with a blank line before it (the X11 proof saw a second
// deliverer's message submitted as "\n[second id=...").
func TestAWindowsLateBlankCopyItPastedIsTakenOut(t *testing.T) {
	d := desk(t)
	dl := draftDeliverer(d)
	tg := draftTarget("Agent-2", 150)
	// The copy comes between the paste's two reads: the window inserts
	// what its last read got, its own "\n".
	late := true
	d.Reads = 2
	d.BetweenReads = func(d *fakedesktop.Desk, _ int) {
		if late {
			late = false
			d.WindowCopies("Agent-2", "\n")
		}
	}
	_, err := dl.Deliver(context.Background(), tg, "the first message")
	if err == nil || !errors.Is(err, deliver.ErrClipboardTaken) {
		t.Fatalf("err %v, want the clipboard taken (the scenario did not happen); submits %q, input %q", err, d.Window("Agent-2").Submits, d.Window("Agent-2").Input)
	}
	if w := d.Window("Agent-2"); w.Input != "" || len(w.Submits) != 0 {
		t.Fatalf("after the window pasted its own late copy: input %q, submits %q; want it empty, nothing submitted", w.Input, w.Submits)
	}
	if _, err := dl.Deliver(context.Background(), tg, "the first message"); err != nil {
		t.Fatal(err)
	}
	if w := d.Window("Agent-2"); !slices.Equal(w.Submits, []string{"the first message"}) {
		t.Fatalf("submits %q, want the message alone", w.Submits)
	}
}
