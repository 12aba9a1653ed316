package desktoptest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// Typist is a person at the keyboard: it types through XTEST, as real
// input, and knows exactly when each key went in (unlike a child process,
// whose start-up hides when its first key lands).
type Typist struct {
	c        *xgb.Conn
	root     xproto.Window
	min      xproto.Keycode
	per      int
	syms     []xproto.Keysym
	shift    xproto.Keycode
	shiftSet bool
}

// Typist connects a typist to the desktop.
func (d *Desktop) Typist() (*Typist, error) {
	c, err := xgb.NewConnDisplay(d.Display)
	if err != nil {
		return nil, fmt.Errorf("desktoptest: typist: %w", err)
	}
	if err := xtest.Init(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("desktoptest: typist: XTEST: %w", err)
	}
	s := xproto.Setup(c)
	m, err := xproto.GetKeyboardMapping(c, s.MinKeycode, byte(s.MaxKeycode-s.MinKeycode+1)).Reply()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("desktoptest: typist: keyboard map: %w", err)
	}
	t := &Typist{c: c, root: s.DefaultScreen(c).Root, min: s.MinKeycode, per: int(m.KeysymsPerKeycode), syms: m.Keysyms}
	t.shift, t.shiftSet = t.keycode(0xffe1)
	return t, nil
}

func (t *Typist) keycode(ks xproto.Keysym) (xproto.Keycode, bool) {
	for i := 0; i < len(t.syms); i += t.per {
		if t.syms[i] == ks {
			return t.min + xproto.Keycode(i/t.per), true
		}
	}
	return 0, false
}

// Keystroke is one key a Typist typed: the server had it at some moment
// between Sent and Done.
type Keystroke struct{ Sent, Done time.Time }

// Type types text (ASCII letters, digits and spaces; "\n" is Return), one
// key every delay plus up to jitter more (people do not type like a clock),
// and returns when each key went in.
func (t *Typist) Type(text string, delay, jitter time.Duration) ([]Keystroke, error) {
	var keys []Keystroke
	for i, r := range text {
		ks, shifted := xproto.Keysym(r), false
		switch {
		case r == '\n':
			ks = 0xff0d
		case r >= 'A' && r <= 'Z':
			ks, shifted = xproto.Keysym(r-'A'+'a'), true
		case r == ' ' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
		default:
			return keys, fmt.Errorf("desktoptest: typist: %q is not typeable here", r)
		}
		kc, ok := t.keycode(ks)
		if !ok || shifted && !t.shiftSet {
			return keys, fmt.Errorf("desktoptest: typist: no key for %q", r)
		}
		if i > 0 {
			pause := delay
			if jitter > 0 {
				pause += time.Duration(rand.Int64N(int64(jitter)))
			}
			time.Sleep(pause)
		}
		sent := time.Now()
		if shifted {
			xtest.FakeInput(t.c, xproto.KeyPress, byte(t.shift), 0, t.root, 0, 0, 0)
		}
		xtest.FakeInput(t.c, xproto.KeyPress, byte(kc), 0, t.root, 0, 0, 0)
		xtest.FakeInput(t.c, xproto.KeyRelease, byte(kc), 0, t.root, 0, 0, 0)
		if shifted {
			xtest.FakeInput(t.c, xproto.KeyRelease, byte(t.shift), 0, t.root, 0, 0, 0)
		}
		t.c.Sync()
		keys = append(keys, Keystroke{Sent: sent, Done: time.Now()})
	}
	return keys, nil
}

// Close disconnects the typist.
func (t *Typist) Close() { t.c.Close() }
