// Windows backend, clipboard serving: an offer is a window of ours that
// owns the clipboard with CF_UNICODETEXT promised (delayed rendering),
// renders it only to our own reads and the agent's process, and withdraws it
// after each render so every read asks again.

package deliver

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

type winOffer struct {
	d       *winDesktop
	win     windows.HWND
	text    []uint16
	fetched chan Fetch
	lost    chan struct{}
	once    sync.Once

	// on the message thread only:
	to       uint32 // the process the text is rendered to, besides our own reads
	closed   bool
	emptying bool // our own EmptyClipboard: not a loss
	rendered bool // the text is on the clipboard: withdraw it
}

// openClipboard opens the clipboard for w, waiting while another program
// has it open (they hold it for microseconds to milliseconds).
func openClipboard(w windows.HWND, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		r, _, err := procOpenClipboard.Call(uintptr(w))
		if r != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return temporary("open clipboard", fmt.Errorf("another program keeps the clipboard open: %v", err))
		}
		time.Sleep(time.Millisecond)
	}
}

func closeClipboard() { procCloseClipboard.Call() }

func clipboardOwner() windows.HWND {
	h, _, _ := procGetClipboardOwner.Call()
	return windows.HWND(h)
}

// Clipboard reads CF_UNICODETEXT as any program would; an owner with
// delayed rendering (ours too) is asked for it. Read off the message
// thread, bounded by ClipboardReadLimit: a hung owner must not stall our
// hooks.
func (d *winDesktop) Clipboard() ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The clipboard is opened and closed by one thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := openClipboard(0, ClipboardReadLimit/2); err != nil {
			ch <- result{nil, err}
			return
		}
		d.ownRead.Store(true)
		defer closeClipboard()
		defer d.ownRead.Store(false)
		h, _, _ := procGetClipboardData.Call(cfUnicodeText)
		if h == 0 {
			ch <- result{nil, nil} // no text (or no owner)
			return
		}
		p, _, _ := procGlobalLock.Call(h)
		if p == 0 {
			ch <- result{nil, nil}
			return
		}
		defer procGlobalUnlock.Call(h)
		n := 0
		for *(*uint16)(unsafe.Add(ptr(p), 2*n)) != 0 {
			n++
		}
		s := windows.UTF16ToString(unsafe.Slice((*uint16)(ptr(p)), n))
		ch <- result{[]byte(s), nil}
	}()
	select {
	case r := <-ch:
		// Our own offer, read (the read-back): its text is withdrawn
		// before this returns, so that the paste that follows asks for
		// it again (and is seen).
		if o := d.offer(clipboardOwner()); o != nil {
			d.do(func() { o.withdraw() })
		}
		return r.b, r.err
	case <-time.After(ClipboardReadLimit):
		return nil, temporary("read clipboard", fmt.Errorf("%w within %v (a hung program?)", ErrClipboardSilent, ClipboardReadLimit))
	}
}

// SetClipboard puts the person's text back, rendered at once and owned by
// our long-lived window (only text: images, files and other formats the
// person had copied are not saved or restored). nil leaves the clipboard
// without an owner.
func (d *winDesktop) SetClipboard(text []byte) error {
	var err error
	if cerr := d.do(func() { _, err = d.setClipboard(text, nil) }); cerr != nil {
		return cerr
	}
	return err
}

// SetClipboardIf is SetClipboard done only if owner still owns the
// clipboard, compared with the clipboard open (nobody can copy between).
func (d *winDesktop) SetClipboardIf(text []byte, owner uint32) (bool, error) {
	var ok bool
	var err error
	if cerr := d.do(func() { ok, err = d.setClipboard(text, &owner) }); cerr != nil {
		return false, cerr
	}
	return ok, err
}

