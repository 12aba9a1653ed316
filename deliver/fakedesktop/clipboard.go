// The fake's CLIPBOARD: our offers (restricted to one client, as the real
// ones are), another client's copies, and the PRIMARY selections it counts.

package fakedesktop

import (
	"slices"
	"sync"
	"time"

	"github.com/agentspool/agentspool/deliver"
)

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

// WindowCopies makes the window titled title the CLIPBOARD's owner with
// text, as its own copy: a look's copy that came late (Monaco copies its
// empty line, "\n", under load after the look gave up on it).
func (d *Desk) WindowCopies(title, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.wins {
		if w.Title == title {
			d.newOwnerLocked()
			d.clip, d.hasClip, d.ownerWin = []byte(text), true, w
			return
		}
	}
}

// SetClipboardErr sets ClipboardErr while deliveries may be running.
func (d *Desk) SetClipboardErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ClipboardErr = err
}

// ForeignRead is another client (a clipboard manager) reading the
// CLIPBOARD; it reports whether it got the text.
func (d *Desk) ForeignRead() ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owner != nil {
		return nil, false // an offer serves only our reads and its window
	}
	return slices.Clone(d.clip), d.hasClip
}

// ClipboardOwner is a number that changes with every new owner.
func (d *Desk) ClipboardOwner() (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ownerSeq, nil
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

// newOwnerLocked: another client takes the CLIPBOARD; ours (if any) is lost.
func (d *Desk) newOwnerLocked() {
	d.loseLocked()
	d.ownerSeq++
	d.ownerWin = nil
}

func (d *Desk) loseLocked() {
	if d.owner != nil {
		d.owner.loseOnce.Do(func() { close(d.owner.lost) })
		d.owner = nil
	}
}

// FailOffers makes every offer from now on fail with err (nil: offers
// work again).
func (d *Desk) FailOffers(err error) {
	d.mu.Lock()
	d.offerErr = err
	d.mu.Unlock()
}

func (d *Desk) Offer(text []byte, to uint32) (deliver.Offer, error) {
	d.mu.Lock()
	if err := d.offerErr; err != nil {
		d.mu.Unlock()
		return nil, err
	}
	d.newOwnerLocked()
	o := &offer{d: d, seq: d.ownerSeq, to: to, text: slices.Clone(text), fetched: make(chan deliver.Fetch, 256), lost: make(chan struct{})}
	d.owner = o
	d.hasClip = false
	hook := d.AfterOffer
	d.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	return o, nil
}

func (d *Desk) OfferIf(text []byte, owner, to uint32) (deliver.Offer, bool, error) {
	d.mu.Lock()
	changed := d.ownerSeq != owner
	d.mu.Unlock()
	if changed {
		return nil, false, nil
	}
	o, err := d.Offer(text, to)
	return o, err == nil, err
}

type offer struct {
	d        *Desk
	seq      uint32 // the owner number while it owns the CLIPBOARD
	to       uint32 // the one window's client served, besides our reads
	text     []byte
	fetched  chan deliver.Fetch
	lost     chan struct{}
	loseOnce sync.Once
}

func (o *offer) Fetched() <-chan deliver.Fetch { return o.fetched }
func (o *offer) Owner() uint32                 { return o.seq }
func (o *offer) Lost() <-chan struct{}         { return o.lost }
func (o *offer) Close() error {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	if o.d.owner == o {
		o.d.loseLocked()
	}
	return nil
}

// readLocked is win reading the CLIPBOARD once: from our offer (reported
// as a fetch, refused when restricted to another client) or from another
// owner. nil: refused or empty.
func (d *Desk) readLocked(win *Win) []byte {
	if o := d.owner; o != nil {
		if o.to != win.Client {
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
