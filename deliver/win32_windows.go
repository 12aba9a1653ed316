// Windows backend, the Win32 calls it makes: user32 and kernel32 entry
// points through golang.org/x/sys/windows (no cgo), and their structs.

package deliver

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32   = windows.NewLazySystemDLL("user32.dll")
	kernel32 = windows.NewLazySystemDLL("kernel32.dll")

	procGetCursorPos             = user32.NewProc("GetCursorPos")
	procSendInput                = user32.NewProc("SendInput")
	procGetWindowTextW           = user32.NewProc("GetWindowTextW")
	procGetClassNameW            = user32.NewProc("GetClassNameW")
	procWindowFromPoint          = user32.NewProc("WindowFromPoint")
	procGetAncestor              = user32.NewProc("GetAncestor")
	procGetWindowRect            = user32.NewProc("GetWindowRect")
	procSetForegroundWindow      = user32.NewProc("SetForegroundWindow")
	procOpenClipboard            = user32.NewProc("OpenClipboard")
	procCloseClipboard           = user32.NewProc("CloseClipboard")
	procEmptyClipboard           = user32.NewProc("EmptyClipboard")
	procGetClipboardData         = user32.NewProc("GetClipboardData")
	procSetClipboardData         = user32.NewProc("SetClipboardData")
	procGetClipboardOwner        = user32.NewProc("GetClipboardOwner")
	procGetOpenClipboardWindow   = user32.NewProc("GetOpenClipboardWindow")
	procRegisterClipboardFormatW = user32.NewProc("RegisterClipboardFormatW")
	procRegisterClassExW         = user32.NewProc("RegisterClassExW")
	procCreateWindowExW          = user32.NewProc("CreateWindowExW")
	procDestroyWindow            = user32.NewProc("DestroyWindow")
	procDefWindowProcW           = user32.NewProc("DefWindowProcW")
	procGetMessageW              = user32.NewProc("GetMessageW")
	procTranslateMessage         = user32.NewProc("TranslateMessage")
	procDispatchMessageW         = user32.NewProc("DispatchMessageW")
	procPostThreadMessageW       = user32.NewProc("PostThreadMessageW")
	procSetWindowsHookExW        = user32.NewProc("SetWindowsHookExW")
	procUnhookWindowsHookEx      = user32.NewProc("UnhookWindowsHookEx")
	procCallNextHookEx           = user32.NewProc("CallNextHookEx")
	procGetAsyncKeyState         = user32.NewProc("GetAsyncKeyState")
	procGetLastInputInfo         = user32.NewProc("GetLastInputInfo")
	procVkKeyScanW               = user32.NewProc("VkKeyScanW")
	procMapVirtualKeyW           = user32.NewProc("MapVirtualKeyW")
	procGetSystemMetrics         = user32.NewProc("GetSystemMetrics")
	procSetProcessDPIAware       = user32.NewProc("SetProcessDPIAware")
	procSetProcessDpiAwareCtx    = user32.NewProc("SetProcessDpiAwarenessContext")
	procGlobalAlloc              = kernel32.NewProc("GlobalAlloc")
	procGlobalLock               = kernel32.NewProc("GlobalLock")
	procGlobalUnlock             = kernel32.NewProc("GlobalUnlock")
	procGlobalFree               = kernel32.NewProc("GlobalFree")
	procGetTickCount             = kernel32.NewProc("GetTickCount")
	procGetModuleHandleW         = kernel32.NewProc("GetModuleHandleW")
)

const (
	wmDestroy           = 0x0002
	wmKeyDown           = 0x0100
	wmMouseMove         = 0x0200
	wmSysKeyDown        = 0x0104
	wmRenderFormat      = 0x0305
	wmRenderAllFormats  = 0x0306
	wmDestroyClipboard  = 0x0307
	wmApp               = 0x8000
	wmAppCall           = wmApp + 1 // run the queued calls on the message thread
	whKeyboardLL        = 13
	whMouseLL           = 14
	llkhfInjected       = 0x10
	llmhfInjected       = 0x01
	cfUnicodeText       = 13
	mapvkVkToVsc        = 0
	gmemMoveable        = 0x0002
	gaRoot              = 2
	inputMouse          = 0
	inputKeyboard       = 1
	keyeventfExtended   = 0x0001
	keyeventfKeyUp      = 0x0002
	mouseeventfLeftDown = 0x0002
	mouseeventfLeftUp   = 0x0004
	mouseeventfMove     = 0x0001
	mouseeventfAbsolute = 0x8000
	// mouseeventfVirtualDesk maps absolute coordinates onto the whole
	// virtual screen, every monitor, not the primary alone.
	mouseeventfVirtualDesk = 0x4000
	smXVirtualScreen       = 76
	smYVirtualScreen       = 77
	smCXVirtualScreen      = 78
	smCYVirtualScreen      = 79
	hwndMessage            = ^uintptr(2) // HWND_MESSAGE, (HWND)-3
	// dpiAwarenessPerMonitorV2 is DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2:
	// coordinates are physical pixels on every monitor.
	dpiAwarenessPerMonitorV2 = ^uintptr(3) // (DPI_AWARENESS_CONTEXT)-4
)

