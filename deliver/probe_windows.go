// The setup tools' view of a Windows desktop (agentspool doctor, coords
// check): the session, the monitors of the virtual screen, the top-level
// windows. It sends no input.

package deliver

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Probe answers the setup tools' questions about the desktop.
type Probe struct {
	session uint32
}

var (
	procEnumDisplayMonitors = user32.NewProc("EnumDisplayMonitors")
	procGetMonitorInfoW     = user32.NewProc("GetMonitorInfoW")
	procIsWindowVisible     = user32.NewProc("IsWindowVisible")
	procGetClientRect       = user32.NewProc("GetClientRect")
	procClientToScreen      = user32.NewProc("ClientToScreen")

	probeCBOnce         sync.Once
	monitorCB, windowCB uintptr
	probeMu             sync.Mutex // one enumeration at a time (the callbacks' state)
	probeScreens        []Screen
	probeWindows        []windows.HWND
)

// OpenProbe checks that this process runs on an interactive desktop: a
// program in session 0 (a Windows service) cannot reach the person's
// windows.
func OpenProbe() (*Probe, error) {
	if err := procSendInput.Find(); err != nil {
		return nil, &displayError{"user32.dll has no SendInput: " + err.Error()}
	}
	var s uint32
	if err := windows.ProcessIdToSessionId(windows.GetCurrentProcessId(), &s); err == nil && s == 0 {
		return nil, &displayError{"running in session 0 (as a Windows service): the person's desktop and its windows are out of reach; run agentspool in your own logon session (agentspool service install makes a logon task)"}
	}
	probeCBOnce.Do(func() {
		monitorCB = windows.NewCallback(func(mon, hdc, r, lp uintptr) uintptr {
			mr := (*rect)(ptr(r))
			probeScreens = append(probeScreens, Screen{X: int(mr.Left), Y: int(mr.Top), W: int(mr.Right - mr.Left), H: int(mr.Bottom - mr.Top)})
			return 1
		})
		windowCB = windows.NewCallback(func(h, lp uintptr) uintptr {
			probeWindows = append(probeWindows, windows.HWND(h))
			return 1
		})
	})
	return &Probe{session: s}, nil
}

func (p *Probe) Display() string { return fmt.Sprintf("Windows desktop, session %d", p.session) }
func (p *Probe) Close() error    { return nil }

// XTEST: on Windows, input is injected with SendInput.
func (p *Probe) XTEST() error { return procSendInput.Find() }

// InputClock: a person's input is told from ours by low-level hooks.
func (p *Probe) InputClock() error {
	if err := procSetWindowsHookExW.Find(); err != nil {
		return errors.New("no SetWindowsHookEx: a person's input cannot be told from ours")
	}
	return nil
}

// WindowManager: Windows' own (the desktop window manager).
func (p *Probe) WindowManager() (string, error) { return "Windows", nil }

// Screens are the monitors, in virtual-screen coordinates (physical pixels:
// agentspool is per-monitor DPI aware).
func (p *Probe) Screens() ([]Screen, error) {
	probeMu.Lock()
	defer probeMu.Unlock()
	probeScreens = nil
	if r, _, err := procEnumDisplayMonitors.Call(0, 0, monitorCB, 0); r == 0 {
		return nil, fmt.Errorf("EnumDisplayMonitors: %v", err)
	}
	return append([]Screen(nil), probeScreens...), nil
}

// Windows are the visible top-level windows with a title, and where their
// client areas are.
func (p *Probe) Windows() ([]ProbedWindow, error) {
	probeMu.Lock()
	probeWindows = nil
	if err := windows.EnumWindows(windowCB, nil); err != nil {
		probeMu.Unlock()
		return nil, fmt.Errorf("EnumWindows: %w", err)
	}
	hs := append([]windows.HWND(nil), probeWindows...)
	probeMu.Unlock()
	var out []ProbedWindow
	for _, h := range hs {
		if v, _, _ := procIsWindowVisible.Call(uintptr(h)); v == 0 {
			continue
		}
		title := windowTitle(h)
		if title == "" {
			continue
		}
		pid := windowPID(h)
		w := ProbedWindow{Window: Window{ID: uint32(h), Title: title, PID: int(pid), Client: pid, Class: windowClass(h), Instance: processName(pid)}}
		var cr rect
		var origin point
		if ok, _, _ := procGetClientRect.Call(uintptr(h), uintptr(unsafe.Pointer(&cr))); ok != 0 {
			procClientToScreen.Call(uintptr(h), uintptr(unsafe.Pointer(&origin)))
			w.Frame = Screen{X: int(origin.X), Y: int(origin.Y), W: int(cr.Right - cr.Left), H: int(cr.Bottom - cr.Top)}
		}
		out = append(out, w)
	}
	return out, nil
}

