package spool

import (
	"syscall"
	"time"
)

// readHead opens name inside the directory open as dirfd, fstats it and
// reads the start of it into buf. It goes straight to the system calls
// because a cold Scan does this for every queued file, and os.Open adds
// several calls per file (fcntl, epoll registration, a finalizer) that
// dominated a 100,000-file scan. O_NONBLOCK keeps a FIFO dropped into the
// queue from hanging the scan; O_NOFOLLOW makes a symlink an error, which
// the caller answers with lstat like any unreadable file.
func readHead(dirfd int, dir, name string, buf []byte) (fileMeta, int, error) {
	fd, err := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_NOCTTY, 0)
	if err != nil {
		return fileMeta{}, 0, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fileMeta{}, 0, err
	}
	m := fileMeta{
		size:  st.Size,
		mtime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
		mode:  st.Mode & syscall.S_IFMT,
	}
	m.isDir = m.mode == syscall.S_IFDIR
	if m.mode != syscall.S_IFREG {
		return m, 0, nil
	}
	// Stop at the size fstat gave: on a small file this saves the second
	// read(2) that would only return 0.
	want := len(buf)
	if st.Size < int64(want) {
		want = int(st.Size)
	}
	n := 0
	for n < want {
		k, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return m, n, err
		}
		if k == 0 {
			break
		}
		n += k
	}
	return m, n, nil
}
