package deliver

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xinerama"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// Probe answers the setup tools' questions about a desktop (agentspool
// doctor, coords check): which screens there are, whether an EWMH window
// manager runs, which windows it manages. It has its own X connection and
// never sends input, so it can look at a desktop a daemon is driving.
type Probe struct {
	c       *xgb.Conn
	root    xproto.Window
	display string
	atoms   map[string]xproto.Atom
}

var probeAtoms = []string{
	"_NET_SUPPORTING_WM_CHECK", "_NET_WM_NAME", "WM_NAME", "_NET_WM_PID",
	"_NET_CLIENT_LIST", "UTF8_STRING", "WM_CLASS",
}

// OpenProbe connects to the display named by $DISPLAY. The errors are
// IsNoDisplay errors that say what to do.
func OpenProbe() (*Probe, error) {
	display := os.Getenv("DISPLAY")
	if display == "" {
		return nil, &displayError{"DISPLAY is not set: run inside the desktop session, or set DISPLAY (and XAUTHORITY) to the desktop the agents' windows are on"}
	}
	xgb.Logger = log.New(io.Discard, "", 0)
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, &displayError{fmt.Sprintf("cannot connect to X display %q: %v (is the desktop running, and may this user connect to it? check XAUTHORITY)", display, err)}
	}
	p := &Probe{c: c, root: xproto.Setup(c).DefaultScreen(c).Root, display: display, atoms: map[string]xproto.Atom{}}
	for _, name := range probeAtoms {
		r, err := xproto.InternAtom(c, false, uint16(len(name)), name).Reply()
		if err != nil {
			c.Close()
			return nil, &displayError{fmt.Sprintf("X display %q: intern %s: %v", display, name, err)}
		}
		p.atoms[name] = r.Atom
	}
	return p, nil
}

// Display is the display the probe is connected to.
func (p *Probe) Display() string { return p.display }

// Close ends the connection.
func (p *Probe) Close() error {
	p.c.Close()
	return nil
}

// XTEST reports whether the server has the XTEST extension, which the
// daemon's synthetic clicks and keys need.
func (p *Probe) XTEST() error {
	if err := xtest.Init(p.c); err != nil {
		return fmt.Errorf("deliver: X display %q has no XTEST extension: %w", p.display, err)
	}
	if _, err := xtest.GetVersion(p.c, 2, 2).Reply(); err != nil {
		return fmt.Errorf("deliver: X display %q: XTEST: %w", p.display, err)
	}
	return nil
}

// InputClock reports whether the server can tell when a person last used
// the keyboard or mouse, on a clock that our own input can be compared
// with: the quiet-desk wait needs MIT-SCREEN-SAVER's idle time and SYNC's
// SERVERTIME counter.
func (p *Probe) InputClock() error {
	ss, err := xproto.QueryExtension(p.c, 16, "MIT-SCREEN-SAVER").Reply()
	if err != nil {
		return fmt.Errorf("deliver: X display %q: %w", p.display, err)
	}
	if !ss.Present {
		return fmt.Errorf("deliver: X display %q has no MIT-SCREEN-SAVER extension: the idle time is unknown", p.display)
	}
	if _, err := newServerClock(p.c); err != nil {
		return fmt.Errorf("deliver: X display %q: the server's clock cannot be read (%v)", p.display, err)
	}
	return nil
}

// WindowManager returns the name of the EWMH window manager running on the
// display. EWMH's own test: the root's _NET_SUPPORTING_WM_CHECK names a
// window whose _NET_SUPPORTING_WM_CHECK names itself (a stale property left
// by a window manager that died names a window that is gone).
func (p *Probe) WindowManager() (string, error) {
	w, err := p.windowProp(p.root, "_NET_SUPPORTING_WM_CHECK")
	if err != nil {
		return "", err
	}
	if w == 0 {
		return "", errors.New("deliver: no EWMH window manager: the root window has no _NET_SUPPORTING_WM_CHECK")
	}
	self, err := p.windowProp(w, "_NET_SUPPORTING_WM_CHECK")
	if err != nil || self != w {
		return "", fmt.Errorf("deliver: no EWMH window manager: _NET_SUPPORTING_WM_CHECK names window 0x%x, which is gone (a window manager that exited)", uint32(w))
	}
	name, err := p.title(w)
	if err != nil {
		return "", err
	}
	if name == "" {
		name = "(unnamed)"
	}
	return name, nil
}

