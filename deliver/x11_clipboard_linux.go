// X11 backend, clipboard serving: our own CLIPBOARD owner per offer,
// reads through the server, SelectionRequest answers restricted by client.

package deliver

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"golang.design/x/clipboard"
)

// Clipboard reads the CLIPBOARD as another client would. An offer of ours
// is read through the server by our own connection (readOwn): it serves
// no other client but the one it was made for.
func (d *x11Desktop) Clipboard() ([]byte, error) {
	if owner, err := d.ClipboardOwner(); err == nil && d.ownsOffer(owner) {
		return d.readOwn()
	}
	// golang.design/x/clipboard waits up to 5 s for an owner that does not
	// answer (a hung app, a copier on its way out) and then reads as
	// empty: a delivery would keep the desk locked and the keyboard grabbed
	// that long, and take the person's clipboard for empty. Wait less, and
	// say so.
	got := make(chan []byte, 1)
	go func() { got <- clipboard.Read(clipboard.FmtText) }()
	select {
	case b := <-got:
		return b, nil
	case <-time.After(ClipboardReadLimit):
		return nil, temporary("read clipboard", fmt.Errorf("%w within %v (a hung app?)", ErrClipboardSilent, ClipboardReadLimit))
	}
}

func (d *x11Desktop) ownsOffer(owner uint32) bool {
	d.offersMu.Lock()
	defer d.offersMu.Unlock()
	_, ok := d.offers[xproto.Window(owner)]
	return ok
}

// readOwn reads the CLIPBOARD's text through the server with a fresh
// requestor window of our own connection: the request goes to the owner
// (our event loop, for an offer of ours) and the answer comes back as a
// property on that window, the way any paste reads it. Only the
// SelectionNotify for that window ends the read, so a late answer to an
// earlier read that gave up is never taken for this one's.
func (d *x11Desktop) readOwn() ([]byte, error) {
	d.readMu.Lock()
	defer d.readMu.Unlock()
	wid, err := xproto.NewWindowId(d.c)
	if err != nil {
		return nil, temporary("read clipboard", err)
	}
	if err := xproto.CreateWindowChecked(d.c, 0, wid, d.root, -10, -10, 1, 1, 0,
		xproto.WindowClassInputOnly, 0, 0, nil).Check(); err != nil {
		return nil, temporary("read clipboard: create window", err)
	}
	defer xproto.DestroyWindow(d.c, wid)
	notified := make(chan xproto.SelectionNotifyEvent, 1)
	d.readersMu.Lock()
	d.readers[wid] = notified
	d.readersMu.Unlock()
	defer func() {
		d.readersMu.Lock()
		delete(d.readers, wid)
		d.readersMu.Unlock()
	}()
	prop := d.atoms["UTF8_STRING"] // any atom names the property; this one exists
	xproto.ConvertSelection(d.c, wid, d.atoms["CLIPBOARD"], d.atoms["UTF8_STRING"], prop, xproto.TimeCurrentTime)
	select {
	case e := <-notified:
		if e.Property == xproto.AtomNone {
			return nil, nil // no owner, or it refused the text
		}
		r, err := xproto.GetProperty(d.c, true, wid, e.Property, xproto.GetPropertyTypeAny, 0, uint32(d.maxData/4+1)).Reply()
		if err != nil {
			return nil, temporary("read clipboard", err)
		}
		if len(r.Value) == 0 {
			return nil, nil
		}
		return r.Value, nil
	case <-time.After(ClipboardReadLimit):
		return nil, temporary("read clipboard", fmt.Errorf("%w within %v (a hung app?)", ErrClipboardSilent, ClipboardReadLimit))
	}
}

// readNotified routes a SelectionNotify to the read waiting for it (run by
// the event loop).
func (d *x11Desktop) readNotified(e xproto.SelectionNotifyEvent) {
	d.readersMu.Lock()
	ch := d.readers[e.Requestor]
	d.readersMu.Unlock()
	if ch != nil {
		select {
		case ch <- e:
		default:
		}
	}
}

