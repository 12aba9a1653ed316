// Windows backend: the message thread (our hidden windows, the low-level
// input hooks, the clipboard's messages) and its start and stop.

package deliver

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// winDesktop is the Windows Desktop.
//
// Why this shape:
//   - Direct Win32 calls through golang.org/x/sys/windows, not robotgo:
//     robotgo builds for Windows only with cgo (a mingw toolchain for every
//     release build), and it has neither delayed rendering nor input hooks,
//     which are what make the guarantees below possible. A plain `go build`
//     makes agentspool.exe.
//   - The message is offered by delayed rendering (SetClipboardData with no
//     data): Windows asks our window (WM_RENDERFORMAT) each time a program
//     reads the text, and GetOpenClipboardWindow then names the reader, so
//     the text is rendered to the agent's process only and every read is
//     seen. After each render the offer withdraws the rendered text
//     (empties and offers again), so the next read asks again: another
//     program can read the rendered text only in the moment between the
//     reader closing the clipboard and the withdrawal.
//   - A person's input is told from ours by the low-level hooks
//     (WH_KEYBOARD_LL, WH_MOUSE_LL): our SendInput events carry tagOwn in
//     dwExtraInfo. The same hooks keep a person's keys back during the GUI
//     steps (a hook that returns 1 swallows the key) for replay after.
//   - Windows has no server grab: a guarded key checks the foreground
//     window, taps (one SendInput call, never interleaved with other input)
//     and checks again; a change between the checks is an error, and the
//     paste is looked for and taken back (see GuardedKey).
//   - The process is per-monitor DPI aware, so coordinates are physical
//     pixels on the virtual screen (negative left of or above the primary).
//
// Window.Client is the window's process id: a paste is attributed to the
// process whose window opened the clipboard.
type winDesktop struct {
	tid    uint32       // the message thread
	msgWin windows.HWND // reads, and the person's clipboard put back
	inst   windows.Handle
	class  *uint16
	pid    uint32
	calls  chan func()
	done   chan struct{}
	hooks  []uintptr

	mu     sync.Mutex // offers, the input record, the kept keys
	offers map[windows.HWND]*winOffer
	// ownRead: our own Clipboard has the clipboard open (opened with no
	// window, so GetOpenClipboardWindow cannot name us; the clipboard is
	// open to one reader at a time, so while this is set the reader an
	// offer renders to is us).
	ownRead atomic.Bool

	own, last         Input
	haveOwn, haveLast bool
	down              map[uint32]bool // keys a person holds down now
	grabbed           bool
	replayed          int       // replayed key events the hook has seen
	moved             point     // where our latest pointer move went
	movedAt           time.Time // and when
	kept              []kbdLLHook
	keptUp            []bool

	noHistory, noCloud, noMonitor uint32 // clipboard formats that keep a message out of history
}

var _ Desktop = (*winDesktop)(nil)

// The callbacks are made once per process (Windows callbacks are a
// limited resource in Go).
var (
	winClassOnce          sync.Once
	wndProcCB, kbCB, msCB uintptr
)

