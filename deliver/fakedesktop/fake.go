// Package fakedesktop is a scripted deliver.Desktop for tests: windows with
// chat inputs, a focus, a pointer and a CLIPBOARD, with hooks that steal the
// focus, clobber the clipboard or make a window slow to paste.
package fakedesktop

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentspool/agentspool/deliver"
)

// Win is one window: a rectangle with a chat input.
type Win struct {
	deliver.Window
	X, Y, W, H int

	Input   string   // what the input holds now
	Submits []string // every submit, in order
	// ClickCounts is the click count of every press in the window, as
	// Chromium counts them (see Desk.Click).
	ClickCounts []int
	// PasteKey, when set, is the only key that pastes in this window (a
	// terminal: "ctrl+shift+v", "shift+insert"); ctrl+v then does nothing.
	PasteKey string
	// NoSelectAll: ctrl+a does nothing, so a copy after it copies
	// nothing and a look sees the input empty whatever it holds (a Win32
	// multi-line EDIT control, where select-all is not a built-in).
	NoSelectAll bool
	pastes      []int // input lengths before each paste, for undo
	selected    bool  // select-all is on
}

// Desk is the fake desktop. Set the hooks before use; every method is safe
// for concurrent use.
type Desk struct {
	mu      sync.Mutex
	wins    []*Win
	focus   *Win
	px, py  int
	owner   *offer // our offer that owns the CLIPBOARD, or nil
	clip    []byte // the CLIPBOARD's text when another client owns it
	hasClip bool
	nextID  uint32
	keys    [][]string

	primary   map[uint32]primarySet
	ownerSeq  uint32           // bumped at every change of the CLIPBOARD's owner
	ownerWin  *Win             // the window that copied last, while it owns the CLIPBOARD
	lastPress map[uint32]press // the last click per client, for click counts
	keyDown   bool             // a person holds a key
	lastInput deliver.Input    // any input; its clock ticks once per input event
	synthetic deliver.Input    // the deliverer's own last input (tick 0: none yet)
	grabbed   bool
	kept      []string // a person's keys kept back while grabbed

	// AfterClick runs after each click (the desk unlocked): steal the
	// focus here with Focus.
	AfterClick func(d *Desk, x, y int)
	// BeforeKey runs before each key tap; it may move the focus or
	// Clobber the clipboard. AfterKey runs after each tap.
	BeforeKey func(d *Desk, combo []string)
	AfterKey  func(d *Desk, combo []string)
	// DropEnters: the next so many Enters reach the window and do
	// nothing, as a busy app may drop a key.
	DropEnters int
	// AfterOffer runs after each offer took the CLIPBOARD.
	AfterOffer func(d *Desk)
	// FetchDelay makes windows slow to fetch a paste; the paste is
	// inserted when the fetch happens.
	FetchDelay time.Duration
	// NeverFetch: ctrl+v does nothing.
	NeverFetch bool
	// Reads is how many times a paste reads the CLIPBOARD (default 1),
	// ReadGap apart; the window inserts what its last read got, as
	// Chromium does (2 reads in a textarea, 3 in a contenteditable).
	// BetweenReads runs after each read but the last, with the desk
	// unlocked: clobber or restore the clipboard mid-paste here.
	Reads        int
	ReadGap      time.Duration
	BetweenReads func(d *Desk, read int)
	// MultiClickLosesCaret: a double or triple click leaves the caret
	// outside the input (Lexical, a contenteditable), so a paste inserts
	// nothing (the window still reads the clipboard).
	MultiClickLosesCaret bool
	// NoPrimary: select-all never takes PRIMARY (a window that does not
	// export its selection); by default a select-all in a non-empty input
	// does, each time, as Chromium's inputs do (see PrimarySets).
	NoPrimary bool
	// EmptyCopies is what a copy in an empty input copies (Monaco: its
	// empty line, "\n"); "" (the default): nothing, as in most inputs.
	EmptyCopies string
	// NoSelections: the desk has no PRIMARY selection to watch, as on
	// Windows (PrimarySets says it is not watched).
	NoSelections bool
	// Lag delays what every key does in its window (a loaded desktop, a
	// lagging renderer): each takes effect this long after it was tapped,
	// in order, in the window that had the focus when it was tapped.
	Lag  time.Duration
	lagQ chan lagged
	// DropPastes: the next so many pastes read the clipboard and insert
	// nothing (as Chromium sometimes does).
	DropPastes int
	// FocusErr, when set, makes Focused fail (a window vanished).
	FocusErr error
	// ClipboardErr, when set, makes reading another client's clipboard
	// fail (its owner does not answer); our own offers still read back.
	ClipboardErr error
	// OnSubmit runs for every submit, with the desk locked: play the agent
	// here (ack the message). It must not call the Desk.
	OnSubmit func(w *Win, text string)
}

