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
//
// An agent whose inbox tool cannot write <id>.ack may have an ack pattern
// (coords.yaml ack_pattern, issue 11 item 1; never the default): a regular
// expression over whole file names whose group "id" captures the id. A
// name yields at most one id (the regexp's one match), so one file never
// acks two messages; it must also be fresh, and it must not hold the
// message's text (a copy of the message, the old system's circle, is never
// its ack).
package confirm

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/agentspool/agentspool/internal/safeio"
)

// Ack is what a look or a wait seeks: the ack of message ID in Inbox.
type Ack struct {
	Inbox, ID string
	// Since: only a file last written since then (less ClockSlack)
	// counts; zero accepts any age.
	Since time.Time
	// Pattern, when set, also counts a file whose whole name it matches
	// with its group "id" capturing exactly ID (see PatternID). Body is
	// the message's text: a file of the pattern that holds it is a copy of
	// the message, never its ack; without a Body, files of the pattern are
	// not looked at (it cannot be told).
	Pattern *regexp.Regexp
	Body    string
}

// MaxAckBytes: a file of an ack pattern larger than this is not read (and
// is no ack).
const MaxAckBytes = 1 << 20

// PatternID is the id that the file name name acks under pattern (compiled
// anchored, with a group named "id"), if it matches.
func PatternID(pattern *regexp.Regexp, name string) (string, bool) {
	m := pattern.FindStringSubmatch(name)
	i := pattern.SubexpIndex("id")
	if m == nil || i < 0 || m[i] == "" {
		return "", false
	}
	return m[i], true
}

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
	return Find(Ack{Inbox: inbox, ID: id, Since: since})
}

// Find reports whether a's inbox holds a fresh ack of a's message now: its
// <id>.ack, or a file of its pattern (see Ack).
func Find(a Ack) (bool, error) {
	if err := checkID(a.ID); err != nil {
		return false, err
	}
	ok, _, err := look(a)
	return ok, err
}

// Stale reports whether a's inbox holds an ack of a's message, whatever its
// age (and, for a file of the pattern, whatever it holds): what `send --id`
// refuses, so that an old ack cannot confuse a new message.
func Stale(a Ack) (bool, error) {
	if err := checkID(a.ID); err != nil {
		return false, err
	}
	ok, exists, err := lookExact(a.Inbox, a.ID, time.Time{})
	if ok || err != nil || !exists || a.Pattern == nil {
		return ok, err
	}
	return lookPattern(a, true)
}

// look is Find that also says whether the inbox exists.
func look(a Ack) (found, exists bool, err error) {
	found, exists, err = lookExact(a.Inbox, a.ID, a.Since)
	if found || err != nil || !exists || a.Pattern == nil || len(bytes.TrimSpace([]byte(a.Body))) == 0 {
		return found, exists, err
	}
	found, err = lookPattern(a, false)
	return found, true, err
}

// lookPattern looks for a file of a's pattern that acks a.ID: a regular
// file (no symlink), fresh, and (unless anyFile) not holding the message's
// text.
func lookPattern(a Ack, anyFile bool) (bool, error) {
	entries, err := os.ReadDir(a.Inbox)
	if err != nil {
		return false, fmt.Errorf("confirm: %w", err)
	}
	body := normalize([]byte(a.Body))
	for _, e := range entries {
		if id, ok := PatternID(a.Pattern, e.Name()); !ok || id != a.ID || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(a.Inbox, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if anyFile {
			return true, nil
		}
		if !a.Since.IsZero() && fi.ModTime().Before(a.Since.Add(-ClockSlack)) {
			continue // stale
		}
		data, err := safeio.ReadFile(path, safeio.OpenOptions{MaxBytes: MaxAckBytes})
		if err != nil || bytes.Contains(normalize(data), body) {
			continue // unreadable, or a copy of the message
		}
		return true, nil
	}
	return false, nil
}

// normalize is text with CRLF as LF and no surrounding space, to compare a
// message with a copy of it written on Windows.
func normalize(b []byte) []byte {
	return bytes.TrimSpace(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
}

// lookExact looks for inbox/<id>.ack, and says whether the inbox exists.
func lookExact(inbox, id string, since time.Time) (found, exists bool, err error) {
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
