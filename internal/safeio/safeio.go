// Package safeio is agentspool's one way to touch files that someone else
// may have put there: a message opener that refuses symlinks, FIFOs,
// devices and directories and bounds the size, one atomic writer (temp file
// beside the target, fsync, rename, directory fsync), the directory fsync,
// the ownership checks of a state directory, and the spelling rules of the
// names that become path components (agent names, message ids). It is a
// leaf: it imports nothing of ours (DESIGN §9).
package safeio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kind says why a file was refused. Every kind is permanent: the same file
// will be refused the same way next time.
type Kind int

const (
	KindSymlink    Kind = iota + 1 // a symbolic link
	KindNotRegular                 // a FIFO, device, socket or directory
	KindNotOwned                   // owned by another user
	KindTooLarge                   // over the size limit
)

func (k Kind) String() string {
	switch k {
	case KindSymlink:
		return "is a symbolic link (not followed)"
	case KindNotRegular:
		return "is not a regular file"
	case KindNotOwned:
		return "is owned by another user"
	case KindTooLarge:
		return "is too large"
	}
	return "refused"
}

// RefusedError is a file Open would not read.
type RefusedError struct {
	Path   string
	Kind   Kind
	Detail string // e.g. "a FIFO", "owned by uid 65534", "300000 bytes, limit 262144"
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("safeio: %s %s", e.Path, e.Kind)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Permanent reports that retrying cannot help.
func (e *RefusedError) Permanent() bool { return true }

// IsRefused reports whether err is a RefusedError, and of which kind.
func IsRefused(err error) (Kind, bool) {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Kind, true
	}
	return 0, false
}

// OpenOptions say what Open accepts. The zero value accepts any regular
// file of any size owned by anyone.
type OpenOptions struct {
	// MaxBytes > 0 refuses a larger file (KindTooLarge), judged by fstat.
	MaxBytes int64
	// OwnerOnly refuses a file not owned by this process's user (Unix).
	OwnerOnly bool
	// FollowLinks follows a symlink at path: for files a person names
	// (coords.yaml kept by a dotfiles manager), never for what lands in
	// the spool. FIFOs and devices are still refused without blocking.
	FollowLinks bool
}

