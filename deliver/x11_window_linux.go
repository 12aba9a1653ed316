// X11 backend, window queries and the pointer: the click, the focused
// window (EWMH), the window under a point, activation.

package deliver

import (
	"fmt"
	"strings"

	rx11 "github.com/go-vgo/robotgo/x11"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

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
	// WM_CLASS is "instance\0class\0": what a terminal is known by (a
	// CLI rewrites the title, never the class).
	class, err := d.stringProp(w, "WM_CLASS")
	if err != nil {
		return Window{}, err
	}
	if parts := strings.Split(strings.TrimRight(class, "\x00"), "\x00"); len(parts) == 2 {
		win.Instance, win.Class = parts[0], parts[1]
	}
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
