package deliver

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	rx11 "github.com/go-vgo/robotgo/x11"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
	"golang.design/x/clipboard"
)

// x11Desktop is the real Desktop.
//
// Why this shape:
//   - The pointer is driven by robotgo's pure-Go X11 backend
//     (github.com/go-vgo/robotgo/x11), not its default cgo one: in the cgo
//     backend an X protocol error (asking the title of a window that just
//     closed) runs Xlib's default error handler, which exits the process.
//     Over the wire (jezek/xgb) an X error is an error value.
//   - Focus queries, key taps and the CLIPBOARD offer use a connection of our
//     own. Key taps that must reach one window (ctrl+v, the submit) are sent
//     under a server grab right after checking the focus, so no focus stealer
//     can slip between the check and the key (see GuardedKey).
//   - The offer is our own selection owner rather than clipboard.Write: only
//     the owner sees which client fetched the text and whether another client
//     took the selection first, which is how a delivery knows the paste landed
//     and was ours. golang.design/x/clipboard reads the selection (the
//     person's, to save it, and ours back: a real client's view), bounded by
//     ClipboardReadLimit. The person's clipboard is put back by an offer of
//     ours too, which never waits (see SetClipboard).
//   - The quiet check compares ticks of the server's clock (SYNC's
//     SERVERTIME): the idle time's last input against a reading taken after
//     each of our own injections (see LastInput, pushPastOwn).
type x11Desktop struct {
	c    *xgb.Conn
	root xproto.Window

	atoms   map[string]xproto.Atom
	maxData int // largest property a single ChangeProperty can carry
	idMask  uint32

	keyMu      sync.Mutex
	minKeycode xproto.Keycode
	perKeycode int
	keysyms    []xproto.Keysym

	offersMu sync.Mutex
	offers   map[xproto.Window]*x11Offer

	screensaverOK bool
	// clock reads the server's clock (nil: the server has no SYNC): our
	// own input and the server's last input are compared on it, exactly.
	clock   *serverClock
	clockMu sync.Mutex // one clock reading at a time in LastInput
	ownMu   sync.Mutex
	own     Input // a tick at or after our latest injected input
	haveOwn bool

	// The keyboard grab of HoldKeys and the person's keys it kept back.
	holdMu sync.Mutex
	held   bool
	kept   []keptKey
	// marker receives the ClientMessages ReleaseKeys sends itself to know
	// the event loop has taken in every key event before it.
	marker   xproto.Window
	markerN  atomic.Uint32
	markerCh chan uint32

	closeOnce sync.Once
}

type keptKey struct {
	press bool
	code  xproto.Keycode
}

// xgb logs "Could not get authority info" and the like to stderr on every
// connection; our errors say what matters. Set once, before any connection
// exists: xgb's reader goroutines read it.
func init() { xgb.Logger = log.New(io.Discard, "", 0) }

var atomNames = []string{
	"CLIPBOARD", "TARGETS", "UTF8_STRING", "STRING", "TEXT", "TIMESTAMP",
	"text/plain;charset=utf-8", "text/plain", "WM_STATE", "WM_NAME",
	"_NET_WM_NAME", "_NET_WM_PID", "_NET_ACTIVE_WINDOW", "_NET_SUPPORTING_WM_CHECK",
}

