// Windows backend, input clock: every input event as the low-level hooks
// see it, ours (tagged) or a person's, on the system's millisecond tick.

package deliver

import (
	"time"
	"unsafe"
)

// noteInput records one input event. A person's event in the same
// millisecond as our latest is still later than it (the hooks see events
// in order): its tick is pushed one past ours, so that it can never pass
// for our own.
func (d *winDesktop) noteInput(ours bool, t Tick) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if ours {
		if !d.haveOwn || t.After(d.own.Tick) {
			d.own = Input{Tick: t, At: now}
		}
		d.haveOwn = true
		return
	}
	if d.haveOwn && !t.After(d.own.Tick) {
		t = d.own.Tick + 1
	}
	if !d.haveLast || t.After(d.last.Tick) {
		d.last = Input{Tick: t, At: now}
	}
	d.haveLast = true
}

// OwnInput is the latest input of any agentspool process (tagOwn) the
// hooks saw.
func (d *winDesktop) OwnInput() (Input, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.own, d.haveOwn
}

// LastInput is the latest input event anyone made, as the hooks saw it;
// before the hooks saw any, the system's last input (GetLastInputInfo).
func (d *winDesktop) LastInput() (Input, error) {
	d.mu.Lock()
	own, haveOwn, last, haveLast := d.own, d.haveOwn, d.last, d.haveLast
	d.mu.Unlock()
	switch {
	case haveLast && (!haveOwn || last.Tick.After(own.Tick)):
		return last, nil
	case haveOwn:
		return own, nil
	}
	info := lastInputInfo{Size: uint32(unsafe.Sizeof(lastInputInfo{}))}
	if r, _, err := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); r == 0 {
		return Input{}, temporary("idle time", err)
	}
	now := tickCount()
	ago := time.Duration(uint32(now)-info.Time) * time.Millisecond
	return Input{Tick: Tick(info.Time), At: time.Now().Add(-ago)}, nil
}