type primarySet struct {
	n    uint64
	last time.Time
}

// PrimarySets counts the select-alls in client's non-empty inputs.
func (d *Desk) PrimarySets(client uint32) (uint64, time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.NoSelections {
		return 0, time.Time{}, false
	}
	p := d.primary[client]
	return p.n, p.last, true
}

// New returns a desk with no windows.
func New() *Desk { return &Desk{nextID: 0x400000} }

var _ deliver.Desktop = (*Desk)(nil)

// AddWindow adds a window and returns it.
func (d *Desk) AddWindow(title string, pid, x, y, w, h int) *Win {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	win := &Win{Window: deliver.Window{ID: d.nextID, Title: title, PID: pid, Client: d.nextID}, X: x, Y: y, W: w, H: h}
	d.wins = append(d.wins, win)
	return win
}

// Focus gives the focus to the window titled title ("" = none).
func (d *Desk) Focus(title string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.focus = nil
	for _, w := range d.wins {
		if w.Title == title {
			d.focus = w
		}
	}
}

// Clobber makes another client the CLIPBOARD's owner with text.
func (d *Desk) Clobber(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setClipLocked([]byte(text))
}

// CopyUnnoticed is Clobber whose loss our offer has not heard of yet (on
// X11 the SelectionClear is still on its way): the offer's Lost channel
// stays open, while the CLIPBOARD's owner is already the other client.
func (d *Desk) CopyUnnoticed(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.owner = nil // not closed: nobody told it
	d.setClipLocked([]byte(text))
}

// Window returns a copy of the window titled title.
func (d *Desk) Window(title string) Win {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.wins {
		if w.Title == title {
			c := *w
			c.Submits = slices.Clone(w.Submits)
			return c
		}
	}
	return Win{}
}

// Keys returns every key combination tapped, in order.
func (d *Desk) Keys() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.keys)
}

// press is a click, for counting multi-clicks.
type press struct {
	at     time.Time
	lx, ly int // in the window's coordinates
	count  int
}

// Click clicks at (x, y). Like Chromium, the click count goes up when the
// press comes within 500 ms and 2 px (in window coordinates, whichever
// window of the client) of the client's last one.
func (d *Desk) Click(x, y int) error {
	d.mu.Lock()
	d.touchLocked()
	d.px, d.py = x, y
	for _, w := range d.wins {
		if x >= w.X && x < w.X+w.W && y >= w.Y && y < w.Y+w.H {
			d.focus = w
			p := press{at: time.Now(), lx: x - w.X, ly: y - w.Y, count: 1}
			if d.lastPress == nil {
				d.lastPress = map[uint32]press{}
			}
			if l := d.lastPress[w.Client]; l.count > 0 && p.at.Sub(l.at) <= 500*time.Millisecond &&
				abs(p.lx-l.lx) <= 2 && abs(p.ly-l.ly) <= 2 {
				p.count = l.count + 1
			}
			d.lastPress[w.Client] = p
			w.ClickCounts = append(w.ClickCounts, p.count)
		}
	}
	hook := d.AfterClick
	d.mu.Unlock()
	if hook != nil {
		hook(d, x, y)
	}
	return nil
}

func abs(n int) int { return max(n, -n) }

// WindowAt is the window whose rectangle holds (x, y), the last added on
// top.
func (d *Desk) WindowAt(x, y int) (deliver.Window, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var found deliver.Window
	for _, w := range d.wins {
		if x >= w.X && x < w.X+w.W && y >= w.Y && y < w.Y+w.H {
			found = w.Window
			found.Left, found.Top = w.X, w.Y
		}
	}
	return found, nil
}

func (d *Desk) Pointer() (int, int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.px, d.py, nil
}