// NewWindows starts the Windows backend: a thread that owns our hidden
// windows and input hooks and pumps their messages.
func NewWindows() (Desktop, error) {
	if err := procSendInput.Find(); err != nil {
		return nil, &displayError{"user32.dll has no SendInput: " + err.Error()}
	}
	// Per-monitor DPI awareness (Windows 10 1703+), else system-wide.
	setDPIAware()
	d := &winDesktop{
		pid:    windows.GetCurrentProcessId(),
		calls:  make(chan func(), 16),
		done:   make(chan struct{}),
		offers: map[windows.HWND]*winOffer{},
		down:   map[uint32]bool{},
	}
	d.noHistory = registerFormat("CanIncludeInClipboardHistory")
	d.noCloud = registerFormat("CanUploadToCloudClipboard")
	d.noMonitor = registerFormat("ExcludeClipboardContentFromMonitorProcessing")
	started := make(chan error, 1)
	go d.loop(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return d, nil
}

func registerFormat(name string) uint32 {
	p, _ := windows.UTF16PtrFromString(name)
	f, _, _ := procRegisterClipboardFormatW.Call(uintptr(unsafe.Pointer(p)))
	return uint32(f)
}

// theDesktop is the one winDesktop whose windows the window procedure and
// hooks serve (callbacks carry no context of their own).
var theDesktop struct {
	sync.Mutex
	d *winDesktop
}

func (d *winDesktop) loop(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.tid = windows.GetCurrentThreadId()
	theDesktop.Lock()
	if theDesktop.d != nil {
		theDesktop.Unlock()
		started <- errors.New("deliver: one Windows desktop per process")
		return
	}
	theDesktop.d = d
	theDesktop.Unlock()
	defer func() {
		theDesktop.Lock()
		theDesktop.d = nil
		theDesktop.Unlock()
		close(d.done)
	}()
	inst, _, _ := procGetModuleHandleW.Call(0)
	d.inst = windows.Handle(inst)
	d.class, _ = windows.UTF16PtrFromString("agentspoolOffer")
	var regErr error
	winClassOnce.Do(func() {
		wndProcCB = windows.NewCallback(wndProc)
		kbCB, msCB = windows.NewCallback(keyboardHook), windows.NewCallback(mouseHook)
		wc := wndClassEx{WndProc: wndProcCB, Instance: d.inst, ClassName: d.class}
		wc.Size = uint32(unsafe.Sizeof(wc))
		if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
			regErr = fmt.Errorf("deliver: RegisterClassEx: %w", err)
		}
	})
	if regErr != nil {
		started <- regErr
		return
	}
	w, err := d.newWindow()
	if err != nil {
		started <- err
		return
	}
	d.msgWin = w
	for _, h := range []struct {
		id int
		fn uintptr
	}{{whKeyboardLL, kbCB}, {whMouseLL, msCB}} {
		hk, _, err := procSetWindowsHookExW.Call(uintptr(h.id), h.fn, inst, 0)
		if hk == 0 {
			started <- &displayError{fmt.Sprintf("cannot install the low-level input hook %d (which tells a person's input from ours): %v", h.id, err)}
			return
		}
		d.hooks = append(d.hooks, hk)
	}
	started <- nil
	var m msg
	for {
		r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(r) <= 0 {
			break
		}
		if m.Message == wmAppCall && m.Hwnd == 0 {
			d.runCalls()
			continue
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
	for _, hk := range d.hooks {
		procUnhookWindowsHookEx.Call(hk)
	}
	d.mu.Lock()
	for w := range d.offers {
		procDestroyWindow.Call(uintptr(w))
	}
	d.mu.Unlock()
	procDestroyWindow.Call(uintptr(d.msgWin))
}

// newWindow makes a message-only window of ours (on the message thread).
func (d *winDesktop) newWindow() (windows.HWND, error) {
	w, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(d.class)), 0, 0, 0, 0, 0, 0, hwndMessage, 0, uintptr(d.inst), 0)
	if w == 0 {
		return 0, fmt.Errorf("deliver: CreateWindowEx: %w", err)
	}
	return windows.HWND(w), nil
}

func (d *winDesktop) runCalls() {
	for {
		select {
		case f := <-d.calls:
			f()
		default:
			return
		}
	}
}

// do runs f on the message thread and waits for it.
func (d *winDesktop) do(f func()) error {
	ran := make(chan struct{})
	select {
	case d.calls <- func() { f(); close(ran) }:
	case <-d.done:
		return errors.New("deliver: the Windows desktop is closed")
	}
	procPostThreadMessageW.Call(uintptr(d.tid), wmAppCall, 0, 0)
	select {
	case <-ran:
		return nil
	case <-d.done:
		return errors.New("deliver: the Windows desktop is closed")
	}
}

func (d *winDesktop) Close() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	d.ReleaseKeys()
	procPostThreadMessageW.Call(uintptr(d.tid), 0x0012 /* WM_QUIT */, 0, 0)
	select {
	case <-d.done:
	case <-time.After(2 * time.Second):
	}
	return nil
}

func current() *winDesktop {
	theDesktop.Lock()
	defer theDesktop.Unlock()
	return theDesktop.d
}

// wndProc serves our windows: an offer's renders and its loss.
func wndProc(h, m, wp, lp uintptr) uintptr {
	hwnd := windows.HWND(h)
	if d := current(); d != nil {
		switch m {
		case wmRenderFormat:
			if o := d.offer(hwnd); o != nil && wp == cfUnicodeText {
				o.render()
			}
			return 0
		case wmRenderAllFormats:
			// Our window is going while it owns the clipboard: nothing is
			// rendered, the message does not outlive its offer.
			return 0
		case wmDestroyClipboard:
			if o := d.offer(hwnd); o != nil {
				o.emptied()
			}
			return 0
		}
	}
	r, _, _ := procDefWindowProcW.Call(h, m, wp, lp)
	return r
}

func (d *winDesktop) offer(w windows.HWND) *winOffer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offers[w]
}

func keyboardHook(code, wp, lp uintptr) uintptr {
	if d := current(); int32(code) == 0 && d != nil {
		k := (*kbdLLHook)(ptr(lp))
		if d.key(*k, wp == wmKeyDown || wp == wmSysKeyDown) {
			return 1 // kept back for replay
		}
	}
	r, _, _ := procCallNextHookEx.Call(0, code, wp, lp)
	return r
}

func mouseHook(code, wp, lp uintptr) uintptr {
	if d := current(); int32(code) == 0 && d != nil {
		m := (*msLLHook)(ptr(lp))
		ours := m.Flags&llmhfInjected != 0 && m.Extra == tagOwn
		if !ours && wp == wmMouseMove && d.echo(m.Pt) {
			ours = true
		}
		d.noteInput(ours, Tick(m.Time))
	}
	r, _, _ := procCallNextHookEx.Call(0, code, wp, lp)
	return r
}
