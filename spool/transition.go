package spool

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MaxBaseLen bounds a base name the daemon makes (UniqueName plus
// ".renamed" is far shorter): with the longest info suffix and the
// ".reason" sidecar it stays far below NAME_MAX (255), so no transition
// after the claim can fail with ENAMETOOLONG (issue 11 item 8).
const MaxBaseLen = 160

// Claim moves a queued message to cur/ under a name of the daemon's own,
// recording in its info suffix when it entered new/ (the rename into new/
// set its ctime: Entry.Queued), which is what makes an ack fresh
// (Entry.Entered). A message still under its sender's name is given a
// new base (adopt), and the sender's name is kept in names/ (OrigName).
// If another claimer took it first, the error satisfies IsGone.
func (s *Spool) Claim(e Entry) (Entry, error) {
	base, info, orig, made, err := s.adopt("claim", e)
	if err != nil {
		return Entry{}, err
	}
	if info.Entered.IsZero() {
		info.Entered = e.Queued
		if info.Entered.IsZero() {
			info.Entered = time.Now()
		}
		// Millisecond precision in the name: round down, so the ack of
		// a message claimed within the same millisecond is still fresh.
		info.Entered = info.Entered.Truncate(time.Millisecond)
	}
	// Nothing in new/ is in flight: marks a name there carries (a file
	// copied back from cur/ or done/ by hand) are not taken over.
	info.Pasting, info.Submitted = false, time.Time{}
	return s.moveAdopted("claim", e, []State{StateNew}, StateCur, base, info, orig, made, nil)
}

// own splits e's name into its base, retry state and sender's name.
// Outside new/ every name is the daemon's (or, in a spool older than
// names/ records for every message, a sender's name it parsed the same
// way). In new/, where senders write, a name is the daemon's own only
// when its base ends in ".renamed" and names/ holds its record, written
// before the rename that gave the name: any other name there is all
// data, so "note:A7,N99999999999999" is no attempt 7 and no not-before
// in the year 5138 (issue "Nothing silent, nothing false" item 5).
func (s *Spool) own(e Entry) (base string, info Info, orig string, ok bool) {
	base, info = ParseName(e.Name)
	orig = s.origName(base)
	if e.State == StateNew && orig == "" {
		return e.Name, Info{}, "", false
	}
	return base, info, orig, true
}

// adopt gives a message that leaves new/ under its sender's name a base
// of the daemon's own (UniqueName()+".renamed"), after recording the
// sender's name in names/<base>. made reports that it did, so a failed
// move can take the record back. A record that cannot be written fails
// the move and leaves the message where it was: without it, the name
// would read as a sender's after a restart, and a retried message would
// lose its attempt count (and so be retried for ever).
func (s *Spool) adopt(op string, e Entry) (base string, info Info, orig string, made bool, err error) {
	base, info, orig, ok := s.own(e)
	if ok || e.State != StateNew {
		return base, info, orig, false, nil
	}
	if err := s.checkEntry(op, e, []State{StateNew}); err != nil {
		return "", Info{}, "", false, err
	}
	if _, err := os.Lstat(s.Path(e)); errors.Is(err, fs.ErrNotExist) {
		return "", Info{}, "", false, &goneError{op: op, path: s.Path(e), err: err}
	}
	orig, base = e.Name, UniqueName()+renamedSuffix
	if err := s.recordOrigName(base, orig); err != nil {
		return "", Info{}, "", false, fmt.Errorf("spool: %s: the sender's name could not be recorded (the message stays in new/): %w", op, err)
	}
	// The id of a message without one in its front matter keeps coming
	// from the sender's name, as Scan and Read take it.
	return base, Info{}, orig, true, nil
}

// moveAdopted is move for a transition that may have adopted the name:
// it takes the record back if the move fails, and carries the sender's
// name and the id in the entry it returns.
func (s *Spool) moveAdopted(op string, e Entry, from []State, to State, base string, info Info, orig string, made bool, reason *string) (Entry, error) {
	c, err := s.move(op, e, from, to, FormatName(base, info), reason)
	if err != nil {
		if made {
			os.Remove(s.namePath(base))
		}
		return c, err
	}
	c.OrigName = orig
	if e.ID != "" {
		c.ID = e.ID
	} else if orig != "" {
		c.ID = IDFromName(orig)
	}
	return c, nil
}

func (s *Spool) namePath(base string) string { return s.path(namesDir, "", base) }

// recordOrigName keeps a sender's name in names/<base>, before the rename
// that drops it: a restart at any point after the move still knows it
// (the id of a message without one in its front matter comes from it;
// show and the journal give it), and its presence is what makes <base> a
// name of the daemon's own in new/. A directory fsync that fails after
// the record is written is reported, not an error: the record is there.
func (s *Spool) recordOrigName(base, orig string) error {
	err := safeio.WriteFile(s.namePath(base), []byte(orig), filePerm)
	if safeio.IsSyncDirError(err) {
		s.reportSync("the original name was recorded", s.path(namesDir, "", ""), err)
		return nil
	}
	return err
}

// origName is the sender's name of a message whose base the daemon made,
// from names/; "" for any other base, or when none was recorded.
func (s *Spool) origName(base string) string {
	if !strings.HasSuffix(base, renamedSuffix) || !safeComponent(base) {
		return ""
	}
	b, err := safeio.ReadFile(s.namePath(base), safeio.OpenOptions{MaxBytes: 4 << 10, OwnerOnly: true})
	if err != nil {
		return ""
	}
	return string(b)
}

// Done moves a delivered message from cur/ to done/.
func (s *Spool) Done(e Entry) (Entry, error) {
	return s.move("done", e, []State{StateCur}, StateDone, e.Name, nil)
}

// Fail moves a message from new/, cur/ or hold/ to failed/, after writing
// reason (with the time and attempt) to failed/<agent>/<name>.reason.
func (s *Spool) Fail(e Entry, reason string) (Entry, error) {
	return s.park("fail", e, []State{StateNew, StateCur, StateHold}, StateFailed, reason)
}

// park moves e to failed/ or hold/ with its reason. From new/, a sender's
// name is adopted first, so no sender's name reaches the states with
// .reason sidecars: a message named "x.reason" is never taken for the
// sidecar of "x", nor overwritten by it.
func (s *Spool) park(op string, e Entry, from []State, to State, reason string) (Entry, error) {
	if !slices.Contains(from, e.State) {
		return s.move(op, e, from, to, e.Name, &reason) // the error
	}
	base, info, orig, made, err := s.adopt(op, e)
	if err != nil {
		return Entry{}, err
	}
	if !made && e.State != StateNew {
		// Keep the name as it is (info and all); only new/ names change.
		c, err := s.move(op, e, from, to, e.Name, &reason)
		if err == nil {
			c.OrigName = orig
		}
		return c, err
	}
	return s.moveAdopted(op, e, from, to, base, info, orig, made, &reason)
}

// Retry moves a message from cur/ back to new/ with its attempt count raised
// and a not-before time, both recorded in the name's info suffix.
func (s *Spool) Retry(e Entry, notBefore time.Time) (Entry, error) {
	base, info := ParseName(e.Name)
	name := FormatName(base, Info{Attempt: info.Attempt + 1, Entered: info.Entered, FirstSubmit: firstSubmit(info), NotBefore: notBefore})
	return s.move("retry", e, []State{StateCur}, StateNew, name, nil)
}

// Postpone moves a claimed message back to new/ with a not-before time but
// without counting an attempt: nothing reached the agent (the focus was
// wrong, the clipboard was taken). The pasting/submitted marks are cleared
// (a submit in flight becomes the first submit, if none is recorded).
func (s *Spool) Postpone(e Entry, notBefore time.Time) (Entry, error) {
	base, info := ParseName(e.Name)
	return s.move("postpone", e, []State{StateCur}, StateNew, FormatName(base, Info{Attempt: info.Attempt, Entered: info.Entered, FirstSubmit: firstSubmit(info), NotBefore: notBefore}), nil)
}

// firstSubmit is the first submit of info's attempt series: the one
// recorded, else the submit in flight (zero: never submitted).
func firstSubmit(info Info) time.Time {
	if !info.FirstSubmit.IsZero() {
		return info.FirstSubmit
	}
	return info.Submitted
}

// Mark records, by a rename inside cur/, that the daemon is about to paste
// the message (pasting) or has submitted it (submitted not zero), so that a
// restart after a crash knows which.
func (s *Spool) Mark(e Entry, pasting bool, submitted time.Time) (Entry, error) {
	base, info := ParseName(e.Name)
	info.Pasting, info.Submitted = pasting, submitted
	info.FirstSubmit = firstSubmit(info)
	return s.move("mark", e, []State{StateCur}, StateCur, FormatName(base, info), nil)
}

// Hold parks a message from new/ or cur/ in hold/, with a .reason sidecar.
func (s *Spool) Hold(e Entry, reason string) (Entry, error) {
	return s.park("hold", e, []State{StateNew, StateCur}, StateHold, reason)
}

// Release moves a held message back to new/, keeping its attempt count and
// clearing its not-before time, then removes its sidecar.
func (s *Spool) Release(e Entry) (Entry, error) {
	base, info := ParseName(e.Name)
	return s.move("release", e, []State{StateHold}, StateNew, FormatName(base, Info{Attempt: info.Attempt, Entered: info.Entered, FirstSubmit: firstSubmit(info)}), nil)
}

// Requeue moves a failed message back to new/ as a fresh one (attempt 0),
// then removes its sidecar.
func (s *Spool) Requeue(e Entry) (Entry, error) {
	base, _ := ParseName(e.Name)
	return s.move("requeue", e, []State{StateFailed}, StateNew, base, nil)
}

func (s *Spool) checkEntry(op string, e Entry, from []State) error {
	if !slices.Contains(from, e.State) {
		return fmt.Errorf("spool: %s: message %s is in %s/, not in %v", op, e.Name, e.State, from)
	}
	if !safeComponent(e.Agent) {
		return fmt.Errorf("spool: %s: %w", op, &badAgentError{e.Agent})
	}
	if !safeComponent(e.Name) || strings.HasPrefix(e.Name, ".") {
		return fmt.Errorf("spool: %s: bad message file name %q", op, e.Name)
	}
	return nil
}

// move is every transition: one rename from e's file to <to>/<agent>/<name>
// that never replaces a file already there (safeio.RenameNoReplace), then
// an fsync of the destination directory. A reason, when given, is written
// to the destination's sidecar before the rename, so a message in failed/
// or hold/ always has its reason beside it; a sidecar left behind in the
// source directory is removed after the rename.
func (s *Spool) move(op string, e Entry, from []State, to State, name string, reason *string) (Entry, error) {
	if err := s.checkEntry(op, e, from); err != nil {
		return Entry{}, err
	}
	src := s.Path(e)
	dst := e
	dst.State, dst.Name = to, name
	if dst.Name == e.Name && dst.State == e.State {
		return e, nil // nothing to move: a mark that is already there
	}
	_, info := ParseName(dst.Name)
	dst.Attempt, dst.Entered, dst.NotBefore, dst.Pasting, dst.Submitted, dst.FirstSubmit = info.Attempt, info.Entered, info.NotBefore, info.Pasting, info.Submitted, info.FirstSubmit

	// A name taken in the destination (a sender who dropped hello.md once
	// now and once tomorrow, in a spool older than the daemon's own names)
	// is never replaced: the rename refuses it, and the message goes
	// under the base with a few random hex digits added. Checking first
	// and renaming after would leave a window for another process's file.
	for try := 0; ; try++ {
		dstPath := s.Path(dst)
		// A reason that cannot be written (a full disk, a name too long)
		// must not block the move it explains: the move goes on, the
		// reason goes to the log, and Reason says it is missing (issue 11
		// item 12).
		var sidecar string
		if reason != nil {
			sidecar = s.reasonPath(dst)
			os.MkdirAll(filepath.Dir(sidecar), dirPerm) // an agent dir made by hand in new/ only
			text := formatReason(*reason, e, time.Now())
			if err := safeio.WriteFile(sidecar, []byte(text), filePerm); err != nil && !safeio.IsSyncDirError(err) {
				s.warn("reason not written; moving the message anyway", "name", e.Name, "to", string(to), "reason", *reason, "err", err)
				sidecar = ""
			}
		}
		err := s.rename(src, dstPath)
		if err != nil && sidecar != "" {
			os.Remove(sidecar)
		}
		if errors.Is(err, fs.ErrExist) && try < 8 {
			base, _ := ParseName(name)
			var r [3]byte
			rand.Read(r[:])
			dst.Name = base + "." + hex.EncodeToString(r[:]) + name[len(base):]
			if e.OrigName == "" && e.ID == IDFromName(e.Name) {
				dst.ID = IDFromName(dst.Name)
			}
			continue
		}
		if err != nil {
			return Entry{}, fmt.Errorf("spool: %s: %w", op, err)
		}
		// The rename is the transition: a directory fsync failing after it
		// makes its durability doubtful, not the move undone.
		s.syncAfterRename("a completed "+op, filepath.Dir(dstPath))
		if e.State.hasReason() {
			if err := os.Remove(s.reasonPath(e)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.warn("old reason not removed", "path", s.reasonPath(e), "err", err)
			}
		}
		dst.Queued = s.queuedAt(dstPath)
		return dst, nil
	}
}

func formatReason(reason string, e Entry, now time.Time) string {
	return fmt.Sprintf("reason: %s\ntime: %s\nattempt: %d\nfrom: %s\n",
		strings.TrimRight(reason, "\n"), now.Format(time.RFC3339), e.Attempt, e.State)
}

// Reason returns the text of e's .reason sidecar, or "" if it has none.
func (s *Spool) Reason(e Entry) (string, error) {
	if !e.State.hasReason() || !safeComponent(e.Agent) || !safeComponent(e.Name) {
		return "", nil
	}
	b, err := safeio.ReadFile(s.reasonPath(e), safeio.OpenOptions{MaxBytes: 64 << 10})
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("spool: reason: %w", err)
	}
	return string(b), nil
}