// NewX11 connects to the X display named by $DISPLAY. An unset DISPLAY is an
// error: robotgo's cgo backend would silently fall back to ":0", which on a
// machine with several displays is someone else's desktop.
func NewX11() (Desktop, error) {
	display := os.Getenv("DISPLAY")
	if display == "" {
		return nil, &displayError{"DISPLAY is not set: run inside the desktop session, or set DISPLAY (and XAUTHORITY) to the desktop the agents' windows are on"}
	}
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, &displayError{fmt.Sprintf("cannot connect to X display %q: %v", display, err)}
	}
	d := &x11Desktop{
		c:      c,
		root:   xproto.Setup(c).DefaultScreen(c).Root,
		atoms:  map[string]xproto.Atom{},
		offers: map[xproto.Window]*x11Offer{},
		// Request length is counted in 4-byte units; the ChangeProperty
		// header takes 24 bytes. xgb does not encode BIG-REQUESTS.
		maxData: int(xproto.Setup(c).MaximumRequestLength)*4 - 32,
		idMask:  xproto.Setup(c).ResourceIdMask,
	}
	if err := xtest.Init(c); err != nil {
		c.Close()
		return nil, &displayError{fmt.Sprintf("X display %q has no XTEST extension, which synthetic input needs: %v", display, err)}
	}
	for _, name := range atomNames {
		r, err := xproto.InternAtom(c, false, uint16(len(name)), name).Reply()
		if err != nil {
			c.Close()
			return nil, &displayError{fmt.Sprintf("X display %q: intern %s: %v", display, name, err)}
		}
		d.atoms[name] = r.Atom
	}
	if err := d.loadKeymap(); err != nil {
		c.Close()
		return nil, &displayError{fmt.Sprintf("X display %q: keyboard map: %v", display, err)}
	}
	// MIT-SCREEN-SAVER gives the server's idle time, which says when a
	// person last touched the keyboard or mouse. Without it the quiet-desk
	// wait cannot see people; LastInput then reports that.
	d.screensaverOK = screensaver.Init(c) == nil
	// SYNC's SERVERTIME reads the clock that idle time is counted on, so
	// our own input and a person's can be told apart to the millisecond.
	d.clock, _ = newServerClock(c)
	if err := clipboard.Init(); err != nil {
		c.Close()
		return nil, &displayError{fmt.Sprintf("X display %q: clipboard: %v", display, err)}
	}
	if d.marker, err = xproto.NewWindowId(c); err == nil {
		err = xproto.CreateWindowChecked(c, 0, d.marker, d.root, -10, -10, 1, 1, 0, xproto.WindowClassInputOnly, 0, 0, nil).Check()
	}
	if err != nil {
		c.Close()
		return nil, &displayError{fmt.Sprintf("X display %q: create window: %v", display, err)}
	}
	d.markerCh = make(chan uint32, 16)
	go d.events()
	// A modifier left pressed by a crashed predecessor (or a person) would
	// turn our ctrl+v into ctrl+shift+v and Enter into ctrl+Enter.
	if err := d.releaseModifiers(); err != nil {
		d.Close()
		return nil, &displayError{fmt.Sprintf("X display %q: release modifiers: %v", display, err)}
	}
	return d, nil
}

func (d *x11Desktop) Close() error {
	d.closeOnce.Do(func() {
		d.offersMu.Lock()
		for _, o := range d.offers {
			o.close()
		}
		d.offersMu.Unlock()
		d.c.Close()
		rx11.Close()
	})
	return nil
}

// Click moves the pointer and clicks, through robotgo.
func (d *x11Desktop) Click(x, y int) error {
	rx11.Move(x, y)
	err := rx11.Click("left")
	d.stampOwn() // robotgo synced: the server has had the click
	if err != nil {
		return temporary("click", err)
	}
	return nil
}

// stampOwn reads the server's clock after an injection the server has
// processed and notes the tick as our own input's.
func (d *x11Desktop) stampOwn() { d.noteStamp(d.askClock()) }

// noteOwn records t as at or after our latest input.
func (d *x11Desktop) noteOwn(t Tick) {
	d.ownMu.Lock()
	defer d.ownMu.Unlock()
	if !d.haveOwn || t.After(d.own.Tick) {
		d.own = Input{Tick: t, At: time.Now()}
	}
	d.haveOwn = true
}

func (d *x11Desktop) OwnInput() (Input, bool) {
	d.ownMu.Lock()
	defer d.ownMu.Unlock()
	return d.own, d.haveOwn
}

// MovePointer moves the pointer through robotgo (not at all when it is
// there already: every synthetic event resets the idle time).
func (d *x11Desktop) MovePointer(x, y int) error {
	if px, py, err := d.Pointer(); err == nil && px == x && py == y {
		return nil
	}
	rx11.Move(x, y)
	d.stampOwn()
	return nil
}

// LastInput reads the server's idle time between two readings of its
// clock. The idle time is counted back from the server's clock at the
// QueryInfo; when both readings show the same millisecond, that is it, and
// the last input's tick is exact. (Counting back from our own clock, as
// before, made a person's key typed just after our own input look older
// than it, and pass for ours whenever the reply was slow.)
func (d *x11Desktop) LastInput() (Input, error) {
	if !d.screensaverOK {
		return Input{}, errors.New("deliver: the X server has no MIT-SCREEN-SAVER extension: idle time unknown")
	}
	if d.clock == nil {
		return Input{}, errors.New("deliver: the X server has no SYNC extension: its clock, which tells our input from a person's, is unknown")
	}
	d.clockMu.Lock()
	defer d.clockMu.Unlock()
	for try := 0; ; try++ {
		before := d.clock.ask()
		info := screensaver.QueryInfo(d.c, xproto.Drawable(d.root))
		after := d.clock.ask()
		t1, err1 := d.clock.tick(before)
		r, err := info.Reply()
		t2, err2 := d.clock.tick(after)
		seen := time.Now()
		if err = errors.Join(err1, err, err2); err != nil {
			return Input{}, temporary("idle time", err)
		}
		// Readings a millisecond apart (rare): ask again; after a few,
		// count from the later one, which can only make input look later:
		// ours like a person's (a wait), never a person's like ours.
		if t1 != t2 && try < 4 {
			continue
		}
		last := t2 - Tick(r.MsSinceUserInput)
		// seen is no earlier than the server's t2, so At is no earlier
		// than the input was.
		return Input{Tick: last, At: seen.Add(-time.Duration(r.MsSinceUserInput) * time.Millisecond)}, nil
	}
}