func (d *Desk) Focused() (deliver.Window, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.FocusErr != nil {
		return deliver.Window{}, d.FocusErr
	}
	if d.focus == nil {
		return deliver.Window{}, nil
	}
	return d.focus.Window, nil
}

func (d *Desk) Clipboard() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owner == nil && d.ClipboardErr != nil {
		return nil, d.ClipboardErr
	}
	if d.owner != nil {
		return slices.Clone(d.owner.text), nil
	}
	if !d.hasClip {
		return nil, nil
	}
	return slices.Clone(d.clip), nil
}

func (d *Desk) SetClipboard(text []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setClipLocked(text)
	return nil
}

func (d *Desk) SetClipboardIf(text []byte, owner uint32) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ownerSeq != owner {
		return false, nil
	}
	d.setClipLocked(text)
	return true, nil
}

// setClipLocked makes another client than our offers (a person, or our
// restore) the CLIPBOARD's owner with text (nil: no owner).
func (d *Desk) setClipLocked(text []byte) {
	d.newOwnerLocked()
	d.clip, d.hasClip = slices.Clone(text), text != nil
}

// ClipboardOwner is a number that changes with every new owner.
func (d *Desk) ClipboardOwner() (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ownerSeq, nil
}

func (d *Desk) OfferIf(text []byte, owner uint32) (deliver.Offer, bool, error) {
	d.mu.Lock()
	changed := d.ownerSeq != owner
	d.mu.Unlock()
	if changed {
		return nil, false, nil
	}
	o, err := d.Offer(text)
	return o, err == nil, err
}

func (d *Desk) Offer(text []byte) (deliver.Offer, error) {
	d.mu.Lock()
	d.newOwnerLocked()
	o := &offer{d: d, seq: d.ownerSeq, text: slices.Clone(text), fetched: make(chan deliver.Fetch, 256), lost: make(chan struct{})}
	d.owner = o
	d.hasClip = false
	hook := d.AfterOffer
	d.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	return o, nil
}

// newOwnerLocked: another client takes the CLIPBOARD; ours (if any) is lost.
func (d *Desk) newOwnerLocked() {
	d.loseLocked()
	d.ownerSeq++
	d.ownerWin = nil
}

// ClipboardClient is the copying window's client, our own client (1) for
// our offers, or 2 for any other client.
func (d *Desk) ClipboardClient() (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.ownerWin != nil:
		return d.ownerWin.Client, nil
	case d.owner != nil:
		return 1, nil
	case d.hasClip:
		return 2, nil
	}
	return 0, nil
}

func (d *Desk) loseLocked() {
	if d.owner != nil {
		d.owner.loseOnce.Do(func() { close(d.owner.lost) })
		d.owner = nil
	}
}

func (d *Desk) Key(combo []string) error {
	if hook := d.BeforeKey; hook != nil {
		hook(d, combo)
	}
	d.mu.Lock()
	d.keyLocked(combo)
	d.mu.Unlock()
	if hook := d.AfterKey; hook != nil {
		hook(d, combo)
	}
	return nil
}

func (d *Desk) GuardedKey(combo []string, ok func(deliver.Window) bool) (deliver.Window, bool, error) {
	if hook := d.BeforeKey; hook != nil {
		hook(d, combo)
	}
	d.mu.Lock()
	if d.FocusErr != nil {
		d.mu.Unlock()
		return deliver.Window{}, false, d.FocusErr
	}
	var w deliver.Window
	if d.focus != nil {
		w = d.focus.Window
	}
	// ok may ask the desk (the clipboard's owner): unlocked meanwhile.
	// Nothing in a test moves the focus in between.
	d.mu.Unlock()
	if !ok(w) {
		return w, false, nil
	}
	d.mu.Lock()
	d.keyLocked(combo)
	d.mu.Unlock()
	if hook := d.AfterKey; hook != nil {
		hook(d, combo)
	}
	return w, true, nil
}

func (d *Desk) touchLocked() {
	d.inputLocked()
	d.synthetic = d.lastInput
}

// inputLocked is an input event from anyone: the clock ticks.
func (d *Desk) inputLocked() {
	d.lastInput = deliver.Input{Tick: d.lastInput.Tick + 1, At: time.Now()}
}

type lagged struct {
	due time.Time
	f   func()
}

