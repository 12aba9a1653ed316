// Windows backend, the keyboard grab: while a delivery's GUI steps run,
// the keyboard hook swallows a person's keys and keeps them; they are
// replayed, in order, when the steps end.

package deliver

import "time"

// key is the keyboard hook's view of one key event; true: swallow it.
func (d *winDesktop) key(k kbdLLHook, press bool) bool {
	ours := k.Flags&llkhfInjected != 0 && k.Extra == tagOwn
	d.noteInput(ours, Tick(k.Time))
	if ours {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if press {
		d.down[k.VK] = true
	} else {
		delete(d.down, k.VK)
	}
	if k.Extra == tagReplay {
		d.replayed++
		return false
	}
	if !d.grabbed {
		return false
	}
	d.kept = append(d.kept, k)
	d.keptUp = append(d.keptUp, !press)
	return true
}

// KeysDown: a key a person pressed is still down (the hook saw it go
// down and the system agrees it is).
func (d *winDesktop) KeysDown() (bool, error) {
	d.mu.Lock()
	var down []uint32
	for vk := range d.down {
		down = append(down, vk)
	}
	d.mu.Unlock()
	for _, vk := range down {
		if s, _, _ := procGetAsyncKeyState.Call(uintptr(vk)); s&0x8000 != 0 {
			return true, nil
		}
		d.mu.Lock()
		delete(d.down, vk) // its release went by unseen
		d.mu.Unlock()
	}
	return false, nil
}

func (d *winDesktop) GrabKeys() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.grabbed = true
	d.kept, d.keptUp = nil, nil
	return nil
}

func (d *winDesktop) KeptKeys() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.kept)
}

// ReleaseKeys replays the kept keys, as the person's (tagReplay: not our
// own input), to the window that has the focus now, and then lets go of
// the keyboard. The grab lasts until the hooks have seen the replay: a key the
// person types meanwhile is kept too and replayed after the others, never
// typed before the keys that came first.
func (d *winDesktop) ReleaseKeys() (int, error) {
	total := 0
	for {
		d.mu.Lock()
		kept, up := d.kept, d.keptUp
		d.kept, d.keptUp = nil, nil
		if len(kept) == 0 {
			d.grabbed = false
			d.mu.Unlock()
			return total, nil
		}
		seen := d.replayed
		d.mu.Unlock()
		in := make([]keyInput, len(kept))
		for i, k := range kept {
			in[i] = keyInput{Type: inputKeyboard, VK: uint16(k.VK), Scan: uint16(k.Scan), Extra: tagReplay}
			if k.Flags&0x01 != 0 { // LLKHF_EXTENDED
				in[i].Flags |= keyeventfExtended
			}
			if up[i] {
				in[i].Flags |= keyeventfKeyUp
			}
		}
		if err := sendInputs(in); err != nil {
			d.mu.Lock()
			d.grabbed = false
			d.mu.Unlock()
			return total, err
		}
		total += len(kept)
		// Wait (briefly) for the hooks to see the replay go by.
		for wait := 0; wait < 200; wait++ {
			d.mu.Lock()
			done := d.replayed-seen >= len(kept)
			d.mu.Unlock()
			if done {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}