func (d *x11Desktop) KeysDown() (bool, error) {
	km, err := xproto.QueryKeymap(d.c).Reply()
	if err != nil {
		return false, temporary("query keymap", err)
	}
	for _, b := range km.Keys {
		if b != 0 {
			return true, nil
		}
	}
	return false, nil
}

// Activate sends the EWMH _NET_ACTIVE_WINDOW request (source: pager).
func (d *x11Desktop) Activate(w Window) error {
	ev := xproto.ClientMessageEvent{
		Format: 32, Window: xproto.Window(w.ID), Type: d.atoms["_NET_ACTIVE_WINDOW"],
		Data: xproto.ClientMessageDataUnionData32New([]uint32{2, 0, 0, 0, 0}),
	}
	err := xproto.SendEventChecked(d.c, false, d.root,
		xproto.EventMaskSubstructureRedirect|xproto.EventMaskSubstructureNotify, string(ev.Bytes())).Check()
	if err != nil {
		return temporary("activate window", err)
	}
	return nil
}

// HoldKeys grabs the keyboard on the root window.
func (d *x11Desktop) HoldKeys() error {
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	if d.held {
		return nil
	}
	if err := d.grabKeyboard(); err != nil {
		return err
	}
	d.held, d.kept = true, nil
	return nil
}

func (d *x11Desktop) grabKeyboard() error {
	r, err := xproto.GrabKeyboard(d.c, false, d.root, xproto.TimeCurrentTime, xproto.GrabModeAsync, xproto.GrabModeAsync).Reply()
	if err != nil {
		return temporary("grab keyboard", err)
	}
	if r.Status != xproto.GrabStatusSuccess {
		return temporary("grab keyboard", fmt.Errorf("status %d: another client holds a grab (a menu or a drag in progress?)", r.Status))
	}
	return nil
}

// HeldKeys counts the person's keys kept so far, after letting the event
// loop take in every event the server sent before this call.
func (d *x11Desktop) HeldKeys() int {
	d.holdMu.Lock()
	held := d.held
	d.holdMu.Unlock()
	if held {
		d.syncEvents()
	}
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	return len(d.kept)
}

// syncEvents sends ourselves a marker and waits until the event loop sees
// it: events arrive in order, so by then it has handled every event the
// server sent before.
func (d *x11Desktop) syncEvents() {
	n := d.markerN.Add(1)
	ev := xproto.ClientMessageEvent{Format: 32, Window: d.marker, Type: d.atoms["TIMESTAMP"],
		Data: xproto.ClientMessageDataUnionData32New([]uint32{n, 0, 0, 0, 0})}
	xproto.SendEvent(d.c, false, d.marker, 0, string(ev.Bytes()))
	timeout := time.After(2 * time.Second)
	for {
		select {
		case got := <-d.markerCh:
			if got == n {
				return
			}
		case <-timeout:
			return // the loop is stuck or the connection is gone
		}
	}
}

// askClock sends a reading of the server's clock (nil without SYNC).
func (d *x11Desktop) askClock() *xgb.Cookie {
	if d.clock == nil {
		return nil
	}
	return d.clock.ask()
}

// noteStamp notes a reading sent right after our own input as its tick.
func (d *x11Desktop) noteStamp(ck *xgb.Cookie) {
	if ck == nil {
		return
	}
	if t, err := d.clock.tick(ck); err == nil {
		d.noteOwn(t)
	}
}