func (d *Desk) keyLocked(combo []string) {
	d.touchLocked()
	d.keys = append(d.keys, slices.Clone(combo))
	win := d.focus
	if win == nil {
		return
	}
	if d.Lag <= 0 {
		d.effectLocked(win, combo)
		return
	}
	if d.lagQ == nil {
		d.lagQ = make(chan lagged, 256)
		go func() {
			for l := range d.lagQ {
				time.Sleep(time.Until(l.due))
				d.mu.Lock()
				l.f()
				d.mu.Unlock()
			}
		}()
	}
	d.lagQ <- lagged{due: time.Now().Add(d.Lag), f: func() { d.effectLocked(win, combo) }}
}

// effectLocked is what combo does in win.
func (d *Desk) effectLocked(win *Win, combo []string) {
	k := strings.Join(combo, "+")
	if win.PasteKey != "" {
		switch k {
		case win.PasteKey:
			k = "ctrl+v"
		case "ctrl+v":
			k = "" // a terminal sends it to its program
		}
	}
	switch k {
	case "ctrl+v":
		if d.NeverFetch {
			return
		}
		if d.owner == nil && !d.hasClip {
			return
		}
		lost := d.MultiClickLosesCaret && d.lastPress[win.Client].count > 1
		reads := max(d.Reads, 1)
		paste := func() {
			var text []byte
			for i := range reads {
				if i > 0 {
					if d.BetweenReads != nil {
						d.BetweenReads(d, i)
					}
					time.Sleep(d.ReadGap)
				}
				d.mu.Lock()
				text = d.readLocked(win)
				d.mu.Unlock()
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if text == nil || lost {
				return
			}
			if d.DropPastes > 0 {
				d.DropPastes--
				return
			}
			win.pastes = append(win.pastes, len(win.Input))
			win.Input += string(text)
		}
		if d.FetchDelay > 0 || reads > 1 {
			go func() { time.Sleep(d.FetchDelay); paste() }()
			return
		}
		d.mu.Unlock()
		paste()
		d.mu.Lock()
	case "enter", "ctrl+enter":
		if d.DropEnters > 0 {
			d.DropEnters--
			return
		}
		text := win.Input
		win.Submits = append(win.Submits, text)
		win.Input, win.pastes = "", nil
		if d.OnSubmit != nil {
			d.OnSubmit(win, text)
		}
	case "ctrl+a", "ctrl+c":
		if combo[1] == "a" {
			if win.NoSelectAll {
				return
			}
			win.selected = true
			if win.Input != "" && !d.NoPrimary {
				if d.primary == nil {
					d.primary = map[uint32]primarySet{}
				}
				p := d.primary[win.Client]
				d.primary[win.Client] = primarySet{n: p.n + 1, last: time.Now()}
			}
			return
		}
		// Like most inputs: copying an empty selection leaves the
		// clipboard alone.
		if win.selected && (win.Input != "" || d.EmptyCopies != "") {
			d.newOwnerLocked()
			d.clip, d.hasClip = []byte(win.Input), true
			if win.Input == "" {
				d.clip = []byte(d.EmptyCopies)
			}
			d.ownerWin = win
		}
	case "end":
		win.selected = false
	case "backspace":
		// Deletes the selection, or the last character.
		switch {
		case win.selected:
			win.Input = ""
		case win.Input != "":
			r := []rune(win.Input)
			win.Input = string(r[:len(r)-1])
		}
		win.pastes, win.selected = nil, false
	case "ctrl+z":
		if n := len(win.pastes); n > 0 {
			win.Input = win.Input[:win.pastes[n-1]]
			win.pastes = win.pastes[:n-1]
		}
	}
}

// readLocked is win reading the CLIPBOARD once: from our offer (reported
// as a fetch, refused unless restricted to win's client: an offer serves
// no other client from its first moment) or from another owner. nil:
// refused or empty.
func (d *Desk) readLocked(win *Win) []byte {
	if o := d.owner; o != nil {
		if o.only != win.Client {
			return nil // refused: this window is not the one the text is for
		}
		o.fetched <- deliver.Fetch{Requestor: win.ID, Client: win.Client, At: time.Now(), Data: true}
		return slices.Clone(o.text)
	}
	if !d.hasClip {
		return nil
	}
	return slices.Clone(d.clip)
}

func (d *Desk) Close() error { return nil }

func (d *Desk) Activate(w deliver.Window) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, win := range d.wins {
		if win.ID == w.ID {
			d.focus = win
			return nil
		}
	}
	return errors.New("fakedesktop: no such window")
}

