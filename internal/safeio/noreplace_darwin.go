package safeio

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// renameExcl is renamex_np(RENAME_EXCL) (macOS 10.12+, APFS and HFS+). A
// file system without it answers ENOTSUP or EINVAL: then errNoExclRename.
func renameExcl(src, dst string) error {
	err := unix.RenamexNp(src, dst, unix.RENAME_EXCL)
	if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
		return errNoExclRename
	}
	return err
}
