// X11 backend, keys: keysyms to keycodes, XTEST taps, the guarded key
// under a server grab, and modifiers held by others.

package deliver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

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

// tap sends the key events; the caller holds the server grab. While a
// person's keys are kept back, the keyboard grab is lifted around our own
// events (XTEST input obeys grabs like real input), and taken again before
// anyone else runs.
func (d *x11Desktop) tap(codes []xproto.Keycode) {
	d.grabMu.Lock()
	grabbed := d.grabbed
	d.grabMu.Unlock()
	if grabbed {
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
	"backslash": 0x5c, "insert": 0xff63,
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