// Open opens path for reading without following a final symlink, without
// blocking on a FIFO, without acquiring a controlling terminal, and checks
// with fstat (on what was opened, not on the name) that it is a regular
// file, owned by us when asked, and not over the size limit.
func Open(path string, o OpenOptions) (*os.File, error) {
	f, err := openFile(path, o.FollowLinks)
	if err != nil {
		if isLoop(err) {
			return nil, &RefusedError{Path: path, Kind: KindSymlink, Detail: linkTarget(path)}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := check(path, fi, o); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func check(path string, fi fs.FileInfo, o OpenOptions) error {
	if !fi.Mode().IsRegular() {
		return &RefusedError{Path: path, Kind: KindNotRegular, Detail: TypeName(fi.Mode())}
	}
	if o.OwnerOnly {
		if uid, ok := owner(fi); ok && uid != os.Getuid() {
			return &RefusedError{Path: path, Kind: KindNotOwned, Detail: fmt.Sprintf("owned by uid %d, not %d", uid, os.Getuid())}
		}
	}
	if o.MaxBytes > 0 && fi.Size() > o.MaxBytes {
		return &RefusedError{Path: path, Kind: KindTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", fi.Size(), o.MaxBytes)}
	}
	return nil
}

// ReadFile reads the file at path through Open. With MaxBytes set it reads
// at most MaxBytes+1 bytes, so a file that grew after the fstat is still
// refused as too large.
func ReadFile(path string, o OpenOptions) ([]byte, error) {
	f, err := Open(path, o)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if o.MaxBytes > 0 {
		r = io.LimitReader(f, o.MaxBytes+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if o.MaxBytes > 0 && int64(len(data)) > o.MaxBytes {
		return nil, &RefusedError{Path: path, Kind: KindTooLarge, Detail: fmt.Sprintf("over %d bytes", o.MaxBytes)}
	}
	return data, nil
}

// TypeName names a non-regular file type for a person.
func TypeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

func linkTarget(path string) string {
	if t, err := os.Readlink(path); err == nil {
		return "pointing at " + t
	}
	return ""
}

// WriteFile writes data to path atomically: a dot-named temp file in the
// same directory, written, fsynced and closed, renamed over path, then the
// directory fsynced. Readers see the old content or the new, never a part,
// and a symlink at path is replaced, never followed.
//
// The rename is the commit: when only the directory fsync fails afterwards,
// the data is in place and the error satisfies IsSyncDirError, so a caller
// can warn rather than report a failure.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+truncName(filepath.Base(path))+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Chmod(perm)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = Rename(name, path)
	}
	if werr != nil {
		os.Remove(name)
		return werr
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return &SyncDirError{Dir: filepath.Dir(path), Err: err}
	}
	return nil
}

// truncName keeps a temp name under NAME_MAX whatever the target's length.
func truncName(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

// SyncDirError is a directory fsync that failed after the rename it was to
// make durable had already happened.
type SyncDirError struct {
	Dir string
	Err error
}

func (e *SyncDirError) Error() string { return fmt.Sprintf("safeio: fsync %s: %v", e.Dir, e.Err) }
func (e *SyncDirError) Unwrap() error { return e.Err }

// IsSyncDirError reports whether err is only a failed directory fsync after
// a completed rename: the change happened, its durability is in doubt.
func IsSyncDirError(err error) bool {
	var se *SyncDirError
	return errors.As(err, &se)
}

// CheckPrivateDir is ssh's StrictModes for a directory agentspool keeps
// state in: it must be a directory (not a symlink to one), owned by this
// process's user, and not writable by group or others. The error names the
// path and the fix.
func CheckPrivateDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("safeio: %s is a symbolic link; agentspool keeps state only in a real directory (replace it with one: rm %s && mkdir -m 700 %s)", path, path, path)
	}
	if !fi.IsDir() {
		return fmt.Errorf("safeio: %s is %s, not a directory", path, TypeName(fi.Mode()))
	}
	if uid, ok := owner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("safeio: %s is owned by uid %d, not by uid %d who runs agentspool: another user could feed it messages (fix: chown %d %s, or use another directory)", path, uid, os.Getuid(), os.Getuid(), path)
	}
	if ownerChecks && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("safeio: %s is writable by group or others (mode %04o): another user could feed it messages (fix: chmod go-w %s)", path, fi.Mode().Perm(), path)
	}
	return nil
}

// MkdirPrivate creates dir (and parents) with mode 0700 and checks it with
// CheckPrivateDir.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return CheckPrivateDir(dir)
}

// ValidAgentName is the one agent-name rule, for coords.yaml and for the
// spool's directories alike: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ and no "..",
// so a name is always one safe path component; on Windows also no device
// name (CON, NUL, COM1, ... alone or before a dot) and no final ".".
func ValidAgentName(name string) bool {
	if len(name) == 0 || len(name) > 64 || !isAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return !strings.Contains(name, "..") && !reservedName(name)
}

// AgentNameRule is ValidAgentName's rule, for messages.
const AgentNameRule = `[A-Za-z0-9][A-Za-z0-9._-]{0,63}, no ".."`

// ValidID is the one message-id rule, for front matter, file names, `send
// --id` and `ack ID`: ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$. An id becomes
// the file name <id>.ack and a word of the envelope line, so no separator,
// space, bracket or control character may be in it; on Windows, where
// <id>.ack must be a file, no device name (CON, NUL, COM1, ... alone or
// before a dot) and no final ".".
func ValidID(id string) bool { return len(id) <= 128 && IDSpelling(id) && !reservedName(id) }

// IDRule is ValidID's rule, for messages.
const IDRule = `[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}`

// IDSpelling reports whether s matches ^[A-Za-z0-9][A-Za-z0-9._@+-]*$.
func IDSpelling(s string) bool {
	if len(s) == 0 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '@' && c != '+' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