// Read reads e's file and parses it with the spool's size limit.
func (s *Spool) Read(e Entry) (*Message, error) {
	if !e.State.valid() || !safeComponent(e.Agent) || !safeComponent(e.Name) {
		return nil, fmt.Errorf("spool: read: bad entry %s/%s/%s", e.State, e.Agent, e.Name)
	}
	p := s.Path(e)
	data, err := readLimited(p, s.maxBytes(), true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &goneError{op: "read", path: p, err: err}
	}
	if err != nil {
		return nil, err
	}
	name := e.Name
	if e.OrigName != "" {
		name = e.OrigName // the id comes from the name the sender gave
	}
	return ParseMessage(name, data, s.maxBytes())
}

// Find returns the entries, in any state, whose id (front matter or name) or
// base name equals id.
func (s *Spool) Find(id string) ([]Entry, error) {
	var out []Entry
	for _, st := range States {
		es, err := s.Scan(st, "")
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			base, _ := ParseName(e.Name)
			orig, _ := ParseName(e.OrigName)
			if e.ID == id || IDFromName(e.Name) == id || base == id || e.OrigName != "" && (orig == id || e.OrigName == id) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// SweepTmp removes files in tmp/ last written more than olderThan before now:
// leftovers of writers that crashed between create and rename.
func (s *Spool) SweepTmp(olderThan time.Duration, now time.Time) (int, error) {
	dir := s.path(tmpDir, "", "")
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("spool: sweep tmp: %w", err)
	}
	n := 0
	var firstErr error
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		fi, err := de.Info()
		if err != nil || now.Sub(fi.ModTime()) <= olderThan {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err == nil {
			n++
		} else if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = fmt.Errorf("spool: sweep tmp: %w", err)
		}
	}
	return n, firstErr
}
