// X11 backend, the keyboard grab: a person's keys kept back under a
// keyboard grab during the GUI steps, and replayed after.

package deliver

import (
	"fmt"

	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

type keptKey struct {
	press bool
	code  xproto.Keycode
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

// GrabKeys grabs the keyboard on the root window.
func (d *x11Desktop) GrabKeys() error {
	d.grabMu.Lock()
	defer d.grabMu.Unlock()
	if d.grabbed {
		return nil
	}
	if err := d.grabKeyboard(); err != nil {
		return err
	}
	d.grabbed, d.kept = true, nil
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

// KeptKeys counts the person's keys kept so far, after letting the event
// loop take in every event the server sent before this call.
func (d *x11Desktop) KeptKeys() int {
	d.grabMu.Lock()
	grabbed := d.grabbed
	d.grabMu.Unlock()
	if grabbed {
		d.syncEvents()
	}
	d.grabMu.Lock()
	defer d.grabMu.Unlock()
	return len(d.kept)
}

// ReleaseKeys ungrabs and replays what a person typed meanwhile.
func (d *x11Desktop) ReleaseKeys() (int, error) {
	d.grabMu.Lock()
	defer d.grabMu.Unlock()
	if !d.grabbed {
		return 0, nil
	}
	// Under a server grab: stop the keyboard grab (no key comes to us
	// after it), then send ourselves a marker. Events arrive in order, so
	// once the event loop sees the marker it has kept every key before it.
	xproto.GrabServer(d.c)
	xproto.UngrabKeyboard(d.c, xproto.TimeCurrentTime)
	d.grabMu.Unlock()
	d.syncEvents()
	d.grabMu.Lock()
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
	d.grabbed, d.kept = false, nil
	return kept, nil
}

// keep records a person's key event that the keyboard grab diverted to us.
func (d *x11Desktop) keep(press bool, code xproto.Keycode) {
	d.grabMu.Lock()
	defer d.grabMu.Unlock()
	if d.grabbed {
		d.kept = append(d.kept, keptKey{press: press, code: code})
	}
}
