package spool

import (
	"io/fs"
	"syscall"
	"time"
)

// queuedTime is when the file entered its current directory. On Linux a
// rename updates the inode's ctime, so ctime is exactly that moment, while
// mtime is when a writer last wrote the file (possibly long before the
// rename into new/).
func queuedTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	}
	return fi.ModTime()
}