func (p *Probe) Pointer() (int, int, error) {
	var pt point
	if r, _, err := procGetCursorPos.Call(uintptr(unsafe.Pointer(&pt))); r == 0 {
		return 0, 0, err
	}
	return int(pt.X), int(pt.Y), nil
}

var (
	procSystemParametersInfoW        = user32.NewProc("SystemParametersInfoW")
	procGetThreadDpiAwarenessContext = user32.NewProc("GetThreadDpiAwarenessContext")
	procGetAwarenessFromDpiContext   = user32.NewProc("GetAwarenessFromDpiAwarenessContext")
)

// PlatformChecks are what matters on Windows: DPI awareness (coordinates
// are physical pixels only when per-monitor aware), the foreground lock,
// and, for each agent's window found, whether it runs elevated (UIPI drops
// our input to it).
func (p *Probe) PlatformChecks(found map[string][]ProbedWindow) []PlatformCheck {
	var out []PlatformCheck
	setDPIAware()
	switch aw := dpiAwareness(); aw {
	case 2:
		out = append(out, PlatformCheck{What: "dpi", OK: true, Detail: "per-monitor DPI aware: coordinates are physical pixels on every monitor"})
	case -1:
		out = append(out, PlatformCheck{What: "dpi", OK: true, Detail: "DPI awareness not reported by this Windows (before 10 1607); system-aware: use the same scale on every monitor, or recapture points after changing it"})
	default:
		out = append(out, PlatformCheck{What: "dpi", Detail: fmt.Sprintf("not per-monitor DPI aware (awareness %d): points on a monitor with another scale are off", aw),
			Fix: "use Windows 10 1703 or later; meanwhile set every monitor to the same scale (Settings > System > Display) and recapture: agentspool coords capture AGENT"})
	}
	var lock uint32
	if r, _, _ := procSystemParametersInfoW.Call(0x2000 /* SPI_GETFOREGROUNDLOCKTIMEOUT */, 0, uintptr(unsafe.Pointer(&lock)), 0); r != 0 {
		out = append(out, PlatformCheck{What: "foreground lock", OK: true, Detail: fmt.Sprintf("%d ms: a delivery's own click gives the agent's window the foreground, as a person's click would", lock)})
	}
	ours, err := integrity(windows.GetCurrentProcessId())
	if err != nil {
		return out
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, w := range found[n] {
			theirs, err := integrity(uint32(w.PID))
			if err != nil {
				continue
			}
			if theirs > ours {
				out = append(out, PlatformCheck{What: n, Detail: fmt.Sprintf("the window %q runs elevated (integrity 0x%x, agentspool 0x%x): Windows drops input sent to it from below (UIPI)", w.Title, theirs, ours),
					Fix: "start the agent's program without \"Run as administrator\" (or run agentspool elevated too, which is not advised)"})
			}
		}
	}
	return out
}

func setDPIAware() {
	if procSetProcessDpiAwareCtx.Find() == nil {
		procSetProcessDpiAwareCtx.Call(dpiAwarenessPerMonitorV2)
	} else if procSetProcessDPIAware.Find() == nil {
		procSetProcessDPIAware.Call()
	}
}

// dpiAwareness is the thread's DPI_AWARENESS (0 unaware, 1 system, 2 per
// monitor), or -1 when this Windows cannot say.
func dpiAwareness() int {
	if procGetThreadDpiAwarenessContext.Find() != nil || procGetAwarenessFromDpiContext.Find() != nil {
		return -1
	}
	ctx, _, _ := procGetThreadDpiAwarenessContext.Call()
	a, _, _ := procGetAwarenessFromDpiContext.Call(ctx)
	return int(int32(a))
}
