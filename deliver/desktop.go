package deliver

import (
	"errors"
	"time"
)

// Desktop is everything a delivery does to the GUI: each role below, and
// Close. The real implementations are X11 (NewX11, on Linux) and Win32
// (NewWindows); NewDesktop opens this platform's. Tests script a fake
// (deliver/fakedesktop) that steals focus, clobbers the clipboard or lags.
// A channel or a test that needs only some of the roles takes only those.
type Desktop interface {
	Mouse
	Focus
	Selections
	Keyboard
	InputClock
	// Close releases the desktop connection.
	Close() error
}

// Mouse is the pointer: where it is, moving it, clicking with it.
type Mouse interface {
	// Click moves the pointer to (x, y) in root coordinates and clicks the
	// left button there.
	Click(x, y int) error
	// Pointer reports where the pointer is.
	Pointer() (x, y int, err error)
	// MovePointer moves the pointer without clicking.
	MovePointer(x, y int) error
}

// Focus is the top-level windows as the window manager knows them: the one
// that has the input focus, the one under a point, and asking that another
// have the focus. (A tmux pane has no focus.)
type Focus interface {
	// Focused reports the window that has the input focus (the EWMH active
	// window). A window that vanished while being asked about is an error,
	// never a crash.
	Focused() (Window, error)
	// WindowAt is the top-level window under the root point (x, y), with
	// its origin (Window.Left, Window.Top): where a click there lands in
	// the window's own coordinates, which is what an app compares to tell
	// a double click. A zero Window: none (the root).
	WindowAt(x, y int) (Window, error)
	// Activate asks the window manager to give w the focus (EWMH), as a
	// pager would; the focus may follow a moment later.
	Activate(w Window) error
}

// Selections is the CLIPBOARD shared by every window (read, given back to
// the person, offered to the agent's window alone, its owner) and the
// PRIMARY selection, only watched (Windows has none). (A tmux pane has no
// shared clipboard.)
type Selections interface {
	// Clipboard reads the CLIPBOARD selection as UTF-8 text, through the
	// X server like any other client would (so reading our own Offer back
	// proves what a paste will receive). No owner reads as nil, nil; an
	// owner that does not answer within ClipboardReadLimit is an error.
	Clipboard() ([]byte, error)
	// SetClipboard hands text to the CLIPBOARD for the person to keep (the
	// restore step). nil means "leave the clipboard without an owner".
	SetClipboard(text []byte) error
	// SetClipboardIf is SetClipboard done only if owner still owns the
	// CLIPBOARD (checked and taken atomically: under a server grab on X11,
	// with the clipboard open on Windows); ok is false when someone copied
	// meanwhile, and their copy stays.
	SetClipboardIf(text []byte, owner uint32) (ok bool, err error)
	// Offer takes the CLIPBOARD and serves text, from its first moment,
	// only to our own reads (Clipboard: the read-back) and to the client
	// to (a Window's Client; 0: nobody else), reporting each fetch and the
	// moment another client takes the selection away. Any other client
	// asking gets a refusal and is not reported: a clipboard manager
	// (which fetches on every change of owner), a person pasting elsewhere
	// or another window's late paste can neither take the message nor
	// pass for the agent's fetch.
	Offer(text []byte, to uint32) (Offer, error)
	// OfferIf is Offer, done only if the owner is still owner (checked and
	// taken atomically); ok is false when someone copied meanwhile.
	OfferIf(text []byte, owner, to uint32) (o Offer, ok bool, err error)
	// ClipboardOwner identifies the CLIPBOARD's owner now (0: none).
	ClipboardOwner() (uint32, error)
	// ClipboardClient is the client (as Window.Client) that owns the
	// CLIPBOARD now (0: none): whether a copy was the agent's window's.
	ClipboardClient() (uint32, error)
	// PrimarySets counts the times the X client given (as Window.Client)
	// took the PRIMARY selection, or took it again: a select-all in a
	// non-empty Chromium input does, every time; in an empty input nothing
	// does, and neither does Tk's text widget when it already owns
	// PRIMARY. last is when the latest of them was seen. watched is false
	// on a desktop that cannot see PRIMARY (Windows has none; an X server
	// without XFixes): it counts nothing.
	PrimarySets(client uint32) (n uint64, last time.Time, watched bool)
}

