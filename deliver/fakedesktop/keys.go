// The fake's keyboard: taps and what each does in the focused window
// (paste, submit, select-all, copy, undo), optionally lagging, and the
// grab that keeps a person's keys back.

package fakedesktop

import (
	"slices"
	"strings"
	"time"

	"github.com/agentspool/agentspool/deliver"
)

// Keys returns every key combination tapped, in order.
func (d *Desk) Keys() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.keys)
}

func (d *Desk) Key(combo []string) error {
	if hook := d.BeforeKey; hook != nil {
		hook(d, combo)
	}
	d.mu.Lock()
	d.keyLocked(combo)
	d.mu.Unlock()
	if hook := d.AfterKey; hook != nil {
		hook(d, combo)
	}
	return nil
}

func (d *Desk) GuardedKey(combo []string, ok func(deliver.Window) bool) (deliver.Window, bool, error) {
	if hook := d.BeforeKey; hook != nil {
		hook(d, combo)
	}
	d.mu.Lock()
	if d.FocusErr != nil {
		d.mu.Unlock()
		return deliver.Window{}, false, d.FocusErr
	}
	var w deliver.Window
	if d.focus != nil {
		w = d.focus.Window
	}
	// ok may ask the desk (the clipboard's owner): unlocked meanwhile.
	// Nothing in a test moves the focus in between.
	d.mu.Unlock()
	if !ok(w) {
		return w, false, nil
	}
	d.mu.Lock()
	d.keyLocked(combo)
	d.mu.Unlock()
	if hook := d.AfterKey; hook != nil {
		hook(d, combo)
	}
	return w, true, nil
}

type lagged struct {
	due time.Time
	f   func()
}

func (d *Desk) keyLocked(combo []string) {
	d.touchLocked()
	d.keys = append(d.keys, slices.Clone(combo))
	win := d.focus
	if win == nil {
		return
	}
	if d.Lag <= 0 {
		d.effectLocked(win, combo)
		return
	}
	if d.lagQ == nil {
		d.lagQ = make(chan lagged, 256)
		go func() {
			for l := range d.lagQ {
				time.Sleep(time.Until(l.due))
				d.mu.Lock()
				l.f()
				d.mu.Unlock()
			}
		}()
	}
	d.lagQ <- lagged{due: time.Now().Add(d.Lag), f: func() { d.effectLocked(win, combo) }}
}

// effectLocked is what combo does in win.
func (d *Desk) effectLocked(win *Win, combo []string) {
	k := strings.Join(combo, "+")
	if win.PasteKey != "" {
		switch k {
		case win.PasteKey:
			k = "ctrl+v"
		case "ctrl+v":
			k = "" // a terminal sends it to its program
		}
	}
	switch k {
	case "ctrl+v":
		if d.NeverFetch {
			return
		}
		if d.owner == nil && !d.hasClip {
			return
		}
		lost := d.MultiClickLosesCaret && d.lastPress[win.Client].count > 1
		reads := max(d.Reads, 1)
		paste := func() {
			var text []byte
			for i := range reads {
				if i > 0 {
					if d.BetweenReads != nil {
						d.BetweenReads(d, i)
					}
					time.Sleep(d.ReadGap)
				}
				d.mu.Lock()
				text = d.readLocked(win)
				d.mu.Unlock()
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if text == nil || lost {
				return
			}
			if d.DropPastes > 0 {
				d.DropPastes--
				return
			}
			win.pastes = append(win.pastes, len(win.Input))
			win.Input += string(text)
		}
		if d.FetchDelay > 0 || reads > 1 {
			go func() { time.Sleep(d.FetchDelay); paste() }()
			return
		}
		d.mu.Unlock()
		paste()
		d.mu.Lock()
	case "enter", "ctrl+enter":
		if d.DropEnters > 0 {
			d.DropEnters--
			return
		}
		text := win.Input
		win.Submits = append(win.Submits, text)
		win.Input, win.pastes = "", nil
		if d.OnSubmit != nil {
			d.OnSubmit(win, text)
		}
	case "ctrl+a", "ctrl+c":
		if combo[1] == "a" {
			if win.NoSelectAll {
				return
			}
			win.selected = true
			if win.Input != "" && !d.NoPrimary {
				if d.primary == nil {
					d.primary = map[uint32]primarySet{}
				}
				p := d.primary[win.Client]
				d.primary[win.Client] = primarySet{n: p.n + 1, last: time.Now()}
			}
			return
		}
		// Like most inputs: copying an empty selection leaves the
		// clipboard alone.
		if win.selected && (win.Input != "" || d.EmptyCopies != "") {
			d.newOwnerLocked()
			d.clip, d.hasClip = []byte(win.Input), true
			if win.Input == "" {
				d.clip = []byte(d.EmptyCopies)
			}
			d.ownerWin = win
		}
	case "end":
		win.selected = false
	case "backspace":
		// Deletes the selection, or the last character.
		switch {
		case win.selected:
			win.Input = ""
		case win.Input != "":
			r := []rune(win.Input)
			win.Input = string(r[:len(r)-1])
		}
		win.pastes, win.selected = nil, false
	case "ctrl+z":
		if n := len(win.pastes); n > 0 {
			win.Input = win.Input[:win.pastes[n-1]]
			win.pastes = win.pastes[:n-1]
		}
	}
}

// KeysDown: the fake has no key down unless PersonKeyDown says so.
func (d *Desk) KeysDown() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keyDown, nil
}

func (d *Desk) GrabKeys() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.grabbed, d.kept = true, nil
	return nil
}

func (d *Desk) KeptKeys() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.kept)
}

func (d *Desk) ReleaseKeys() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.kept)
	for _, k := range d.kept {
		// Replayed keys are the person's input, not the deliverer's.
		d.inputLocked()
		if d.focus != nil {
			d.focus.Input += k
		}
	}
	d.grabbed, d.kept = false, nil
	return n, nil
}
