package deliver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
)

// chromiumDesk is two agent windows of one browser process (one X client),
// laid out alike, whose inputs lose the caret on a double click and whose
// pastes are bursts of reads, as Chromium's are.
func chromiumDesk(t *testing.T) *fakedesktop.Desk {
	t.Helper()
	d := fakedesktop.New()
	a := d.AddWindow("Agent-1", 101, 0, 0, 100, 100)
	b := d.AddWindow("Agent-2", 101, 100, 0, 100, 100)
	b.Client = a.Client
	d.MultiClickLosesCaret = true
	d.Reads, d.ReadGap = 3, 4*time.Millisecond
	return d
}

// Back-to-back deliveries click where the window cannot count a double
// click: to one agent again and again, and to two windows of one process
// at the same place in each (Chromium compares window coordinates).
func TestClicksNeverMakeAMultiClick(t *testing.T) {
	d := chromiumDesk(t)
	dl := deliverer(d)
	var sent []string
	for i := range 6 {
		name := []string{"Agent-1", "Agent-2"}[i/3%2]
		x := map[string]int{"Agent-1": 50, "Agent-2": 150}[name]
		text := name + " message " + string(rune('a'+i))
		rep, err := dl.Deliver(context.Background(), target(name, x), text)
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if dx := rep.ClickX - x; dx < -12 || dx > 12 || rep.ClickY != 50 {
			t.Fatalf("clicked (%d,%d), more than 12 px from the agent's point (%d,50)", rep.ClickX, rep.ClickY, x)
		}
		sent = append(sent, text)
	}
	for _, name := range []string{"Agent-1", "Agent-2"} {
		w := d.Window(name)
		if slices.ContainsFunc(w.ClickCounts, func(n int) bool { return n > 1 }) {
			t.Errorf("%s saw click counts %v: a double or triple click", name, w.ClickCounts)
		}
		var want []string
		for _, s := range sent {
			if strings.HasPrefix(s, name) {
				want = append(want, s)
			}
		}
		if !slices.Equal(w.Submits, want) {
			t.Errorf("%s submits %q, want %q", name, w.Submits, want)
		}
	}
}

// A person's copy just before the ctrl+v: nothing was pasted yet, so the
// key is not tapped and the message is offered again; their copy is what
// they get back.
func TestCopyBeforeThePasteKeyIsOfferedAgain(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("old"))
	var once atomic.Bool
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "ctrl+v" && !once.Swap(true) {
			d.Clobber("their new copy")
		}
	}
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "mine")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reoffered != 1 || rep.Undone {
		t.Fatalf("report: reoffered %d, undone %v; want 1, false", rep.Reoffered, rep.Undone)
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"mine"}) {
		t.Fatalf("submits %q", got)
	}
	if clip, _ := d.Clipboard(); string(clip) != "their new copy" {
		t.Fatalf("clipboard %q, want the person's new copy", clip)
	}
}

// A person's copy just before the ctrl+v, and then the CLIPBOARD cannot
// be taken for the offer again: the attempt fails with that cause, nothing
// pasted, and the person keeps their copy. (The closed first offer is what
// the deferred restore sees; a nil one there took the Windows daemon down
// under Wine, in the Windows proof.)
func TestCopyBeforeThePasteKeyThenNoOfferFailsCleanly(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("old"))
	var once atomic.Bool
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if strings.Join(combo, "+") == "ctrl+v" && !once.Swap(true) {
			d.Clobber("their new copy")
			d.FailOffers(errors.New("the CLIPBOARD cannot be taken"))
		}
	}
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "mine")
	if err == nil || !strings.Contains(err.Error(), "cannot be taken") {
		t.Fatalf("err = %v, want the offer's", err)
	}
	if rep.Pasted || rep.Submitted {
		t.Fatalf("report %+v: want nothing pasted or submitted", rep)
	}
	nothingLanded(t, d)
	if clip, _ := d.Clipboard(); string(clip) != "their new copy" {
		t.Fatalf("clipboard %q, want the person's new copy", clip)
	}
}