// pushPastOwn reads the clock until it is past every input of ours and
// notes the tick before as our own: input at the clock's tick now or later
// is someone else's. The caller holds the server grab (no other client's
// input can run meanwhile); it takes at most a millisecond or two.
func (d *x11Desktop) pushPastOwn() {
	if d.clock == nil {
		return
	}
	last, err := d.clock.now() // at or after all our input so far
	if err != nil {
		return
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
		t, err := d.clock.now()
		if err != nil {
			break
		}
		if t.After(last) {
			d.noteOwn(t - 1)
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	d.noteOwn(last) // a clock that does not move: the best we know
}

// ReleaseKeys ungrabs and replays what a person typed meanwhile.
func (d *x11Desktop) ReleaseKeys() (int, error) {
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	if !d.held {
		return 0, nil
	}
	// Under a server grab: stop the keyboard grab (no key comes to us
	// after it), then send ourselves a marker. Events arrive in order, so
	// once the event loop sees the marker it has kept every key before it.
	xproto.GrabServer(d.c)
	xproto.UngrabKeyboard(d.c, xproto.TimeCurrentTime)
	d.holdMu.Unlock()
	d.syncEvents()
	d.holdMu.Lock()
	// From here on no input is ours: the replay below is the person's
	// typing, only late. Still under the server grab, wait for the
	// server's clock to pass our last input (the pointer given back):
	// anyone's input after this, the replay included, then has a later
	// tick than all of ours, and every agentspool process's next quiet
	// check sees it for what it is, however soon it comes.
	d.pushPastOwn()
	// A kept press whose key is still down (its release will come after
	// the grab) would be dropped by the server as a press of a down key:
	// release it first. Track the keys' state through the replay.
	down := map[xproto.Keycode]bool{}
	if km, err := xproto.QueryKeymap(d.c).Reply(); err == nil {
		for i, b := range km.Keys {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) != 0 {
					down[xproto.Keycode(i*8+bit)] = true
				}
			}
		}
	}
	for _, k := range d.kept {
		if k.press && down[k.code] {
			xtest.FakeInput(d.c, xproto.KeyRelease, byte(k.code), 0, d.root, 0, 0, 0)
		}
		typ := byte(xproto.KeyRelease)
		if k.press {
			typ = xproto.KeyPress
		}
		xtest.FakeInput(d.c, typ, byte(k.code), 0, d.root, 0, 0, 0)
		down[k.code] = k.press
	}
	xproto.UngrabServer(d.c)
	d.c.Sync()
	kept := len(d.kept)
	d.held, d.kept = false, nil
	return kept, nil
}

func (d *x11Desktop) Pointer() (int, int, error) {
	r, err := xproto.QueryPointer(d.c, d.root).Reply()
	if err != nil {
		return 0, 0, temporary("query pointer", err)
	}
	return int(r.RootX), int(r.RootY), nil
}

// Focused is the client window that holds the X input focus: the window key
// events go to. The focus is usually an inner window of the client, so walk
// up to the window carrying WM_STATE (ICCCM's mark of a client window).
func (d *x11Desktop) Focused() (Window, error) {
	f, err := xproto.GetInputFocus(d.c).Reply()
	if err != nil {
		return Window{}, temporary("get input focus", err)
	}
	return d.clientOf(f.Focus)
}

func (d *x11Desktop) clientOf(w xproto.Window) (Window, error) {
	if w == xproto.WindowNone || w == 1 /* PointerRoot */ || w == d.root {
		return Window{}, nil
	}
	start := w
	for i := 0; i < 32 && w != 0 && w != d.root; i++ {
		p, err := xproto.GetProperty(d.c, false, w, d.atoms["WM_STATE"], xproto.GetPropertyTypeAny, 0, 0).Reply()
		if err != nil {
			return Window{}, temporary(fmt.Sprintf("window 0x%x", uint32(w)), err)
		}
		if p.Type != 0 {
			return d.describe(w)
		}
		t, err := xproto.QueryTree(d.c, w).Reply()
		if err != nil {
			return Window{}, temporary(fmt.Sprintf("window 0x%x", uint32(w)), err)
		}
		w = t.Parent
	}
	// No client window above the focus (a window manager's own window, or
	// a client that skips WM_STATE): describe the focus itself.
	return d.describe(start)
}

// WindowAt descends from the root through the windows under (x, y) to the
// first one carrying WM_STATE (the client window the WM manages), and
// gives its origin on the root.
func (d *x11Desktop) WindowAt(x, y int) (Window, error) {
	w := d.root
	for i := 0; i < 32; i++ {
		r, err := xproto.TranslateCoordinates(d.c, d.root, w, int16(x), int16(y)).Reply()
		if err != nil {
			return Window{}, temporary("window at point", err)
		}
		if r.Child == xproto.WindowNone {
			return Window{}, nil
		}
		w = r.Child
		p, err := xproto.GetProperty(d.c, false, w, d.atoms["WM_STATE"], xproto.GetPropertyTypeAny, 0, 0).Reply()
		if err != nil {
			return Window{}, temporary(fmt.Sprintf("window 0x%x", uint32(w)), err)
		}
		if p.Type == 0 {
			continue
		}
		win, err := d.describe(w)
		if err != nil {
			return Window{}, err
		}
		o, err := xproto.TranslateCoordinates(d.c, w, d.root, 0, 0).Reply()
		if err != nil {
			return Window{}, temporary(fmt.Sprintf("window 0x%x origin", uint32(w)), err)
		}
		win.Left, win.Top = int(o.DstX), int(o.DstY)
		return win, nil
	}
	return Window{}, nil
}