// Screens lists the monitors: Xinerama's screens when it is active (RandR
// keeps them current), else the root window as one screen.
func (p *Probe) Screens() ([]Screen, error) {
	if err := xinerama.Init(p.c); err == nil {
		if act, err := xinerama.IsActive(p.c).Reply(); err == nil && act.State != 0 {
			r, err := xinerama.QueryScreens(p.c).Reply()
			if err == nil && len(r.ScreenInfo) > 0 {
				out := make([]Screen, len(r.ScreenInfo))
				for i, s := range r.ScreenInfo {
					out[i] = Screen{X: int(s.XOrg), Y: int(s.YOrg), W: int(s.Width), H: int(s.Height)}
				}
				return out, nil
			}
		}
	}
	g, err := xproto.GetGeometry(p.c, xproto.Drawable(p.root)).Reply()
	if err != nil {
		return nil, fmt.Errorf("deliver: X display %q: root geometry: %w", p.display, err)
	}
	return []Screen{{W: int(g.Width), H: int(g.Height)}}, nil
}

// Windows lists the client windows the window manager manages
// (_NET_CLIENT_LIST), with their titles, pids and frames. A window that
// closes while being asked about is left out.
func (p *Probe) Windows() ([]ProbedWindow, error) {
	r, err := xproto.GetProperty(p.c, false, p.root, p.atoms["_NET_CLIENT_LIST"], xproto.AtomWindow, 0, 1<<16).Reply()
	if err != nil {
		return nil, fmt.Errorf("deliver: X display %q: _NET_CLIENT_LIST: %w", p.display, err)
	}
	var out []ProbedWindow
	for i := 0; r.Format == 32 && i+4 <= len(r.Value); i += 4 {
		w := xproto.Window(xgb.Get32(r.Value[i:]))
		title, err := p.title(w)
		if err != nil {
			continue
		}
		pw := ProbedWindow{Window: Window{ID: uint32(w), Title: title}}
		if r, err := xproto.GetProperty(p.c, false, w, p.atoms["WM_CLASS"], xproto.GetPropertyTypeAny, 0, 1024).Reply(); err == nil && r.Format == 8 {
			if parts := strings.Split(strings.TrimRight(string(r.Value), "\x00"), "\x00"); len(parts) == 2 {
				pw.Instance, pw.Class = parts[0], parts[1]
			}
		}
		if pid, err := p.cardinal(w, "_NET_WM_PID"); err == nil {
			pw.PID = int(pid)
		}
		g, err := xproto.GetGeometry(p.c, xproto.Drawable(w)).Reply()
		if err != nil {
			continue
		}
		t, err := xproto.TranslateCoordinates(p.c, w, p.root, 0, 0).Reply()
		if err != nil {
			continue
		}
		pw.Frame = Screen{X: int(t.DstX), Y: int(t.DstY), W: int(g.Width), H: int(g.Height)}
		out = append(out, pw)
	}
	return out, nil
}

// Pointer reports where the pointer is.
func (p *Probe) Pointer() (int, int, error) {
	r, err := xproto.QueryPointer(p.c, p.root).Reply()
	if err != nil {
		return 0, 0, fmt.Errorf("deliver: query pointer: %w", err)
	}
	return int(r.RootX), int(r.RootY), nil
}

func (p *Probe) windowProp(w xproto.Window, name string) (xproto.Window, error) {
	r, err := xproto.GetProperty(p.c, false, w, p.atoms[name], xproto.AtomWindow, 0, 1).Reply()
	if err != nil {
		return 0, fmt.Errorf("deliver: window 0x%x: %s: %w", uint32(w), name, err)
	}
	if r.Format != 32 || len(r.Value) < 4 {
		return 0, nil
	}
	return xproto.Window(xgb.Get32(r.Value)), nil
}

func (p *Probe) cardinal(w xproto.Window, name string) (uint32, error) {
	r, err := xproto.GetProperty(p.c, false, w, p.atoms[name], xproto.AtomCardinal, 0, 1).Reply()
	if err != nil {
		return 0, err
	}
	if r.Format != 32 || len(r.Value) < 4 {
		return 0, nil
	}
	return xgb.Get32(r.Value), nil
}

func (p *Probe) title(w xproto.Window) (string, error) {
	for _, name := range []string{"_NET_WM_NAME", "WM_NAME"} {
		r, err := xproto.GetProperty(p.c, false, w, p.atoms[name], xproto.GetPropertyTypeAny, 0, 4096).Reply()
		if err != nil {
			return "", fmt.Errorf("deliver: window 0x%x: %s: %w", uint32(w), name, err)
		}
		if r.Format == 8 && len(r.Value) > 0 {
			return string(r.Value), nil
		}
	}
	return "", nil
}

// PlatformChecks: none beyond the X11 ones doctor makes itself.
func (p *Probe) PlatformChecks(found map[string][]ProbedWindow) []PlatformCheck { return nil }
