//go:build unix

package safeio

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

const ownerChecks = true

func openFile(path string, follow bool) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	return os.OpenFile(path, flags, 0)
}

// OpenRead opens path for reading: os.Open. (On Windows it also lets
// others rename the open file, as Unix always does.)
func OpenRead(path string) (*os.File, error) { return os.Open(path) }

// Rename is os.Rename. (On Windows it retries a sharing violation.)
func Rename(src, dst string) error { return os.Rename(src, dst) }

// reservedName: Unix has no reserved file names.
func reservedName(string) bool { return false }

// isLoop: open(2) with O_NOFOLLOW on a symlink fails with ELOOP.
func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }

func owner(fi fs.FileInfo) (int, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), true
	}
	return 0, false
}

// SyncDir fsyncs a directory, making the renames in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// WriteNoFollow writes data to path in place (truncating it), refusing to
// follow a symlink at path or to write into anything but a regular file we
// own: for small sidecar files in a private directory that several of our
// processes rewrite (a rename there would race with the readers for no
// gain).
func WriteNoFollow(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, perm)
	if err != nil {
		if isLoop(err) {
			return &RefusedError{Path: path, Kind: KindSymlink, Detail: linkTarget(path)}
		}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := check(path, fi, OpenOptions{OwnerOnly: true}); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}