// client is the id base of the X client that created xid.
func (d *x11Desktop) client(xid uint32) uint32 { return xid &^ d.idMask }

func (d *x11Desktop) describe(w xproto.Window) (Window, error) {
	win := Window{ID: uint32(w), Client: d.client(uint32(w))}
	title, err := d.stringProp(w, "_NET_WM_NAME")
	if err != nil {
		return Window{}, err
	}
	if title == "" {
		if title, err = d.stringProp(w, "WM_NAME"); err != nil {
			return Window{}, err
		}
	}
	win.Title = title
	p, err := xproto.GetProperty(d.c, false, w, d.atoms["_NET_WM_PID"], xproto.AtomCardinal, 0, 1).Reply()
	if err != nil {
		return Window{}, temporary(fmt.Sprintf("window 0x%x", uint32(w)), err)
	}
	if p.Format == 32 && len(p.Value) >= 4 {
		win.PID = int(xgb.Get32(p.Value))
	}
	return win, nil
}

func (d *x11Desktop) stringProp(w xproto.Window, name string) (string, error) {
	p, err := xproto.GetProperty(d.c, false, w, d.atoms[name], xproto.GetPropertyTypeAny, 0, 4096).Reply()
	if err != nil {
		return "", temporary(fmt.Sprintf("window 0x%x: %s", uint32(w), name), err)
	}
	if p.Format != 8 {
		return "", nil
	}
	return string(p.Value), nil
}

// Clipboard reads the CLIPBOARD as another client would.
func (d *x11Desktop) Clipboard() ([]byte, error) {
	// golang.design/x/clipboard waits up to 5 s for an owner that does not
	// answer (a hung app, a copier on its way out) and then reads as
	// empty: a delivery would hold the desk and the keyboard that long,
	// and take the person's clipboard for empty. Wait less, and say so.
	got := make(chan []byte, 1)
	go func() { got <- clipboard.Read(clipboard.FmtText) }()
	select {
	case b := <-got:
		return b, nil
	case <-time.After(ClipboardReadLimit):
		return nil, temporary("read clipboard", fmt.Errorf("%w within %v (a hung app?)", ErrClipboardSilent, ClipboardReadLimit))
	}
}

// SetClipboard puts text back on the CLIPBOARD for the person: served by
// an offer of ours (to anyone, until someone copies), which never waits.
// golang.design/x/clipboard's Write would wait on its package lock while
// one of its reads waits out an owner that does not answer (up to 5 s),
// with the desk and the keyboard held. Text our offer cannot carry (more
// than one X request, or not UTF-8) goes to golang.design. nil releases
// ours.
func (d *x11Desktop) SetClipboard(text []byte) error {
	if text == nil {
		d.offersMu.Lock()
		for _, o := range d.offers {
			o.close()
		}
		d.offersMu.Unlock()
		return nil
	}
	if utf8.Valid(text) && len(text) <= d.maxData {
		if o, _, err := d.offer(text, nil); err == nil {
			// Nobody closes it: it goes when someone else copies.
			xo := o.(*x11Offer)
			d.offersMu.Lock()
			xo.restored = true
			select {
			case <-xo.lost:
				xo.close()
			default:
			}
			d.offersMu.Unlock()
			return nil
		}
	}
	if clipboard.Write(clipboard.FmtText, text) == nil {
		return temporary("restore clipboard", errors.New("clipboard write refused"))
	}
	return nil
}

// Key taps combo through XTEST on our connection.
func (d *x11Desktop) Key(combo []string) error {
	codes, err := d.keycodes(combo)
	if err != nil {
		return err
	}
	xproto.GrabServer(d.c)
	d.tap(codes)
	stamp := d.askClock() // still grabbed: nobody's input comes between
	xproto.UngrabServer(d.c)
	d.c.Sync()
	d.noteStamp(stamp)
	return nil
}

// GuardedKey taps combo only if the window holding the focus satisfies ok,
// and the check and the key happen under one server grab: no other client's
// request (a focus change, a click) can run between them. It returns the
// focused window it saw, and whether it tapped.
func (d *x11Desktop) GuardedKey(combo []string, ok func(Window) bool) (Window, bool, error) {
	codes, err := d.keycodes(combo)
	if err != nil {
		return Window{}, false, err
	}
	xproto.GrabServer(d.c)
	w, ferr := d.Focused()
	tapped := ferr == nil && ok(w)
	if tapped {
		// A modifier held by someone else (a person's Shift) would turn
		// Enter into Shift+Enter, a newline instead of a submit.
		if held := d.foreignModifiers(codes); held != nil {
			tapped, ferr = false, held
		} else {
			d.tap(codes)
		}
	}
	var stamp *xgb.Cookie
	if tapped {
		stamp = d.askClock()
	}
	xproto.UngrabServer(d.c)
	d.c.Sync()
	d.noteStamp(stamp)
	return w, tapped, ferr
}

