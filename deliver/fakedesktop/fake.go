// Package fakedesktop is a scripted deliver.Desktop for tests: windows with
// chat inputs, a focus, a pointer and a CLIPBOARD, with hooks that steal the
// focus, clobber the clipboard or make a window slow to paste.
//
// The files follow deliver.Desktop's roles: fake.go the desk, its windows
// (Focus) and the pointer (Mouse); clipboard.go the Selections; keys.go
// the Keyboard; person.go the InputClock and a person's input.
package fakedesktop

import (
	"errors"
	"slices"
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
	// offerErr, when set (FailOffers), is what every offer returns: the
	// CLIPBOARD cannot be taken.
	offerErr error
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

// State returns the focused window's title and the pointer.
func (d *Desk) State() (title string, x, y int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.focus != nil {
		title = d.focus.Title
	}
	return title, d.px, d.py
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

func (d *Desk) Pointer() (int, int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.px, d.py, nil
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

func (d *Desk) MovePointer(x, y int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.touchLocked()
	d.px, d.py = x, y
	return nil
}

func (d *Desk) Close() error { return nil }

// ErrVanished is a FocusErr like an X BadWindow: the window closed while
// being asked about.
var ErrVanished = errors.New("fakedesktop: BadWindow (window vanished)")
