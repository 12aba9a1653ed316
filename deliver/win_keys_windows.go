// Windows backend, keys: key names to virtual-key codes, SendInput taps
// tagged as ours, and the guarded key (check, tap, check again).

package deliver

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
)

var vkByName = map[string]uint16{
	"enter": 0x0D, "return": 0x0D, "tab": 0x09, "escape": 0x1B, "esc": 0x1B,
	"space": 0x20, "backspace": 0x08, "delete": 0x2E, "home": 0x24, "end": 0x23,
	"left": 0x25, "up": 0x26, "right": 0x27, "down": 0x28, "insert": 0x2D,
	"ctrl": 0x11, "shift": 0x10, "alt": 0x12, "super": 0x5B, "cmd": 0x5B,
}

// extended keys need KEYEVENTF_EXTENDEDKEY to be the arrows and the
// editing block rather than their number-pad twins.
var vkExtended = map[uint16]bool{0x2D: true, 0x2E: true, 0x24: true, 0x23: true, 0x25: true, 0x26: true, 0x27: true, 0x28: true, 0x5B: true}

// vkFor is the virtual-key code of a key name; a character key (a–z, 0–9,
// "slash") is looked up in the keyboard layout.
func vkFor(name string) (uint16, error) {
	name = strings.ToLower(name)
	if vk, ok := vkByName[name]; ok {
		return vk, nil
	}
	var n int
	if _, err := fmt.Sscanf(name, "f%d", &n); err == nil && n >= 1 && n <= 12 && name == fmt.Sprintf("f%d", n) {
		return uint16(0x70 + n - 1), nil
	}
	ch := rune(0)
	switch {
	case name == "slash":
		ch = '/'
	case name == "backslash":
		ch = '\\'
	case len(name) == 1 && (name[0] >= 'a' && name[0] <= 'z' || name[0] >= '0' && name[0] <= '9'):
		ch = rune(name[0])
	default:
		return 0, fmt.Errorf("deliver: unknown key %q", name)
	}
	r, _, _ := procVkKeyScanW.Call(uintptr(ch))
	if int16(r) == -1 {
		return 0, fmt.Errorf("deliver: key %q is not on this keyboard layout", name)
	}
	if r&0xff00 != 0 && name == "slash" {
		// '/' needs Shift on this layout: the key itself is what
		// select-all combos mean (the "/" key), as on X11.
		return uint16(r & 0xff), nil
	}
	return uint16(r & 0xff), nil
}

// taps is combo as key events: each key down in order, then up in reverse.
func taps(combo []string) ([]keyInput, error) {
	var in []keyInput
	for _, k := range combo {
		vk, err := vkFor(k)
		if err != nil {
			return nil, err
		}
		// The scan code too, as a keyboard sends it: apps (Chromium among
		// them) read it, and a key without one is not always typed.
		scan, _, _ := procMapVirtualKeyW.Call(uintptr(vk), mapvkVkToVsc)
		e := keyInput{Type: inputKeyboard, VK: vk, Scan: uint16(scan), Extra: tagOwn}
		if vkExtended[vk] {
			e.Flags |= keyeventfExtended
		}
		in = append(in, e)
	}
	for i := len(combo) - 1; i >= 0; i-- {
		e := in[i]
		e.Flags |= keyeventfKeyUp
		in = append(in, e)
	}
	return in, nil
}

// Key taps combo wherever the focus is (tests only; deliveries use
// GuardedKey).
func (d *winDesktop) Key(combo []string) error {
	in, err := taps(combo)
	if err != nil {
		return err
	}
	return sendInputs(in)
}

// modifierVKs: a person holding one of these would change our combination.
var modifierVKs = []uintptr{0x10, 0x11, 0x12, 0x5B, 0x5C}

// GuardedKey taps combo only if the foreground window satisfies ok.
// Windows has no server grab, so the check and the key cannot be made one
// step: the key goes in one SendInput (never interleaved with other input)
// right after the check, and the foreground window is checked again after
// it. If it changed in between, where the key went is unknown: an error
// (the caller looks for what was pasted and takes it back). A window whose
// process runs elevated is refused (its input would be dropped).
func (d *winDesktop) GuardedKey(combo []string, ok func(Window) bool) (Window, bool, error) {
	in, err := taps(combo)
	if err != nil {
		return Window{}, false, err
	}
	for _, vk := range modifierVKs {
		if s, _, _ := procGetAsyncKeyState.Call(vk); s&0x8000 != 0 {
			return Window{}, false, errModifierDown
		}
	}
	before := windows.GetForegroundWindow()
	w := d.describe(before)
	if before == 0 || !ok(w) {
		return w, false, nil
	}
	if err := d.checkIntegrity(w); err != nil {
		return w, false, err
	}
	if err := sendInputs(in); err != nil {
		return w, false, err
	}
	if after := windows.GetForegroundWindow(); after != before {
		return w, true, temporary("key", fmt.Errorf("%w: the foreground window changed while %s was tapped (from %q to %q)", errKeyUncertain, strings.Join(combo, "+"), w.Title, windowTitle(after)))
	}
	return w, true, nil
}