// A third delivery by the first process, in between, keeps the other
// process's click beside the lock: the first process then still avoids it.
func TestClickSidecarKeepsTheOtherProcesssClick(t *testing.T) {
	d := chromiumDesk(t)
	d.AddWindow("Agent-3", 103, 200, 0, 100, 100)
	lock, err := deliver.NewDesktopLock(filepath.Join(t.TempDir(), "desk.lock"))
	if err != nil {
		t.Fatal(err)
	}
	one, two := deliverer(d), deliverer(d)
	one.Lock, two.Lock = lock, lock
	start := time.Now()
	for _, step := range []struct {
		dl   *deliver.Deliverer
		name string
		x    int
	}{{two, "Agent-2", 150}, {one, "Agent-3", 250}, {one, "Agent-2", 150}} {
		if _, err := step.dl.Deliver(context.Background(), target(step.name, step.x), "to "+step.name); err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) < 500*time.Millisecond {
		if c := d.Window("Agent-2").ClickCounts; !slices.Equal(c, []int{1, 1}) {
			t.Fatalf("Agent-2 click counts %v, want [1 1]: the other process's click was forgotten", c)
		}
	}
}

// Another process's click, noted beside the lock, counts too.
func TestClickAvoidsTheLastProcesssClick(t *testing.T) {
	d := chromiumDesk(t)
	lock, err := deliver.NewDesktopLock(filepath.Join(t.TempDir(), "desk.lock"))
	if err != nil {
		t.Fatal(err)
	}
	one, two := deliverer(d), deliverer(d)
	one.Lock, two.Lock = lock, lock
	first := time.Now()
	if _, err := one.Deliver(context.Background(), target("Agent-1", 50), "from one"); err != nil {
		t.Fatal(err)
	}
	rep, err := two.Deliver(context.Background(), target("Agent-2", 150), "from two")
	if err != nil {
		t.Fatal(err)
	}
	// Within the double-click time of the first process's click, the
	// second must click aside: (150,50) is the same place in its window.
	if time.Since(first) < 500*time.Millisecond && rep.ClickX == 150 {
		t.Fatal("the second process clicked (150,50): the first's place, in its window of the same app, just after it")
	}
	if c := d.Window("Agent-2").ClickCounts; !slices.Equal(c, []int{1}) {
		t.Fatalf("Agent-2 click counts %v", c)
	}
	if _, err := os.Stat(lock.Path() + ".clicks"); err != nil {
		t.Fatalf("no clicks noted beside the lock: %v", err)
	}
}

// A paste is a burst of reads and the window inserts what the last one
// got: the submit waits for the burst's end, not its first read.
func TestSubmitWaitsForTheLastReadOfTheBurst(t *testing.T) {
	d := chromiumDesk(t)
	d.ReadGap = 15 * time.Millisecond
	d.SetClipboard([]byte("the person's"))
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "whole")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"whole"}) {
		t.Fatalf("submits %q (an empty submit: Enter went before the last read)", got)
	}
	if rep.PasteReads != 3 || rep.Fetch < 30*time.Millisecond {
		t.Fatalf("report: %d reads, fetch %v; want 3 reads, fetch to the last (≥ 30ms)", rep.PasteReads, rep.Fetch)
	}
	if clip, _ := d.Clipboard(); string(clip) != "the person's" {
		t.Fatalf("clipboard after = %q", clip)
	}
}

// A copy between the window's reads: what it inserts is the other text or
// nothing. The paste is taken back, nothing is submitted, the copy stays.
func TestCopyBetweenReadsIsNotSubmitted(t *testing.T) {
	d := chromiumDesk(t)
	d.SetClipboard([]byte("old"))
	var once atomic.Bool
	d.BetweenReads = func(d *fakedesktop.Desk, read int) {
		if read == 1 && !once.Swap(true) {
			d.Clobber("the person's new copy")
		}
	}
	rep, err := deliverer(d).Deliver(context.Background(), target("Agent-1", 50), "mine")
	if err == nil || !deliver.IsTemporary(err) || rep.Submitted {
		t.Fatalf("err %v, submitted %v: want a temporary error, nothing submitted", err, rep.Submitted)
	}
	if w := d.Window("Agent-1"); len(w.Submits) != 0 || w.Input != "" {
		t.Fatalf("Agent-1 input %q, submits %q: want nothing", w.Input, w.Submits)
	}
	if clip, _ := d.Clipboard(); string(clip) != "the person's new copy" {
		t.Fatalf("clipboard %q, want the person's copy", clip)
	}
}

// The person's clipboard comes back only after the window has read all:
// with a burst longer than any learned settle, the restore would have come
// between the reads (and the window inserted the person's text).
func TestRestoreComesAfterTheReads(t *testing.T) {
	d := chromiumDesk(t)
	d.SetClipboard([]byte("PERSON"))
	dl := deliverer(d)
	d.ReadGap = 12 * time.Millisecond
	if _, err := dl.Deliver(context.Background(), target("Agent-1", 50), "MSG"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"MSG"}) {
		t.Fatalf("submits %q", got)
	}
}