// SetClipboard puts text back on the CLIPBOARD for the person: served by
// an offer of ours (to anyone, until someone copies), which never waits.
// golang.design/x/clipboard's Write would wait on its package lock while
// one of its reads waits out an owner that does not answer (up to 5 s),
// with the desk locked and the keyboard grabbed. Text our offer cannot carry (more
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
		if o, _, err := d.offer(text, nil, public); err == nil {
			d.keepOffer(o.(*x11Offer))
			return nil
		}
	}
	if clipboard.Write(clipboard.FmtText, text) == nil {
		return temporary("restore clipboard", errors.New("clipboard write refused"))
	}
	return nil
}

// keepOffer leaves xo serving the person's clipboard: nobody closes it, it goes
// when someone else copies.
func (d *x11Desktop) keepOffer(xo *x11Offer) {
	d.offersMu.Lock()
	defer d.offersMu.Unlock()
	xo.restored = true
	select {
	case <-xo.lost:
		xo.close()
	default:
	}
}

// SetClipboardIf takes the CLIPBOARD for text only if owner still owns it,
// compared and taken under one server grab (offer with ifOwner). Text no
// offer can carry (not UTF-8, too long) is compared first and written
// after, as SetClipboard writes it.
func (d *x11Desktop) SetClipboardIf(text []byte, owner uint32) (bool, error) {
	if text != nil && utf8.Valid(text) && len(text) <= d.maxData {
		o, ok, err := d.offer(text, &owner, public)
		if err != nil || !ok {
			return false, err
		}
		d.keepOffer(o.(*x11Offer))
		return true, nil
	}
	if cur, err := d.ClipboardOwner(); err != nil || cur != owner {
		return false, err
	}
	return true, d.SetClipboard(text)
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

func (d *x11Desktop) PrimarySets(client uint32) (uint64, time.Time, bool) {
	// Every XFixes event the server sent before now is counted first:
	// the event loop may lag behind the replies a look polls.
	d.syncEvents()
	d.primaryMu.Lock()
	defer d.primaryMu.Unlock()
	p := d.primary[client]
	return p.n, p.last, d.primaryOK
}

func (d *x11Desktop) Offer(text []byte, to uint32) (Offer, error) {
	o, _, err := d.offer(text, nil, to)
	return o, err
}

func (d *x11Desktop) OfferIf(text []byte, owner, to uint32) (Offer, bool, error) {
	return d.offer(text, &owner, to)
}

// public, as an offer's reader, serves anyone: the person's clipboard put
// back (no X client has this id: the server leaves ids' low bits to the
// client and the top 3 to 0).
const public = ^uint32(0)

// offer takes the CLIPBOARD with a fresh unmapped window that serves text.
// A fresh window per offer lets every SelectionRequest and SelectionClear be
// routed to the offer it concerns, even when they arrive late.
// With ifOwner, it takes the selection only if that is still its owner:
// compared and taken under a server grab, so a copy made in between is not
// silently overwritten. It serves our own reads and the client to (or
// anyone: public) from the moment it owns the CLIPBOARD.
func (d *x11Desktop) offer(text []byte, ifOwner *uint32, to uint32) (Offer, bool, error) {
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
	o := &x11Offer{d: d, win: wid, data: text, to: to, fetched: make(chan Fetch, 256), lost: make(chan struct{})}
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
	to      uint32 // the client served besides our own reads (public: anyone)
	fetched chan Fetch
	lost    chan struct{}

	mu       sync.Mutex
	lostOnce sync.Once
	closed   bool
	// restored: the person's clipboard put back, closed when lost
	// (guarded by d.offersMu).
	restored bool
}

func (o *x11Offer) allows(requestor xproto.Window) bool {
	c := o.d.client(uint32(requestor))
	return o.to == public || (o.to != 0 && c == o.to) || c == o.d.client(uint32(o.win))
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