func (d *winDesktop) setClipboard(text []byte, ifOwner *uint32) (bool, error) {
	if text == nil {
		if err := openClipboard(0, 250*time.Millisecond); err != nil {
			return false, err
		}
		defer closeClipboard()
		if ifOwner != nil && uint32(clipboardOwner()) != *ifOwner {
			return false, nil
		}
		d.emptyClipboard()
		return true, nil
	}
	h, err := globalText(utf16Text(text))
	if err != nil {
		return false, temporary("restore clipboard", err)
	}
	if err := openClipboard(d.msgWin, 250*time.Millisecond); err != nil {
		procGlobalFree.Call(uintptr(h))
		return false, err
	}
	defer closeClipboard()
	if ifOwner != nil && uint32(clipboardOwner()) != *ifOwner {
		procGlobalFree.Call(uintptr(h))
		return false, nil
	}
	d.emptyClipboard()
	if r, _, err := procSetClipboardData.Call(cfUnicodeText, uintptr(h)); r == 0 {
		procGlobalFree.Call(uintptr(h))
		return false, temporary("restore clipboard", err)
	}
	return true, nil
}

// emptyClipboard empties the open clipboard; an offer of ours that owned
// it knows the loss is our own doing.
func (d *winDesktop) emptyClipboard() {
	o := d.offer(clipboardOwner())
	if o != nil {
		o.emptying = true
	}
	procEmptyClipboard.Call()
	if o != nil {
		o.emptying = false
		o.lose()
	}
}

func (d *winDesktop) ClipboardOwner() (uint32, error) {
	return uint32(clipboardOwner()), nil
}

// PrimarySets counts nothing: Windows has no PRIMARY selection, so a look
// at an empty input waits its copy deadline.
func (d *winDesktop) PrimarySets(uint32) (uint64, time.Time, bool) { return 0, time.Time{}, false }

func (d *winDesktop) ClipboardClient() (uint32, error) {
	h := clipboardOwner()
	if h == 0 {
		return 0, nil
	}
	return windowPID(h), nil
}

func (d *winDesktop) Offer(text []byte, to uint32) (Offer, error) {
	o, _, err := d.newOffer(text, nil, to)
	return o, err
}

func (d *winDesktop) OfferIf(text []byte, owner, to uint32) (Offer, bool, error) {
	return d.newOffer(text, &owner, to)
}

// newOffer makes a window that takes the clipboard (with ifOwner: only if
// that is still its owner, checked with the clipboard open, so nobody can
// copy in between) and promises the text, to be rendered to our own reads
// and the process to alone from its first moment.
func (d *winDesktop) newOffer(text []byte, ifOwner *uint32, to uint32) (Offer, bool, error) {
	var o *winOffer
	var ok bool
	var err error
	cerr := d.do(func() {
		var w windows.HWND
		if w, err = d.newWindow(); err != nil {
			return
		}
		o = &winOffer{d: d, win: w, text: utf16Text(text), to: to, fetched: make(chan Fetch, 256), lost: make(chan struct{})}
		if err = openClipboard(w, 250*time.Millisecond); err != nil {
			procDestroyWindow.Call(uintptr(w))
			return
		}
		if ifOwner != nil && uint32(clipboardOwner()) != *ifOwner {
			closeClipboard()
			procDestroyWindow.Call(uintptr(w))
			return
		}
		d.mu.Lock()
		d.offers[w] = o
		d.mu.Unlock()
		d.emptyClipboard()
		o.promise()
		closeClipboard()
		ok = true
	})
	if cerr != nil {
		return nil, false, cerr
	}
	if err != nil {
		return nil, false, temporary("offer", err)
	}
	if !ok {
		return nil, false, nil
	}
	return o, true, nil
}

// promise sets the formats on the open clipboard: the text, delayed, and
// the flags that keep it out of clipboard history, cloud clipboard and
// clipboard monitors (Windows 10 1809+; others ignore them).
func (o *winOffer) promise() {
	d := o.d
	for _, f := range []uint32{d.noHistory, d.noCloud} {
		if f == 0 {
			continue
		}
		if h, err := globalDWORD(0); err == nil {
			if r, _, _ := procSetClipboardData.Call(uintptr(f), uintptr(h)); r == 0 {
				procGlobalFree.Call(uintptr(h))
			}
		}
	}
	if d.noMonitor != 0 {
		if h, err := globalDWORD(0); err == nil {
			if r, _, _ := procSetClipboardData.Call(uintptr(d.noMonitor), uintptr(h)); r == 0 {
				procGlobalFree.Call(uintptr(h))
			}
		}
	}
	procSetClipboardData.Call(cfUnicodeText, 0)
	o.rendered = false
}