// Keyboard is our keys and the person's: a key tapped only into the right
// window, whether a key is down, and the grab that keeps a person's keys
// back while a delivery's GUI steps run.
type Keyboard interface {
	// GuardedKey taps combo only if the focused window satisfies ok, with
	// no other client able to move the focus between the check and the key.
	// It returns the window it saw and whether it tapped.
	GuardedKey(combo []string, ok func(Window) bool) (Window, bool, error)
	// KeysDown reports whether any key is held down right now (outside
	// our own taps that can only be a person, mid-keystroke).
	KeysDown() (bool, error)
	// GrabKeys grabs the keyboard: until ReleaseKeys, a person's keys are
	// kept back instead of landing in the agent's window. The Desktop's own
	// key taps still pass. It fails when another client has a grab.
	GrabKeys() error
	// KeptKeys is how many key events a person made since GrabKeys.
	KeptKeys() int
	// ReleaseKeys ungrabs the keyboard and replays the kept keys, in
	// order, to whatever window has the focus then.
	ReleaseKeys() (int, error)
}

// InputClock tells a person's input from ours, on the desktop's own clock:
// the latest input from anyone, and the latest of our own.
type InputClock interface {
	// LastInput is the latest keyboard or pointer input the desktop saw,
	// from anyone, synthetic or real: exact on the desktop's own clock.
	LastInput() (Input, error)
	// OwnInput is a tick at or after this Desktop's latest injected input:
	// input with a later tick is someone else's. ok is false before it
	// injected any. (After ReleaseKeys the tick is pushed past the
	// Desktop's own input, so that another client's input can never share
	// its tick.)
	OwnInput() (in Input, ok bool)
}

// ClipboardReadLimit bounds one read of the CLIPBOARD: an owner that has not
// answered by then is taken for hung (ErrClipboardSilent), and the delivery
// tries again later rather than keep the desk locked and the keyboard
// grabbed (and take the person's clipboard for empty).
const ClipboardReadLimit = time.Second

// ErrClipboardSilent: the CLIPBOARD's owner did not answer a read.
var ErrClipboardSilent = errors.New("the clipboard's owner did not answer")

// Tick is a moment on the desktop's own clock: the X server's milliseconds,
// the same for every process on the display. It wraps after 49.7 days;
// After is right for ticks less than 24.8 days apart.
type Tick uint32

// After reports whether t is later than u.
func (t Tick) After(u Tick) bool { return int32(t-u) > 0 }

// Input is a moment of keyboard or pointer input.
type Input struct {
	Tick Tick      // exact, on the desktop's clock
	At   time.Time // on this machine's clock, never earlier than it was
}

// Window is a top-level window as the window manager knows it.
type Window struct {
	ID    uint32
	Title string
	PID   int // _NET_WM_PID, 0 when the window does not say
	// Instance and Class are the window's WM_CLASS on X11 (e.g. "xterm",
	// "XTerm"); on Windows Class is the window class and Instance the
	// executable's name. A terminal is told by them (see Inspect).
	Instance, Class string
	// Client identifies the X client (connection) that made the window:
	// the window's id without the server's per-client id bits. A paste
	// request made by the same client comes from this app.
	Client uint32
	// Left, Top: the window's origin in root coordinates (set by WindowAt
	// only).
	Left, Top int
}

// Offer is the message text on the CLIPBOARD while a delivery runs.
type Offer interface {
	// Fetched delivers one Fetch for every request a client made of the
	// offer that it answered: the list of formats (TARGETS) as well as the
	// text (read-backs included). It is never closed.
	Fetched() <-chan Fetch
	// Owner is the CLIPBOARD owner while this offer holds it, as
	// ClipboardOwner reports it: a paste read only our text if the owner
	// was still this when the reads ended.
	Owner() uint32
	// Lost is closed when another client took the CLIPBOARD from us.
	Lost() <-chan struct{}
	// Close stops serving; if we still own the selection it is released.
	Close() error
}

// Fetch is one request a client made of the offered text.
type Fetch struct {
	Requestor uint32
	Client    uint32 // the requestor's client (see Window.Client)
	At        time.Time
	// Data: the request converted the text itself; otherwise it asked for
	// the list of formats. One paste can be many requests: Chromium asks
	// TARGETS a dozen times and the text 2 (textarea) or 3
	// (contenteditable) times over some 20 ms, and inserts what a later
	// read got, at the end of the burst.
	Data bool
}