// tap sends the key events; the caller holds the server grab. While keys
// are held, the keyboard grab is lifted around our own events (XTEST input
// obeys grabs like real input), and taken again before anyone else runs.
func (d *x11Desktop) tap(codes []xproto.Keycode) {
	d.holdMu.Lock()
	held := d.held
	d.holdMu.Unlock()
	if held {
		xproto.UngrabKeyboard(d.c, xproto.TimeCurrentTime)
		defer func() {
			xproto.GrabKeyboard(d.c, false, d.root, xproto.TimeCurrentTime, xproto.GrabModeAsync, xproto.GrabModeAsync)
		}()
	}
	// A key that is down now (a person is pressing it, or a crashed client
	// left it) would swallow our press of it: the server drops a press of
	// a key that is already down. Release it first.
	if km, err := xproto.QueryKeymap(d.c).Reply(); err == nil {
		for _, kc := range codes {
			if km.Keys[kc/8]&(1<<(kc%8)) != 0 {
				xtest.FakeInput(d.c, xproto.KeyRelease, byte(kc), 0, d.root, 0, 0, 0)
			}
		}
	}
	for _, kc := range codes {
		xtest.FakeInput(d.c, xproto.KeyPress, byte(kc), 0, d.root, 0, 0, 0)
	}
	for i := len(codes) - 1; i >= 0; i-- {
		xtest.FakeInput(d.c, xproto.KeyRelease, byte(codes[i]), 0, d.root, 0, 0, 0)
	}
}

var keysymByName = map[string]xproto.Keysym{
	"enter": 0xff0d, "return": 0xff0d, "tab": 0xff09, "escape": 0xff1b, "esc": 0xff1b,
	"space": 0x20, "backspace": 0xff08, "delete": 0xffff, "home": 0xff50, "end": 0xff57,
	"left": 0xff51, "up": 0xff52, "right": 0xff53, "down": 0xff54, "slash": 0x2f,
	"ctrl": 0xffe3, "shift": 0xffe1, "alt": 0xffe9, "super": 0xffeb, "cmd": 0xffeb,
}

func keysymFor(name string) (xproto.Keysym, bool) {
	name = strings.ToLower(name)
	if ks, ok := keysymByName[name]; ok {
		return ks, true
	}
	if len(name) == 1 && (name[0] >= 'a' && name[0] <= 'z' || name[0] >= '0' && name[0] <= '9') {
		return xproto.Keysym(name[0]), true
	}
	var n int
	if _, err := fmt.Sscanf(name, "f%d", &n); err == nil && n >= 1 && n <= 12 && name == fmt.Sprintf("f%d", n) {
		return xproto.Keysym(0xffbe + n - 1), true
	}
	return 0, false
}

func (d *x11Desktop) loadKeymap() error {
	s := xproto.Setup(d.c)
	r, err := xproto.GetKeyboardMapping(d.c, s.MinKeycode, byte(s.MaxKeycode-s.MinKeycode+1)).Reply()
	if err != nil {
		return err
	}
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	d.minKeycode, d.perKeycode, d.keysyms = s.MinKeycode, int(r.KeysymsPerKeycode), r.Keysyms
	return nil
}

func (d *x11Desktop) keycodes(combo []string) ([]xproto.Keycode, error) {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	var out []xproto.Keycode
	for _, k := range combo {
		ks, ok := keysymFor(k)
		if !ok {
			return nil, fmt.Errorf("deliver: unknown key %q", k)
		}
		kc, ok := d.keycodeLocked(ks)
		if !ok {
			return nil, fmt.Errorf("deliver: key %q is not on this keyboard map", k)
		}
		out = append(out, kc)
	}
	return out, nil
}

func (d *x11Desktop) keycodeLocked(ks xproto.Keysym) (xproto.Keycode, bool) {
	if d.perKeycode == 0 {
		return 0, false
	}
	// The unshifted column first, so "v" does not pick a keycode whose
	// first symbol is something else.
	for col := 0; col < min(d.perKeycode, 2); col++ {
		for i := col; i < len(d.keysyms); i += d.perKeycode {
			if d.keysyms[i] == ks {
				return d.minKeycode + xproto.Keycode(i/d.perKeycode), true
			}
		}
	}
	return 0, false
}

func (d *x11Desktop) releaseModifiers() error {
	down, err := d.PressedModifiers()
	if err != nil {
		return err
	}
	for _, kc := range down {
		xtest.FakeInput(d.c, xproto.KeyRelease, kc, 0, d.root, 0, 0, 0)
	}
	d.c.Sync()
	if len(down) > 0 {
		// Only input we made counts as ours: marking it otherwise would
		// hide a person's key pressed just before.
		d.stampOwn()
	}
	return nil
}

