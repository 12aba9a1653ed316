// The setup tools' view of a Windows desktop (agentspool doctor, coords
// check): the session, the monitors of the virtual screen, the top-level
// windows. It sends no input.

package deliver

import (
	"errors"
	"fmt"
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
		w := ProbedWindow{Window: Window{ID: uint32(h), Title: title, PID: int(pid), Client: pid}}
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
