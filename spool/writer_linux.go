package spool

import (
	"errors"

	"golang.org/x/sys/unix"
)

// openForWriting reports whether some process has the file at path open
// for writing (known false when this cannot be told here).
//
// Linux tells it exactly, by inode, whoever the writer and whenever it
// opened the file (before the daemon started, too): a read lease
// (fcntl F_SETLEASE F_RDLCK) is refused with EAGAIN while the file is open
// for writing by anyone (fs/locks.c, check_conflicting_open). The lease
// is dropped at once; a writer that opens the file in that instant waits
// for the unlock, microseconds. Leases need the file's owner (or
// CAP_LEASE) and a file system that has them: where one is refused for
// any other reason (EINVAL on NFS or with fs.leases-enable=0, EACCES on
// another user's file), the answer is unknown and the caller falls back
// to a rest of the mtime.
func openForWriting(path string) (open, known bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY, 0)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EBUSY) {
			return true, true
		}
		return false, false
	}
	unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
	return false, true
}
