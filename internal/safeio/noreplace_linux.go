package safeio

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// renameExcl is renameat2(RENAME_NOREPLACE) (Linux 3.15+; ext4, xfs,
// btrfs, tmpfs, overlayfs). A file system or kernel without it answers
// EINVAL or ENOSYS: then errNoExclRename.
func renameExcl(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.ENOTSUP) {
		return errNoExclRename
	}
	return err
}
