// Windows backend, window queries and the pointer: the click, the
// foreground window, the window under a point, activation, and whether a
// window's process runs above our integrity level (UIPI).

package deliver

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Click moves the pointer to (x, y) on the virtual screen and clicks the
// left button there: one SendInput (nobody's input comes between), every
// event tagged as ours. (SetCursorPos is not used: under Wine it warps the
// X pointer, and the motion that comes back is not marked injected, so it
// would pass for a person's.)
func (d *winDesktop) Click(x, y int) error {
	move := d.absoluteMove(x, y)
	if err := sendInputs([]mouseInput{
		move,
		{Type: inputMouse, Flags: mouseeventfLeftDown, Extra: tagOwn},
		{Type: inputMouse, Flags: mouseeventfLeftUp, Extra: tagOwn},
	}); err != nil {
		return err
	}
	return nil
}

// absoluteMove is a tagged pointer move to (x, y): absolute coordinates are
// 0..65535 across the virtual screen, rounded up so that they land on the
// pixel itself.
func (d *winDesktop) absoluteMove(x, y int) mouseInput {
	d.mu.Lock()
	d.moved, d.movedAt = point{int32(x), int32(y)}, time.Now()
	d.mu.Unlock()
	vx, vy := systemMetric(smXVirtualScreen), systemMetric(smYVirtualScreen)
	vw, vh := max(systemMetric(smCXVirtualScreen), 1), max(systemMetric(smCYVirtualScreen), 1)
	dx := ((x-vx)*65536 + vw - 1) / vw
	dy := ((y-vy)*65536 + vh - 1) / vh
	return mouseInput{Type: inputMouse, DX: int32(dx), DY: int32(dy),
		Flags: mouseeventfMove | mouseeventfAbsolute | mouseeventfVirtualDesk, Extra: tagOwn}
}

// echoWindow: how long after our move a motion to its very point is taken
// for its echo.
const echoWindow = 500 * time.Millisecond

// echo reports whether an untagged pointer motion to pt is the echo of our
// own move: under Wine a move warps the X pointer, and the motion the X
// server then reports reaches the hooks again, untagged. (Real Windows
// sends no such echo; a person moving to that very pixel within
// echoWindow is taken for us, which costs nothing: it is a move, not a
// key.)
func (d *winDesktop) echo(pt point) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return pt == d.moved && time.Since(d.movedAt) < echoWindow
}

func systemMetric(i int) int {
	r, _, _ := procGetSystemMetrics.Call(uintptr(i))
	return int(int32(r))
}

func (d *winDesktop) Pointer() (int, int, error) {
	var p point
	if r, _, err := procGetCursorPos.Call(uintptr(unsafe.Pointer(&p))); r == 0 {
		return 0, 0, temporary("pointer", err)
	}
	return int(p.X), int(p.Y), nil
}

// MovePointer puts the pointer at (x, y), as a tagged move of ours.
func (d *winDesktop) MovePointer(x, y int) error {
	if px, py, err := d.Pointer(); err == nil && px == x && py == y {
		return nil
	}
	return sendInputs([]mouseInput{d.absoluteMove(x, y)})
}

// Focused is the foreground window: the one that gets the keys.
func (d *winDesktop) Focused() (Window, error) {
	h := windows.GetForegroundWindow()
	if h == 0 {
		return Window{}, nil
	}
	return d.describe(h), nil
}

func (d *winDesktop) describe(h windows.HWND) Window {
	pid := windowPID(h)
	return Window{ID: uint32(h), Title: windowTitle(h), PID: int(pid), Client: pid, Class: windowClass(h), Instance: processName(pid)}
}

func (d *winDesktop) WindowAt(x, y int) (Window, error) {
	pt := uintptr(uint32(int32(x))) | uintptr(uint32(int32(y)))<<32
	h, _, _ := procWindowFromPoint.Call(pt)
	if h == 0 {
		return Window{}, nil
	}
	top, _, _ := procGetAncestor.Call(h, gaRoot)
	if top == 0 {
		top = h
	}
	w := d.describe(windows.HWND(top))
	var r rect
	if ok, _, _ := procGetWindowRect.Call(top, uintptr(unsafe.Pointer(&r))); ok != 0 {
		w.Left, w.Top = int(r.Left), int(r.Top)
	}
	return w, nil
}

// Activate asks for w to be the foreground window. Windows refuses it to a
// process that is not in the foreground (the foreground lock) unless that
// process made the last input, which a delivery's click is.
func (d *winDesktop) Activate(w Window) error {
	if r, _, err := procSetForegroundWindow.Call(uintptr(w.ID)); r == 0 {
		return temporary("activate", err)
	}
	return nil
}

// integrity is the mandatory integrity level (a RID such as 0x2000,
// medium, or 0x3000, high: elevated) of the process pid.
func integrity(pid uint32) (uint32, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return 0, err
	}
	defer tok.Close()
	var n uint32
	windows.GetTokenInformation(tok, windows.TokenIntegrityLevel, nil, 0, &n)
	if n == 0 {
		return 0, fmt.Errorf("no integrity level")
	}
	buf := make([]byte, n)
	if err := windows.GetTokenInformation(tok, windows.TokenIntegrityLevel, &buf[0], n, &n); err != nil {
		return 0, err
	}
	label := (*windows.Tokenmandatorylabel)(unsafe.Pointer(&buf[0]))
	sid := label.Label.Sid
	if sid.SubAuthorityCount() == 0 {
		return 0, fmt.Errorf("integrity SID without sub-authority")
	}
	return sid.SubAuthority(uint32(sid.SubAuthorityCount()) - 1), nil
}

// elevatedError: the target's process runs above our integrity level;
// Windows drops our input to it (User Interface Privilege Isolation).
type elevatedError struct {
	title       string
	theirs, our uint32
}

func (e *elevatedError) Error() string {
	return fmt.Sprintf("deliver: the window %q runs elevated (integrity 0x%x, ours 0x%x): Windows drops input sent to it from a lower level (UIPI), so nothing can be pasted; run the agent's program without \"Run as administrator\", or agentspool elevated too", e.title, e.theirs, e.our)
}

// checkIntegrity refuses a window whose process is above ours: a key sent
// to it would be dropped without an error.
func (d *winDesktop) checkIntegrity(w Window) error {
	theirs, err := integrity(uint32(w.PID))
	if err != nil {
		// An elevated process cannot even be opened for query by some
		// users; that is not proof either way. The landing check still
		// sees a paste that never came.
		return nil
	}
	ours, err := integrity(d.pid)
	if err != nil || theirs <= ours {
		return nil
	}
	return &elevatedError{title: w.Title, theirs: theirs, our: ours}
}
