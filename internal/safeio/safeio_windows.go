package safeio

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has neither FIFOs in the file system nor Unix owners; a
// reparse-point check would be the symlink refusal, and the fstat regular
// file check still applies.
const ownerChecks = false

func openFile(path string, follow bool) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && !follow && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &RefusedError{Path: path, Kind: KindSymlink, Detail: linkTarget(path)}
	}
	return OpenRead(path)
}

// OpenRead opens path for reading, as os.Open does, but lets other
// processes rename and delete the file while it is open
// (FILE_SHARE_DELETE), as Unix always does. os.Open does not share delete,
// so a scanner that merely reads a queued message would make the daemon's
// claim of it fail with a sharing violation. A directory opens too
// (FILE_FLAG_BACKUP_SEMANTICS), for its caller to refuse.
func OpenRead(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL|syscall.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// renameRetry bounds how long Rename retries a rename that meets a
// sharing violation; a variable for tests.
var renameRetry = 2 * time.Second

const (
	errorSharingViolation syscall.Errno = 32 // ERROR_SHARING_VIOLATION
	errorLockViolation    syscall.Errno = 33 // ERROR_LOCK_VIOLATION
)

// Rename renames src to dst, replacing dst as os.Rename does, but with a
// rename that two processes racing for one file cannot both win, and
// retried for up to 2 s while it meets a sharing violation.
//
// os.Rename (MoveFileEx) opens src sharing delete and renames through that
// handle, so two claimers that both open a queued message before either
// renames it both succeed: the second renames the file the first already
// moved. Here src is opened for DELETE without FILE_SHARE_DELETE: while one
// process holds it, another's open fails with a sharing violation, and its
// retry then finds src gone (ErrNotExist), as rename(2) makes the loser
// find it on Unix. Readers are not in the way (safeio.OpenRead shares
// delete), but another program that has the file open without
// FILE_SHARE_DELETE (a sender's Go program, a virus scanner, an indexer, a
// person's editor) is, for as long as it keeps it open; a rename still
// refused after the bound returns the error, for the caller to treat as
// any failed transition.
func Rename(src, dst string) error { return renameRetrying(src, dst, true) }

// RenameNoReplace is Rename that never replaces dst: when dst exists it
// fails with an error satisfying errors.Is(err, fs.ErrExist)
// (FILE_RENAME_INFORMATION with ReplaceIfExists false: the check and the
// rename are one step in the file system, as renameat2's RENAME_NOREPLACE
// is on Linux).
func RenameNoReplace(src, dst string) error { return renameRetrying(src, dst, false) }

func renameRetrying(src, dst string, replace bool) error {
	deadline := time.Now().Add(renameRetry)
	delay := time.Millisecond
	for {
		err := renameOnce(src, dst, replace)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errorSharingViolation) && !errors.Is(err, errorLockViolation) || time.Now().After(deadline) {
			return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// fileRenameInformation is FILE_RENAME_INFORMATION (ntifs.h), its name
// following FileNameLength.
type fileRenameInformation struct {
	ReplaceIfExists uint32 // a BOOLEAN, padded
	RootDirectory   windows.Handle
	FileNameLength  uint32
	FileName        [1]uint16
}

func renameOnce(src, dst string, replace bool) error {
	sp, err := windows.UTF16PtrFromString(src)
	if err != nil {
		return err
	}
	// FILE_FLAG_OPEN_REPARSE_POINT renames a link, not what it points
	// at, as MoveFileEx does; BACKUP_SEMANTICS lets a directory open.
	h, err := windows.CreateFile(sp, windows.DELETE|windows.SYNCHRONIZE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	name, err := windows.UTF16FromString(ntPath(dst))
	if err != nil {
		return err
	}
	name = name[:len(name)-1] // the length is given; no NUL
	var info fileRenameInformation
	off := int(unsafe.Offsetof(info.FileName))
	buf := make([]uint64, (off+2*len(name)+7)/8)
	ri := (*fileRenameInformation)(unsafe.Pointer(&buf[0]))
	if replace {
		ri.ReplaceIfExists = 1
	}
	ri.FileNameLength = uint32(2 * len(name))
	copy(unsafe.Slice(&ri.FileName[0], len(name)), name)
	var iosb windows.IO_STATUS_BLOCK
	err = windows.NtSetInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&buf[0])), uint32(off+2*len(name)), windows.FileRenameInformation)
	if st, ok := err.(windows.NTStatus); ok {
		return st.Errno()
	}
	return err
}

// ntPath is path as an NT object name: \??\C:\dir\name, or
// \??\UNC\server\share\name for a UNC path.
func ntPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if strings.HasPrefix(abs, `\\?\`) {
		return `\??\` + abs[4:]
	}
	if strings.HasPrefix(abs, `\\`) {
		return `\??\UNC\` + abs[2:]
	}
	return `\??\` + abs
}

// reservedName reports whether Windows takes name for a device rather than
// a file: CON, PRN, AUX, NUL, COM0-9 and LPT0-9, in any case, alone or
// before an extension ("nul.ack" is NUL too), so a message id or an agent
// name that is one could never become the file or directory it names. A
// name ending in "." is refused too: Windows drops the dot, so "Agent-1."
// would be Agent-1's directory.
func reservedName(name string) bool {
	if strings.HasSuffix(name, ".") {
		return true
	}
	stem, _, _ := strings.Cut(name, ".")
	switch strings.ToUpper(stem) {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && stem[3] >= '0' && stem[3] <= '9' {
		switch strings.ToUpper(stem[:3]) {
		case "COM", "LPT":
			return true
		}
	}
	return false
}

func isLoop(error) bool { return false }

func owner(fs.FileInfo) (int, bool) { return 0, false }

// SyncDir is a no-op: Windows cannot fsync a directory.
func SyncDir(string) error { return nil }

// WriteNoFollow writes data to path in place, refusing a symlink there.
func WriteNoFollow(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return &RefusedError{Path: path, Kind: KindSymlink, Detail: linkTarget(path)}
	}
	return os.WriteFile(path, data, perm)
}