// foreignModifiers reports a modifier key that is down and not part of
// codes (call under the server grab).
func (d *x11Desktop) foreignModifiers(codes []xproto.Keycode) error {
	down, err := d.PressedModifiers()
	if err != nil {
		return nil // cannot tell: go ahead, as before this check existed
	}
	for _, kc := range down {
		if !slices.Contains(codes, xproto.Keycode(kc)) {
			return errModifierDown
		}
	}
	return nil
}

// PressedModifiers lists the keycodes of modifier keys that are down now
// (for tests and doctor).
func (d *x11Desktop) PressedModifiers() ([]byte, error) {
	mm, err := xproto.GetModifierMapping(d.c).Reply()
	if err != nil {
		return nil, err
	}
	km, err := xproto.QueryKeymap(d.c).Reply()
	if err != nil {
		return nil, err
	}
	var down []byte
	for _, kc := range mm.Keycodes {
		if kc != 0 && km.Keys[kc/8]&(1<<(kc%8)) != 0 {
			down = append(down, byte(kc))
		}
	}
	return down, nil
}

func (d *x11Desktop) ClipboardOwner() (uint32, error) {
	r, err := xproto.GetSelectionOwner(d.c, d.atoms["CLIPBOARD"]).Reply()
	if err != nil {
		return 0, temporary("clipboard owner", err)
	}
	return uint32(r.Owner), nil
}

func (d *x11Desktop) ClipboardClient() (uint32, error) {
	o, err := d.ClipboardOwner()
	if err != nil || o == 0 {
		return 0, err
	}
	return d.client(o), nil
}

func (d *x11Desktop) Offer(text []byte) (Offer, error) {
	o, _, err := d.offer(text, nil)
	return o, err
}

func (d *x11Desktop) OfferIf(text []byte, owner uint32) (Offer, bool, error) {
	return d.offer(text, &owner)
}

// offer takes the CLIPBOARD with a fresh unmapped window that serves text.
// A fresh window per offer lets every SelectionRequest and SelectionClear be
// routed to the offer it concerns, even when they arrive late.
// With ifOwner, it takes the selection only if that is still its owner:
// compared and taken under a server grab, so a copy made in between is not
// silently overwritten.
func (d *x11Desktop) offer(text []byte, ifOwner *uint32) (Offer, bool, error) {
	if !utf8.Valid(text) {
		return nil, false, fmt.Errorf("deliver: offer: text is not UTF-8")
	}
	if len(text) > d.maxData {
		return nil, false, fmt.Errorf("deliver: offer: %d bytes is more than one X request carries (%d); use paste: pointer for long messages", len(text), d.maxData)
	}
	wid, err := xproto.NewWindowId(d.c)
	if err != nil {
		return nil, false, temporary("offer", err)
	}
	if err := xproto.CreateWindowChecked(d.c, 0, wid, d.root, -10, -10, 1, 1, 0,
		xproto.WindowClassInputOnly, 0, 0, nil).Check(); err != nil {
		return nil, false, temporary("offer: create window", err)
	}
	// Room for a few pastes' bursts (Chromium: ~15 requests each).
	o := &x11Offer{d: d, win: wid, data: text, fetched: make(chan Fetch, 256), lost: make(chan struct{})}
	d.offersMu.Lock()
	d.offers[wid] = o
	d.offersMu.Unlock()
	sel := d.atoms["CLIPBOARD"]
	xproto.GrabServer(d.c)
	if ifOwner != nil {
		cur, err := xproto.GetSelectionOwner(d.c, sel).Reply()
		if err != nil || uint32(cur.Owner) != *ifOwner {
			xproto.UngrabServer(d.c)
			o.Close()
			return nil, false, nil
		}
	}
	xproto.SetSelectionOwner(d.c, wid, sel, xproto.TimeCurrentTime)
	xproto.UngrabServer(d.c)
	owner, err := xproto.GetSelectionOwner(d.c, sel).Reply()
	if err != nil || owner.Owner != wid {
		o.Close()
		return nil, false, temporary("offer: could not take the CLIPBOARD", err)
	}
	// A clipboard we put back is superseded. (The server tells the old
	// owner window nothing when the owning client stays the same.)
	d.offersMu.Lock()
	for w, old := range d.offers {
		if old.restored && w != wid {
			old.close()
		}
	}
	d.offersMu.Unlock()
	return o, true, nil
}

type x11Offer struct {
	d       *x11Desktop
	win     xproto.Window
	data    []byte
	fetched chan Fetch
	lost    chan struct{}

	mu       sync.Mutex
	lostOnce sync.Once
	closed   bool
	only     uint32 // serve only this client (0: anyone)
	// restored: the person's clipboard put back, closed when lost
	// (guarded by d.offersMu).
	restored bool
}

