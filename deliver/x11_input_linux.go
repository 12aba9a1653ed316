// X11 backend, input clock: our own injections stamped on the server's
// clock, and the desktop's last input (MIT-SCREEN-SAVER idle time).

package deliver

import (
	"errors"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
)

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
