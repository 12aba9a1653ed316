// X11 backend: the connection, its atoms and windows, and the event loop
// that routes selection requests, key events and markers.

package deliver

import (
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	rx11 "github.com/go-vgo/robotgo/x11"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xfixes"
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
//     and was ours. An offer serves no client but the agent's window and our
//     own reads from its first moment (not even a clipboard manager gets a
//     message), so this connection reads it back through the server (a real
//     paste's view, see readOwn); golang.design/x/clipboard reads another
//     owner's selection (the person's, to save it). Both reads are bounded by
//     ClipboardReadLimit. The person's clipboard is put back by an offer of
//     ours too, served to anyone, which never waits (see SetClipboard).
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
	// Our own reads of the CLIPBOARD (readOwn): one at a time, each
	// waiting for the SelectionNotify to its requestor window.
	readMu    sync.Mutex
	readersMu sync.Mutex
	readers   map[xproto.Window]chan xproto.SelectionNotifyEvent

	screensaverOK bool
	// clock reads the server's clock (nil: the server has no SYNC): our
	// own input and the server's last input are compared on it, exactly.
	clock   *serverClock
	clockMu sync.Mutex // one clock reading at a time in LastInput
	ownMu   sync.Mutex
	own     Input // a tick at or after our latest injected input
	haveOwn bool

	// The keyboard grab of GrabKeys and the person's keys it kept back.
	grabMu  sync.Mutex
	grabbed bool
	kept    []keptKey
	// marker receives the ClientMessages ReleaseKeys sends itself to know
	// the event loop has taken in every key event before it.
	marker   xproto.Window
	markerN  atomic.Uint32
	markerCh chan uint32

	// PRIMARY's owners as XFixes reports them (every SetSelectionOwner,
	// a window taking it again included), per client: see PrimarySets.
	primaryMu sync.Mutex
	primary   map[uint32]primarySet
	primaryOK bool // XFixes watches PRIMARY

	closeOnce sync.Once
}

var _ Desktop = (*x11Desktop)(nil)

// primarySet is how many times one client took PRIMARY, and when last.
type primarySet struct {
	n    uint64
	last time.Time
}

// xgb logs "Could not get authority info" and the like to stderr on every
// connection; our errors say what matters. Set once, before any connection
// exists: xgb's reader goroutines read it.
func init() { xgb.Logger = log.New(io.Discard, "", 0) }

var atomNames = []string{
	"CLIPBOARD", "PRIMARY", "TARGETS", "UTF8_STRING", "STRING", "TEXT", "TIMESTAMP",
	"text/plain;charset=utf-8", "text/plain", "WM_STATE", "WM_NAME", "WM_CLASS",
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
		c:       c,
		root:    xproto.Setup(c).DefaultScreen(c).Root,
		atoms:   map[string]xproto.Atom{},
		offers:  map[xproto.Window]*x11Offer{},
		readers: map[xproto.Window]chan xproto.SelectionNotifyEvent{},
		// Request length is counted in 4-byte units; the ChangeProperty
		// header takes 24 bytes. xgb does not encode BIG-REQUESTS.
		maxData: int(xproto.Setup(c).MaximumRequestLength)*4 - 32,
		idMask:  xproto.Setup(c).ResourceIdMask,
	}
	// Every extension is set up first, before anything could bring an
	// event: xgb's Init functions write the package's global table of
	// event constructors, which each connection's reader goroutine reads
	// when an event comes (a MappingNotify goes to every client when
	// anyone's keys change the keymap), and the race detector caught
	// XFixes' Init, done later, racing that read.
	if err := xtest.Init(c); err != nil {
		c.Close()
		return nil, &displayError{fmt.Sprintf("X display %q has no XTEST extension, which synthetic input needs: %v", display, err)}
	}
	// MIT-SCREEN-SAVER gives the server's idle time, which says when a
	// person last touched the keyboard or mouse. Without it the quiet-desk
	// wait cannot see people; LastInput then reports that.
	d.screensaverOK = screensaver.Init(c) == nil
	xfixesOK := xfixes.Init(c) == nil
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
	// XFixes reports every SetSelectionOwner of PRIMARY: how a look tells
	// a select-all in a non-empty input from one in an empty input (see
	// PrimarySets). Without it nothing is counted, and a look waits its
	// copy deadline as before.
	d.primary = map[uint32]primarySet{}
	if xfixesOK {
		if _, err := xfixes.QueryVersion(c, 2, 0).Reply(); err == nil {
			d.primaryOK = xfixes.SelectSelectionInputChecked(c, d.marker, d.atoms["PRIMARY"], xfixes.SelectionEventMaskSetSelectionOwner).Check() == nil
		}
	}
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
		case xfixes.SelectionNotifyEvent:
			if e.Selection == d.atoms["PRIMARY"] && e.Owner != 0 {
				c := d.client(uint32(e.Owner))
				d.primaryMu.Lock()
				p := d.primary[c]
				d.primary[c] = primarySet{n: p.n + 1, last: time.Now()}
				d.primaryMu.Unlock()
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
		case xproto.SelectionNotifyEvent:
			d.readNotified(e)
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
