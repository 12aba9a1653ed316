// Quiet-desk policy (platform-neutral): a person's input is told from any
// agentspool process's own, and a delivery waits for a quiet desk.

package deliver

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ownStale: a tick of our own input older than this is not compared with
// the desktop's clock (which wraps after 49.7 days); input after it counts
// as a person's, long past.
const ownStale = 24 * time.Hour

// ownInput is the tick of any agentspool process's last input on this
// desktop: ours, or what the last lock holder wrote beside the lock.
func (d *Deliverer) ownInput() (Input, bool) {
	own, ok := d.Desktop.OwnInput()
	if d.Lock != nil {
		var tick uint32
		var at int64
		if b, err := d.Lock.ReadSidecar("input"); err == nil {
			if _, err := fmt.Sscanf(string(b), "%d %d", &tick, &at); err == nil {
				if other := (Input{Tick: Tick(tick), At: time.Unix(0, at)}); time.Since(other.At) < ownStale && (!ok || other.Tick.After(own.Tick)) {
					own, ok = other, true
				}
			}
		}
	}
	if ok && time.Since(own.At) >= ownStale {
		ok = false
	}
	return own, ok
}

// sawPerson notes evidence of a person at the desk now.
func (d *Deliverer) sawPerson() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.personSeen = time.Now()
	d.personGen++
}

// personInput looks at the desktop's last input: if its tick is later than
// any agentspool input's, a person made it. It returns when a person was
// last seen (zero if never) and the evidence count.
func (d *Deliverer) personInput() (time.Time, uint64) {
	// A key down between our deliveries is a person mid-keystroke: their
	// input is now, whatever the idle time says.
	if down, err := d.Desktop.KeysDown(); err == nil && down {
		d.sawPerson()
	}
	last, err := d.Desktop.LastInput()
	own, haveOwn := d.ownInput()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if !d.noIdle {
			d.noIdle = true
			d.Log.Warn("cannot see whether a person is typing; delivering without waiting for a quiet desk", "err", err)
		}
		return d.personSeen, d.personGen
	}
	if (!haveOwn || last.Tick.After(own.Tick)) && (!d.havePerson || last.Tick != d.person.Tick) {
		d.person, d.havePerson = last, true
		if last.At.After(d.personSeen) {
			d.personSeen = last.At
		}
		d.personGen++
	}
	return d.personSeen, d.personGen
}

// quiet is what the quiet check saw: the person-evidence count (a change
// of it later is a person's new input), and whether an urgent message goes
// in spite of a person at the desk (after QuietMaxWait).
type quiet struct {
	gen    uint64
	forced bool
}

// lockQuiet takes the desktop lock at a moment no person has used the
// keyboard or mouse for QuietFor. The check is made holding the lock, so
// another agentspool process's own typing is never taken for a person's.
func (d *Deliverer) lockQuiet(ctx context.Context, t Target, rep *Report) (quiet, error) {
	begin := time.Now()
	told := false
	for {
		w, err := d.lock(ctx)
		rep.LockWait += w
		if err != nil {
			return quiet{}, err
		}
		from := time.Now()
		if d.QuietFor <= 0 {
			rep.CheckFrom, rep.CheckTo = from, from
			return quiet{}, nil
		}
		seen, gen := d.personInput()
		now := time.Now()
		quietAt := seen.Add(d.QuietFor)
		waited := now.Sub(begin)
		if told {
			rep.QuietWait = waited
		}
		if !now.Before(quietAt) || (t.Urgent && waited >= d.QuietMaxWait) {
			rep.CheckFrom, rep.CheckTo = from, now
			// Urgent, after the longest wait: it goes even while the person
			// types on (their keys are kept back and replayed meanwhile).
			rep.Forced = now.Before(quietAt)
			return quiet{gen: gen, forced: rep.Forced}, nil
		}
		rep.QuietWait = waited
		d.unlock()
		if waited >= d.QuietMaxWait {
			return quiet{}, &quietError{waited: waited}
		}
		if !told && t.QuietWait != nil {
			told = true
			t.QuietWait()
		}
		pause := min(time.Until(quietAt), d.QuietMaxWait-waited) + time.Millisecond
		if err := sleep(ctx, pause); err != nil {
			return quiet{}, err
		}
	}
}

// personActive: a person typed (keys kept back) or used the mouse since
// the quiet check q. A forced delivery does not ask.
func (d *Deliverer) personActive(q quiet) bool {
	if d.QuietFor <= 0 || q.forced {
		return false
	}
	if d.Desktop.KeptKeys() > 0 {
		return true
	}
	_, now := d.personInput()
	return now != q.gen
}

func errPerson(when string) error {
	return &tempError{msg: "a person used the keyboard or mouse " + when + "; stopped, to try again when the desk is quiet", person: true}
}

// quietError: the desk was not quiet for QuietMaxWait.
type quietError struct{ waited time.Duration }

func (e *quietError) Error() string {
	return fmt.Sprintf("deliver: a person kept using the desktop for %v; waiting for a quiet desk", e.waited.Round(time.Second))
}

// IsNotQuiet reports whether err means the delivery gave up waiting for a
// person to stop typing (it was not urgent).
func IsNotQuiet(err error) bool {
	var qe *quietError
	return errors.As(err, &qe)
}
