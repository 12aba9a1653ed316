// Package confirm is the recipient's side of delivery: acks. An ack is
// exactly the file <id>.ack in the agent's inbox directory, written after
// the message entered the spool (DESIGN §1, §7, as issue 11 made them: no
// other name that merely contains the id, no copy of the message, no file
// older than the message counts). The recipient writes it; the daemon only
// looks for it: right now (Acked, before a retry and after a crash) or
// until a deadline (Waiter). WriteAck is for `agentspool ack ID` and tests.
//
// Acks are not consumed: the inbox is the recipient's, and the daemon
// never writes or moves anything there. A stale <id>.ack is harmless
// because it is older than any later message with that id, and `send --id`
// refuses an id already acked in the agent's inbox.
package confirm

import (
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// AckSuffix ends the name of the ack files WriteAck writes.
const AckSuffix = ".ack"

// ClockSlack is how much older than the message's entry into the spool an
// ack may look and still count: file times come from the kernel's coarse
// clock (a tick, a few ms) while the entry time is read from another file's
// ctime, so a fresh ack can look a little older. It is not minutes: an ack
// from an earlier message with the same id never counts.
const ClockSlack = 50 * time.Millisecond

// checkID rejects ids that do not follow the message-id rule (safeio.ValidID):
// the id is a file name in the inbox and a word of the envelope.
func checkID(id string) error {
	if !safeio.ValidID(id) {
		return fmt.Errorf("confirm: bad message id %q (want %s)", id, safeio.IDRule)
	}
	return nil
}

// AckPath is the ack file of id in inbox.
func AckPath(inbox, id string) string { return filepath.Join(inbox, id+AckSuffix) }

// WriteAck acknowledges id in inbox: it writes <inbox>/<id>.ack atomically
// (a dot-named temp file, fsync, rename, fsync of the directory), creating
// inbox (mode 0700) if needed, and returns the ack's path. The content, for
// people, is the id, the time and the host. Acking twice is harmless: the
// second ack is a fresh file.
func WriteAck(inbox, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if err := os.MkdirAll(inbox, 0o700); err != nil {
		return "", fmt.Errorf("confirm: inbox: %w", err)
	}
	host, _ := os.Hostname()
	text := fmt.Sprintf("id: %s\ntime: %s\nhost: %s\n", id, time.Now().UTC().Format(time.RFC3339Nano), host)
	path := AckPath(inbox, id)
	if err := safeio.WriteFile(path, []byte(text), 0o600); err != nil && !safeio.IsSyncDirError(err) {
		return "", fmt.Errorf("confirm: write ack: %w", err)
	}
	return path, nil
}

// Acked reports whether inbox holds a fresh ack of id now: the regular file
// <id>.ack (not a symlink), last written no earlier than since (less
// ClockSlack). A zero since accepts any age (for tools that know no entry
// time). A missing inbox is not acked (false, nil).
func Acked(inbox, id string, since time.Time) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	ok, _, err := look(inbox, id, since)
	return ok, err
}

// Stale reports whether inbox holds an ack of id, whatever its age: what
// `send --id` refuses, so that an old ack cannot confuse a new message.
func Stale(inbox, id string) (bool, error) { return Acked(inbox, id, time.Time{}) }

// look is Acked that also says whether the inbox exists.
func look(inbox, id string, since time.Time) (found, exists bool, err error) {
	fi, err := os.Lstat(AckPath(inbox, id))
	if errors.Is(err, fs.ErrNotExist) {
		di, derr := os.Stat(inbox)
		if derr == nil && !di.IsDir() {
			// Unix says ENOTDIR for inbox/x.ack, Windows "not found":
			// a file in place of the inbox is an error either way.
			return false, true, fmt.Errorf("confirm: inbox %s is %s, not a directory", inbox, safeio.TypeName(di.Mode()))
		}
		return false, derr == nil, nil
	}
	if err != nil {
		return false, true, fmt.Errorf("confirm: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, true, nil // a symlink or a directory is no ack
	}
	if !exactName(inbox, id+AckSuffix) {
		return false, true, nil // ABC.ack, found for abc.ack by a case-blind file system
	}
	if !since.IsZero() && fi.ModTime().Before(since.Add(-ClockSlack)) {
		return false, true, nil // stale: from before the message entered the spool
	}
	return true, true, nil
}