func (d *Desk) MovePointer(x, y int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.touchLocked()
	d.px, d.py = x, y
	return nil
}

func (d *Desk) LastInput() (deliver.Input, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastInput, nil
}

func (d *Desk) OwnInput() (deliver.Input, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.synthetic, d.synthetic.Tick != 0
}

// KeysDown: the fake has no held keys unless PersonHoldsKey says so.
func (d *Desk) KeysDown() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keyDown, nil
}

// PersonHoldsKey is a person pressing (true) or letting go of (false) a key.
func (d *Desk) PersonHoldsKey(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keyDown = down
	d.inputLocked() // a release is input too
}

func (d *Desk) GrabKeys() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.grabbed, d.kept = true, nil
	return nil
}

func (d *Desk) KeptKeys() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.kept)
}

func (d *Desk) ReleaseKeys() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.kept)
	for _, k := range d.kept {
		// Replayed keys are the person's input, not the deliverer's.
		d.inputLocked()
		if d.focus != nil {
			d.focus.Input += k
		}
	}
	d.grabbed, d.kept = false, nil
	return n, nil
}

// SetClipboardErr sets ClipboardErr while deliveries may be running.
func (d *Desk) SetClipboardErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ClipboardErr = err
}

// PersonTypes is a person typing text at the keyboard: it goes to the
// focused window's input, or is kept back while the deliverer grabs the keys.
// ClearInput is a person emptying the input of the window titled title
// (deleting their draft).
func (d *Desk) ClearInput(title string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
	for _, w := range d.wins {
		if w.Title == title {
			w.Input, w.pastes, w.selected = "", nil, false
		}
	}
}

func (d *Desk) PersonTypes(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
	if d.grabbed {
		d.kept = append(d.kept, text)
		return
	}
	if d.focus != nil {
		d.focus.Input += text
	}
}

// PersonTypesThrough is a person's keys that the deliverer's grab did not
// keep back (under Wine, a keyboard hook that answered too late): text goes
// to the focused window's input at once, as an edit its undo takes back
// before any paste that came earlier.
func (d *Desk) PersonTypesThrough(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
	if w := d.focus; w != nil {
		w.pastes = append(w.pastes, len(w.Input))
		w.Input += text
	}
}

// ForeignRead is another client (a clipboard manager) reading the
// CLIPBOARD; it reports whether it got the text.
func (d *Desk) ForeignRead() ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owner != nil {
		return nil, false // an offer serves only our reads and the agent's window
	}
	return slices.Clone(d.clip), d.hasClip
}

// PersonMovesMouse is a person touching the mouse.
func (d *Desk) PersonMovesMouse() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
}

// Focus returns the focused window's title and the pointer.
func (d *Desk) State() (title string, x, y int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.focus != nil {
		title = d.focus.Title
	}
	return title, d.px, d.py
}

type offer struct {
	d        *Desk
	seq      uint32 // the owner number while it owns the CLIPBOARD
	only     uint32
	text     []byte
	fetched  chan deliver.Fetch
	lost     chan struct{}
	loseOnce sync.Once
}

func (o *offer) Fetched() <-chan deliver.Fetch { return o.fetched }
func (o *offer) Owner() uint32                 { return o.seq }
func (o *offer) Restrict(client uint32) {
	o.d.mu.Lock()
	o.only = client
	o.d.mu.Unlock()
}
func (o *offer) Lost() <-chan struct{} { return o.lost }
func (o *offer) Close() error {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	if o.d.owner == o {
		o.d.loseLocked()
	}
	return nil
}

// ErrVanished is a FocusErr like an X BadWindow: the window closed while
// being asked about.
var ErrVanished = errors.New("fakedesktop: BadWindow (window vanished)")

// WindowPtrForTest is the window titled title itself, to set its fields
// (class, paste key) before the desk is used.
func (d *Desk) WindowPtrForTest(title string) *Win {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.wins {
		if w.Title == title {
			return w
		}
	}
	return nil
}
