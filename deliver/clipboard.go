// Clipboard policy (platform-neutral): the person's clipboard saved, the
// message offered and read back, ownership checks, and the restore.

package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// offer puts text on the CLIPBOARD, served to our own reads and the
// agent's window alone from its first moment, and reads it back through
// the server until it equals text. A clobber before the paste costs nothing but a
// new offer.
//
// A person who copies meanwhile takes the clipboard from us: their copy
// becomes what saved holds, to be given back at the end.
func (d *Deliverer) offer(ctx context.Context, text []byte, saved *[]byte, rep *Report) (Offer, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		start := time.Now()
		var o Offer
		var err error
		if saved == nil {
			o, err = d.Desktop.Offer(text, rep.AgentWindow.Client)
		} else {
			// Read the person's clipboard and take it only if nobody
			// copied in between, or their copy would be lost.
			owner, oerr := d.Desktop.ClipboardOwner()
			if oerr != nil {
				lastErr = oerr
				continue
			}
			got, rerr := d.Desktop.Clipboard()
			if rerr != nil {
				// Their clipboard cannot be saved now: taking it would
				// lose it. Not worth another try in this delivery.
				return nil, saveErr(rerr)
			}
			*saved = got
			var same bool
			o, same, err = d.Desktop.OfferIf(text, owner, rep.AgentWindow.Client)
			if err == nil && !same {
				lastErr = errors.New("the clipboard changed while it was being saved")
				continue
			}
		}
		if err != nil {
			if !IsTemporary(err) {
				return nil, err
			}
			lastErr = err
			continue
		}
		ok, err := d.poll(ctx, d.Timings.Deadline(StepReadback), func() (bool, error) {
			select {
			case <-o.Lost():
				return false, errLost
			default:
			}
			got, err := d.Desktop.Clipboard()
			if errors.Is(err, ErrClipboardSilent) {
				// A second wait like this one will not be shorter.
				return false, err
			}
			return bytes.Equal(got, text), nil
		})
		if ok {
			d.Timings.Observe(StepReadback, time.Since(start))
			rep.Readback = time.Since(start)
			drain(o.Fetched())
			return o, nil
		}
		o.Close()
		if err != nil && !errors.Is(err, errLost) {
			return nil, err
		}
		lastErr = fmt.Errorf("clipboard read back differs from the message")
		if errors.Is(err, errLost) {
			// The person copied: the next try saves their copy.
			lastErr = fmt.Errorf("another client took the clipboard before the paste (%w)", ErrClipboardTaken)
		}
	}
	return nil, temporary("clipboard", lastErr)
}

var errLost = fmt.Errorf("%w by another client", ErrClipboardTaken)

// errNotOurs: a guarded key was not tapped because the message no longer
// owned the CLIPBOARD (a person copied).
var errNotOurs = fmt.Errorf("another client took the clipboard (%w)", ErrClipboardTaken)

// saveErr: the person's clipboard could not be read to be saved. Temporary
// whatever the Desktop says: its owner may answer next time.
func saveErr(err error) error {
	if IsTemporary(err) {
		return err
	}
	return temporary("save the person's clipboard", err)
}

// owns returns a check of whether o still owns the CLIPBOARD (asked of
// the desktop, so it holds under a guarded key's server grab).
func (d *Deliverer) owns(o Offer) func() bool {
	owner := o.Owner()
	return func() bool {
		c, err := d.Desktop.ClipboardOwner()
		return err == nil && c == owner
	}
}

// restore gives the person their clipboard back and ends our offer. If
// someone copied something while we delivered (our offer was taken), that
// newer content is theirs to keep: putting the old one back would undo
// their copy. rep.Restore is how long it took.
func (d *Deliverer) restore(o Offer, saved []byte, rep *Report) error {
	defer func(at time.Time) { rep.Restore = time.Since(at) }(time.Now())
	defer o.Close()
	select {
	case <-o.Lost():
		return nil
	default:
	}
	// A verifying look put the person's clipboard back already, and took
	// the CLIPBOARD from the message within our own client (so o saw no
	// loss): a copy the person made since is theirs to keep.
	if saved == nil || rep.verified {
		return nil
	}
	// Only while the message still owns the CLIPBOARD, checked and put
	// back in one step: a copy the person made in the very moment before
	// (its loss not yet reported) is theirs to keep.
	_, err := d.Desktop.SetClipboardIf(saved, o.Owner())
	return err
}

func drain(c <-chan Fetch) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