// Our injected input carries one of these in dwExtraInfo, which the
// low-level hooks see: any agentspool process's own input is told from a
// person's by it, and a person's replayed keys are the person's still.
const (
	tagOwn    = 0x41535031 // "ASP1"
	tagReplay = 0x41535052 // "ASPR"
)

type point struct{ X, Y int32 }

type rect struct{ Left, Top, Right, Bottom int32 }

type msg struct {
	Hwnd    windows.HWND
	Message uint32
	WParam  uintptr
	LParam  uintptr
	Time    uint32
	Pt      point
	_       uint32
}

type wndClassEx struct {
	Size       uint32
	Style      uint32
	WndProc    uintptr
	ClsExtra   int32
	WndExtra   int32
	Instance   windows.Handle
	Icon       windows.Handle
	Cursor     windows.Handle
	Background windows.Handle
	MenuName   *uint16
	ClassName  *uint16
	IconSm     windows.Handle
}

// kbdLLHook is KBDLLHOOKSTRUCT.
type kbdLLHook struct {
	VK, Scan, Flags, Time uint32
	Extra                 uintptr
}

// msLLHook is MSLLHOOKSTRUCT.
type msLLHook struct {
	Pt                     point
	MouseData, Flags, Time uint32
	Extra                  uintptr
}

// mouseInput and keyInput are INPUT (40 bytes on amd64) with the union's
// member laid out in place.
type mouseInput struct {
	Type      uint32
	_         uint32
	DX, DY    int32
	MouseData uint32
	Flags     uint32
	Time      uint32
	_         uint32
	Extra     uintptr
}

type keyInput struct {
	Type     uint32
	_        uint32
	VK, Scan uint16
	Flags    uint32
	Time     uint32
	_        uint32
	Extra    uintptr
	_        [8]byte
}

type lastInputInfo struct {
	Size uint32
	Time uint32
}

func sendInputs[T mouseInput | keyInput](in []T) error {
	if len(in) == 0 {
		return nil
	}
	n, _, err := procSendInput.Call(uintptr(len(in)), uintptr(unsafe.Pointer(&in[0])), unsafe.Sizeof(in[0]))
	if int(n) != len(in) {
		return temporary("SendInput", err)
	}
	return nil
}

func tickCount() Tick {
	t, _, _ := procGetTickCount.Call()
	return Tick(uint32(t))
}

// utf16Text is text as CF_UNICODETEXT holds it: UTF-16 with a NUL.
func utf16Text(text []byte) []uint16 {
	u, err := windows.UTF16FromString(string(text))
	if err != nil { // a NUL inside: cut there, as any reader would
		s := string(text)
		for i, r := range s {
			if r == 0 {
				u, _ = windows.UTF16FromString(s[:i])
				break
			}
		}
	}
	return u
}

// globalText copies u into a movable global block, as SetClipboardData
// takes it (the clipboard owns the block once it is set).
func globalText(u []uint16) (windows.Handle, error) {
	size := uintptr(len(u) * 2)
	h, _, err := procGlobalAlloc.Call(gmemMoveable, size)
	if h == 0 {
		return 0, err
	}
	p, _, err := procGlobalLock.Call(h)
	if p == 0 {
		procGlobalFree.Call(h)
		return 0, err
	}
	copy(unsafe.Slice((*uint16)(ptr(p)), len(u)), u)
	procGlobalUnlock.Call(h)
	return windows.Handle(h), nil
}

func windowPID(h windows.HWND) uint32 {
	var pid uint32
	windows.GetWindowThreadProcessId(h, &pid)
	return pid
}

func windowTitle(h windows.HWND) string {
	buf := make([]uint16, 512)
	n, _, _ := procGetWindowTextW.Call(uintptr(h), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return windows.UTF16ToString(buf[:n])
}

// windowClass is the window's class name (ConsoleWindowClass for the
// console host, CASCADIA_HOSTING_WINDOW_CLASS for Windows Terminal).
func windowClass(h windows.HWND) string {
	buf := make([]uint16, 256)
	n, _, _ := procGetClassNameW.Call(uintptr(h), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return windows.UTF16ToString(buf[:n])
}

// processName is the base name of the process's executable ("" when it
// cannot be opened: another user's, or elevated).
func processName(pid uint32) string {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	name := windows.UTF16ToString(buf[:n])
	return name[strings.LastIndexAny(name, `\/`)+1:]
}

// ptr is a memory address that Windows handed us (a global block, a hook's
// struct) as a pointer. The memory is Windows', never Go's, so the
// garbage collector has nothing to track.
func ptr(u uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&u)) }
