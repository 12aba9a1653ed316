// Package confirm is the recipient's side of delivery: acks. An ack is a
// file in the agent's inbox directory whose name contains the message id as
// a whole token (DESIGN §7); the recipient writes it, the daemon only looks
// for it: right now (Acked, before a retry and after a crash) or until a
// deadline (Waiter). WriteAck is for `agentspool ack ID` and for tests.
package confirm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// AckSuffix ends the name of the ack files WriteAck writes.
const AckSuffix = ".ack"

// checkID rejects ids that cannot be part of a file name in the inbox.
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("confirm: empty message id")
	case strings.HasPrefix(id, "."):
		// An ack named .<id>.ack would be a dot-file, which Acked ignores.
		return fmt.Errorf("confirm: message id %q starts with a dot", id)
	case strings.ContainsAny(id, "/\\\x00"):
		return fmt.Errorf("confirm: message id %q contains a path separator or NUL", id)
	}
	return nil
}

// WriteAck acknowledges id in inbox: it writes <inbox>/<id>.ack atomically
// (a dot-named temp file, fsync, rename, fsync of the directory), creating
// inbox if needed, and returns the ack's path. The content, for people, is
// the id, the time and the host. Acking twice is harmless.
func WriteAck(inbox, id string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return "", fmt.Errorf("confirm: inbox: %w", err)
	}
	// The temp name starts with '.', so no scan (ours or the daemon's
	// spool scan) ever takes a half-written ack for one.
	f, err := os.CreateTemp(inbox, "."+id+AckSuffix+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("confirm: %w", err)
	}
	tmp := f.Name()
	host, _ := os.Hostname()
	_, err = fmt.Fprintf(f, "id: %s\ntime: %s\nhost: %s\n", id, time.Now().UTC().Format(time.RFC3339Nano), host)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	path := filepath.Join(inbox, id+AckSuffix)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("confirm: write ack: %w", err)
	}
	if err := syncDir(inbox); err != nil {
		return "", fmt.Errorf("confirm: write ack: sync %s: %w", inbox, err)
	}
	return path, nil
}

// Acked reports whether inbox holds an ack of id now: a file, not a
// dot-file, whose name contains id as a whole token (see ackName). It reads
// the directory; a missing inbox is not acked (false, nil).
func Acked(inbox, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	found, err := scan(inbox, []string{id})
	if err != nil {
		return false, err
	}
	return found[id], nil
}

// scan reads inbox once and reports which of ids are acked in it.
func scan(inbox string, ids []string) (map[string]bool, error) {
	d, err := os.Open(inbox)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("confirm: %w", err)
	}
	defer d.Close()
	found := make(map[string]bool)
	for {
		// In batches, unsorted: an inbox collects acks for ever, and
		// os.ReadDir would sort them all on each poll.
		ents, err := d.ReadDir(256)
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			for _, id := range ids {
				if !found[id] && ackName(e.Name(), id) {
					found[id] = true
				}
			}
		}
		if err == io.EOF || len(ents) == 0 && err == nil {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("confirm: %w", err)
		}
	}
}

// ackName reports whether the file name acks id: name is not a dot-file and
// contains id as a whole token. A token is delimited by the start or end of
// the name, by '.', or by any character outside [A-Za-z0-9._@+-]; so id
// "abc" is acked by "abc.ack", "abc", "ack abc" and "x.abc.done", but not by
// "abcd.ack" or "x-abc.ack".
func ackName(name, id string) bool {
	if id == "" || strings.HasPrefix(name, ".") {
		return false
	}
	for off := 0; ; {
		i := strings.Index(name[off:], id)
		if i < 0 {
			return false
		}
		start := off + i
		end := start + len(id)
		if (start == 0 || boundary(name[start-1])) && (end == len(name) || boundary(name[end])) {
			return true
		}
		off = start + 1
	}
}

// boundary reports whether c ends a token. Bytes of multi-byte UTF-8
// characters are all >= 0x80, so they count as delimiters, like the
// character they belong to.
func boundary(c byte) bool {
	switch {
	case c == '.':
		return true
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return false
	case c == '_', c == '@', c == '+', c == '-':
		return false
	}
	return true
}