// An editor that inserts later than its paste event gets the agent's
// PasteSettle before the submit.
func TestPasteSettleIsWaitedBeforeTheSubmit(t *testing.T) {
	d := desk(t)
	tg := target("Agent-1", 50)
	tg.PasteSettle = 30 * time.Millisecond
	var pastedAt, submitAt time.Time
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		switch strings.Join(combo, "+") {
		case "ctrl+v":
			pastedAt = time.Now()
		case "enter":
			submitAt = time.Now()
		}
	}
	rep, err := deliverer(d).Deliver(context.Background(), tg, "later")
	if err != nil {
		t.Fatal(err)
	}
	if gap := submitAt.Sub(pastedAt); gap < 30*time.Millisecond || rep.Settle != 30*time.Millisecond {
		t.Fatalf("submit %v after the paste, settle %v; want ≥ 30ms", gap, rep.Settle)
	}
}

// Timings of the old format (fetch measured to the first read) are read:
// the focus and read-back history is kept, the fetch history dropped.
func TestTimingsVersion1FetchIsDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timings.json")
	old := `{"version":1,"samples_ns":{"focus":[7000000,8000000],"fetch":[1000000,2000000]}}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	tm, err := deliver.LoadTimings(path, time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tm.Quantile(deliver.StepFetch, 0.5); ok {
		t.Fatal("version 1 fetch samples kept")
	}
	if p, ok := tm.Quantile(deliver.StepFocus, 1); !ok || p != 8*time.Millisecond {
		t.Fatalf("focus p100 %v %v, want 8ms kept", p, ok)
	}
	tm.Observe(deliver.StepFetch, 20*time.Millisecond)
	if err := tm.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := deliver.LoadTimings(path, time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := again.Quantile(deliver.StepFetch, 1); !ok || p != 20*time.Millisecond {
		t.Fatalf("fetch after save %v %v, want 20ms", p, ok)
	}
	for _, bad := range []string{`{"version":3,"samples_ns":{}}`, `{"version":0}`} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := deliver.LoadTimings(path, time.Millisecond, time.Second); err == nil {
			t.Errorf("%s: no error, want 'unreadable, starting fresh'", bad)
		}
	}
}

// The quiet that ends a burst is learned from the gaps inside bursts.
func TestQuietIsLearnedFromGaps(t *testing.T) {
	tm := deliver.NewTimings(time.Millisecond, 5*time.Second)
	if q := tm.Quiet(); q != 25*time.Millisecond {
		t.Fatalf("quiet before any gap %v, want the 25ms floor", q)
	}
	for range 50 {
		tm.Observe(deliver.StepReadGap, 20*time.Millisecond)
	}
	if q := tm.Quiet(); q != 80*time.Millisecond {
		t.Fatalf("quiet after 20ms gaps %v, want 80ms", q)
	}
}

// A copy right after ctrl+v, to a window slow to read that takes keys
// while it waits for the clipboard's owner (plain Tk): the undo must come
// after that window's paste of the other text, or it takes back nothing
// and the other text stays in the input, to be submitted with the retry.
func TestUndoWaitsForTheOtherOwnersPaste(t *testing.T) {
	d := desk(t)
	d.FetchDelay = 30 * time.Millisecond
	var once atomic.Bool
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		// Just after the key (which goes only while the message owns the
		// clipboard), before the window's read 30 ms later.
		if strings.Join(combo, "+") == "ctrl+v" && !once.Swap(true) {
			go func() { time.Sleep(5 * time.Millisecond); d.Clobber("the person's copy") }()
		}
	}
	dl := deliverer(d)
	rep, err := dl.Deliver(context.Background(), target("Agent-1", 50), "mine")
	if err == nil || !deliver.IsTemporary(err) || !rep.Undone {
		t.Fatalf("err %v, report %+v: want a temporary error and the paste undone", err, rep)
	}
	time.Sleep(50 * time.Millisecond)
	if w := d.Window("Agent-1"); w.Input != "" || len(w.Submits) != 0 {
		t.Fatalf("after the stopped attempt: input %q, submits %q; want nothing", w.Input, w.Submits)
	}
	if _, err := dl.Deliver(context.Background(), target("Agent-1", 50), "mine"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"mine"}) {
		t.Fatalf("submits %q, want only the message", got)
	}
}

// A person with no clipboard has none after a verified delivery: the
// look's copy (the agent's window copying its input, the message) is not
// left on the CLIPBOARD, where any window could paste it and the next
// delivery would save it as the person's and serve it to everyone.
func TestVerifyingLookLeavesNoClipboardWhenThePersonHadNone(t *testing.T) {
	d := desk(t)
	dl := deliverer(d)
	for i, agent := range []string{"Agent-1", "Agent-2", "Agent-1"} {
		tg := target(agent, 50+100*(i%2))
		tg.Read = &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
		tg.Verify = true
		text := "message " + agent + strings.Repeat("!", i)
		rep, err := dl.Deliver(context.Background(), tg, text)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Landing != "seen" {
			t.Fatalf("delivery %d: landing %q, want seen (the look ran)", i, rep.Landing)
		}
		if clip, err := d.Clipboard(); err != nil || clip != nil {
			t.Fatalf("after delivery %d the clipboard holds %q (%v), want no owner as before", i, clip, err)
		}
		if c, _ := d.ClipboardClient(); c != 0 {
			t.Fatalf("after delivery %d the clipboard is owned by client %d, want none", i, c)
		}
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"message Agent-1", "message Agent-1!!"}) {
		t.Fatalf("Agent-1 submits %q", got)
	}
}

// A paste the window never read is looked for and taken back: each look
// puts the person's clipboard back, not the message (whose offer still
// held the CLIPBOARD when the take-back began), so the person keeps
// theirs and no other window can paste the message.
func TestTakeBackPutsThePersonsClipboardBack(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("PERSON"))
	d.NeverFetch = true
	tg := target("Agent-1", 50)
	tg.Read = &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	tg.Verify = true
	rep, err := deliverer(d).Deliver(context.Background(), tg, "the message")
	if err == nil || !deliver.IsTemporary(err) || rep.Submitted {
		t.Fatalf("err %v, submitted %v: want a temporary error, nothing submitted", err, rep.Submitted)
	}
	if clip, _ := d.Clipboard(); string(clip) != "PERSON" {
		t.Fatalf("clipboard after the take-back = %q, want the person's %q", clip, "PERSON")
	}
	nothingLanded(t, d)
}

// A window that dropped the submit key keeps the paste in its input; the
// retry after no ack finds exactly the message there and submits it as it
// is: one submit, the message once (not pasted on top of itself).
func TestRetryAfterADroppedSubmitSubmitsWhatIsThere(t *testing.T) {
	d := desk(t)
	d.SetClipboard([]byte("PERSON"))
	tg := target("Agent-1", 50)
	tg.Read = &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	tg.Verify = true
	dl := deliverer(d)
	d.DropEnters = 1
	if _, err := dl.Deliver(context.Background(), tg, "the message"); err != nil {
		t.Fatal(err) // submitted, as far as anyone can see: the ack tells
	}
	if w := d.Window("Agent-1"); len(w.Submits) != 0 || w.Input != "the message" {
		t.Fatalf("after the dropped Enter: input %q, submits %q", w.Input, w.Submits)
	}
	tg.Resubmit = true
	rep, err := dl.Deliver(context.Background(), tg, "the message")
	if err != nil {
		t.Fatal(err)
	}
	if w := d.Window("Agent-1"); !slices.Equal(w.Submits, []string{"the message"}) || w.Input != "" {
		t.Fatalf("after the retry: input %q, submits %q; want the message submitted once", w.Input, w.Submits)
	}
	if rep.Landing != "left" || rep.PasteReads != 0 {
		t.Errorf("landing %q, %d reads: want the paste left in the input submitted, no new paste", rep.Landing, rep.PasteReads)
	}
	if clip, _ := d.Clipboard(); string(clip) != "PERSON" {
		t.Errorf("clipboard %q, want the person's", clip)
	}
	// A retry whose input is empty (the submit did go; the ack was late)
	// pastes as usual.
	rep, err = dl.Deliver(context.Background(), tg, "again")
	if err != nil || rep.Landing != "seen" {
		t.Fatalf("retry into an empty input: %v, landing %q", err, rep.Landing)
	}
}

// Tk 8.6 copies a character outside the BMP as a surrogate pair, each half
// encoded on its own (CESU-8): a look reads it as the character, so a
// message with an emoji is seen as landed in a Tk input (make demo's
// broadcast "🕘" failed 20 times before).
func TestLookReadsCESU8AsTheCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"x\xed\xa0\xbd\xed\xb5\x98y": "x🕘y",
		"plain ✓ text":               "plain ✓ text",
		"lone \xed\xa0\xbd half":     "lone \xed\xa0\xbd half",
		"\xed\xa0\xbd\xed\xb5\x98":   "🕘",
	} {
		if got := string(deliver.FromCESU8ForTest([]byte(in))); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
