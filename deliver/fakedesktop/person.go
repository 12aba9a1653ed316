// The fake's input clock, and a person at the keyboard and mouse: their
// input ticks the clock, ours is noted as our own.

package fakedesktop

import (
	"time"

	"github.com/agentspool/agentspool/deliver"
)

// touchLocked is an input event of ours: the clock ticks, and the tick is
// the deliverer's own.
func (d *Desk) touchLocked() {
	d.inputLocked()
	d.synthetic = d.lastInput
}

// inputLocked is an input event from anyone: the clock ticks.
func (d *Desk) inputLocked() {
	d.lastInput = deliver.Input{Tick: d.lastInput.Tick + 1, At: time.Now()}
}

func (d *Desk) LastInput() (deliver.Input, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastInput, nil
}

func (d *Desk) OwnInput() (deliver.Input, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.synthetic, d.synthetic.Tick != 0
}

// PersonTypes is a person typing text at the keyboard: it goes to the
// focused window's input, or is kept back while the deliverer grabs the keys.
func (d *Desk) PersonTypes(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
	if d.grabbed {
		d.kept = append(d.kept, text)
		return
	}
	if d.focus != nil {
		d.focus.Input += text
	}
}

// PersonTypesThrough is a person's keys that the deliverer's grab did not
// keep back (under Wine, a keyboard hook that answered too late): text goes
// to the focused window's input at once, as an edit its undo takes back
// before any paste that came earlier.
func (d *Desk) PersonTypesThrough(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
	if w := d.focus; w != nil {
		w.pastes = append(w.pastes, len(w.Input))
		w.Input += text
	}
}

// ClearInput is a person emptying the input of the window titled title
// (deleting their draft).
func (d *Desk) ClearInput(title string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
	for _, w := range d.wins {
		if w.Title == title {
			w.Input, w.pastes, w.selected = "", nil, false
		}
	}
}

// PersonKeyDown is a person pressing (true) or letting go of (false) a key.
func (d *Desk) PersonKeyDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keyDown = down
	d.inputLocked() // a release is input too
}

// PersonMovesMouse is a person touching the mouse.
func (d *Desk) PersonMovesMouse() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputLocked()
}