func (o *x11Offer) Restrict(client uint32) {
	o.mu.Lock()
	o.only = client
	o.mu.Unlock()
}

func (o *x11Offer) allows(requestor xproto.Window) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.only == 0 || o.d.client(uint32(requestor)) == o.only
}

func (o *x11Offer) Fetched() <-chan Fetch { return o.fetched }
func (o *x11Offer) Owner() uint32         { return uint32(o.win) }
func (o *x11Offer) Lost() <-chan struct{} { return o.lost }

func (o *x11Offer) Close() error {
	o.d.offersMu.Lock()
	defer o.d.offersMu.Unlock()
	o.close()
	return nil
}

// close must be called with d.offersMu held.
func (o *x11Offer) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	delete(o.d.offers, o.win)
	// Destroying the owner window releases the selection if it is still
	// ours; if someone else took it meanwhile, theirs is untouched.
	xproto.DestroyWindow(o.d.c, o.win)
	o.lostOnce.Do(func() { close(o.lost) })
}

// events serves our selections until the connection closes.
func (d *x11Desktop) events() {
	for {
		ev, xerr := d.c.WaitForEvent()
		if ev == nil && xerr == nil {
			return // connection closed
		}
		if xerr != nil {
			continue // an unchecked request failed (e.g. a vanished requestor): not fatal
		}
		switch e := ev.(type) {
		case xproto.ClientMessageEvent:
			if e.Window == d.marker {
				select {
				case d.markerCh <- e.Data.Data32[0]:
				default:
				}
			}
		case xproto.KeyPressEvent:
			d.keep(true, e.Detail)
		case xproto.KeyReleaseEvent:
			d.keep(false, e.Detail)
		case xproto.SelectionRequestEvent:
			d.offersMu.Lock()
			o := d.offers[e.Owner]
			d.offersMu.Unlock()
			d.answer(o, e)
		case xproto.SelectionClearEvent:
			d.offersMu.Lock()
			if o := d.offers[e.Owner]; o != nil {
				o.lostOnce.Do(func() { close(o.lost) })
				if o.restored {
					o.close()
				}
			}
			d.offersMu.Unlock()
		}
	}
}

// keep records a person's key event that the keyboard grab diverted to us.
func (d *x11Desktop) keep(press bool, code xproto.Keycode) {
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	if d.held {
		d.kept = append(d.kept, keptKey{press: press, code: code})
	}
}

func (d *x11Desktop) answer(o *x11Offer, e xproto.SelectionRequestEvent) {
	prop := e.Property
	if prop == xproto.AtomNone {
		prop = e.Target // ICCCM: obsolete requestors
	}
	notify := xproto.SelectionNotifyEvent{
		Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop,
	}
	served, data := false, false
	switch {
	case o == nil || !o.allows(e.Requestor):
		notify.Property = xproto.AtomNone
	case e.Target == d.atoms["TARGETS"]:
		served = true
		var buf []byte
		for _, n := range []string{"TARGETS", "UTF8_STRING", "text/plain;charset=utf-8", "STRING", "TEXT", "text/plain"} {
			buf = append(buf, 0, 0, 0, 0)
			xgb.Put32(buf[len(buf)-4:], uint32(d.atoms[n]))
		}
		xproto.ChangeProperty(d.c, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomAtom, 32, uint32(len(buf)/4), buf)
	case e.Target == d.atoms["UTF8_STRING"] || e.Target == d.atoms["text/plain;charset=utf-8"] ||
		e.Target == d.atoms["STRING"] || e.Target == d.atoms["TEXT"] || e.Target == d.atoms["text/plain"]:
		// STRING is Latin-1 by the book; every toolkit we met accepts
		// UTF-8 there and asks UTF8_STRING first anyway.
		typ := e.Target
		if typ == d.atoms["TEXT"] {
			typ = d.atoms["UTF8_STRING"]
		}
		xproto.ChangeProperty(d.c, xproto.PropModeReplace, e.Requestor, prop, typ, 8, uint32(len(o.data)), o.data)
		served, data = true, true
	default:
		notify.Property = xproto.AtomNone
	}
	xproto.SendEvent(d.c, false, e.Requestor, 0, string(notify.Bytes()))
	// The round trip makes sure the server has queued the notify for the
	// requestor before anyone is told: a key tapped after the Fetch is
	// then behind the pasted data in the requestor's event queue.
	d.c.Sync()
	if served {
		select {
		case o.fetched <- Fetch{Requestor: uint32(e.Requestor), Client: d.client(uint32(e.Requestor)), At: time.Now(), Data: data}:
		default:
		}
	}
}