func globalDWORD(v uint32) (windows.Handle, error) {
	h, _, err := procGlobalAlloc.Call(gmemMoveable, 4)
	if h == 0 {
		return 0, err
	}
	p, _, err := procGlobalLock.Call(h)
	if p == 0 {
		procGlobalFree.Call(h)
		return 0, err
	}
	*(*uint32)(ptr(p)) = v
	procGlobalUnlock.Call(h)
	return windows.Handle(h), nil
}

// render answers WM_RENDERFORMAT: the reader is the window that has the
// clipboard open. Refused (no data) to anyone but our own read and the
// process the offer is for.
func (o *winOffer) render() {
	if o.closed {
		return
	}
	reader, _, _ := procGetOpenClipboardWindow.Call()
	pid := uint32(0)
	if reader != 0 {
		pid = windowPID(windows.HWND(reader))
	}
	if !o.d.ownRead.Load() && (o.to == 0 || pid != o.to) {
		return
	}
	h, err := globalText(o.text)
	if err != nil {
		return
	}
	if r, _, _ := procSetClipboardData.Call(cfUnicodeText, uintptr(h)); r == 0 {
		procGlobalFree.Call(uintptr(h))
		return
	}
	o.rendered = true
	select {
	case o.fetched <- Fetch{Requestor: uint32(reader), Client: pid, At: time.Now(), Data: true}:
	default:
	}
	// Once the reader closes the clipboard, the text goes again.
	go o.withdrawSoon()
}

// withdrawSoon withdraws the rendered text as soon as the reader has
// closed the clipboard (polled: Windows tells an owner nothing of a
// reader's close), for at most a second.
func (o *winOffer) withdrawSoon() {
	for range 2000 {
		done := true
		if o.d.do(func() { done = o.withdraw() }) != nil || done {
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// withdraw takes the rendered text off the clipboard and promises it again,
// if the offer still owns it. false: another program has the clipboard
// open; try again.
func (o *winOffer) withdraw() bool {
	if o.closed || !o.rendered || clipboardOwner() != o.win {
		return true
	}
	if r, _, _ := procOpenClipboard.Call(uintptr(o.win)); r == 0 {
		return false
	}
	if clipboardOwner() == o.win {
		o.emptying = true
		procEmptyClipboard.Call()
		o.emptying = false
		o.promise()
	}
	closeClipboard()
	return true
}

// emptied answers WM_DESTROYCLIPBOARD: another program took the clipboard.
func (o *winOffer) emptied() {
	if !o.emptying {
		o.lose()
	}
}

func (o *winOffer) lose() { o.once.Do(func() { close(o.lost) }) }

func (o *winOffer) Fetched() <-chan Fetch { return o.fetched }
func (o *winOffer) Owner() uint32         { return uint32(o.win) }
func (o *winOffer) Lost() <-chan struct{} { return o.lost }

// Close stops serving: if the offer still owns the clipboard it is left
// without an owner (nothing rendered: the message does not stay), and the
// window goes.
func (o *winOffer) Close() error {
	return o.d.do(func() {
		if o.closed {
			return
		}
		o.closed = true
		if clipboardOwner() == o.win && openClipboard(0, 250*time.Millisecond) == nil {
			o.emptying = true
			procEmptyClipboard.Call()
			o.emptying = false
			closeClipboard()
		}
		o.lose()
		o.d.mu.Lock()
		delete(o.d.offers, o.win)
		o.d.mu.Unlock()
		procDestroyWindow.Call(uintptr(o.win))
	})
}
