//go:build !linux

package spool

import (
	"io/fs"
	"time"
)

// queuedTime is when the file entered its current directory, approximated by
// mtime: not every platform updates ctime on rename (and Windows has none).
func queuedTime(fi fs.FileInfo) time.Time { return fi.ModTime() }
