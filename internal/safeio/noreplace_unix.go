//go:build unix

package safeio

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// RenameNoReplace renames src to dst, and never replaces dst: when dst
// exists it fails with an error satisfying errors.Is(err, fs.ErrExist).
// rename(2) alone replaces its target, so a check before it (lstat, then
// rename) leaves a window in which another process's file can appear at
// dst and be erased. Where the kernel offers a rename that refuses an
// existing target (renameat2 RENAME_NOREPLACE on Linux, renamex_np
// RENAME_EXCL on macOS) it is used; elsewhere, or on a file system that
// refuses the flag, link(2) then unlink(2), since link never replaces
// either (linkThenUnlink).
func RenameNoReplace(src, dst string) error {
	err := renameExcl(src, dst)
	if err == nil || !errors.Is(err, errNoExclRename) {
		if err != nil {
			return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
		}
		return nil
	}
	if err := linkThenUnlink(src, dst); err != nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	return nil
}

// errNoExclRename: this system or file system has no exclusive rename.
var errNoExclRename = errors.New("no exclusive rename here")

// linkThenUnlink is the exclusive rename of systems without one: link(2)
// fails with EEXIST when dst exists. Two processes racing to move one
// src may both link it (under two names); only one unlink of src
// succeeds, and the loser removes its own link and reports src gone
// (ENOENT), as the loser of a rename(2) race finds it. Meanwhile the
// file has two names for a moment. A file system without hard links (or
// a directory, which cannot be linked) gets the check-then-rename, with
// its window, as the last resort.
func linkThenUnlink(src, dst string) error {
	err := os.Link(src, dst)
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist), errors.Is(err, fs.ErrNotExist):
		return err
	default: // EPERM (a directory, or no hard links), EXDEV, ENOTSUP, ...
		if _, lerr := os.Lstat(dst); lerr == nil {
			return syscall.EEXIST
		}
		return os.Rename(src, dst)
	}
	if err := syscall.Unlink(src); err != nil {
		syscall.Unlink(dst)
		return err
	}
	return nil
}
