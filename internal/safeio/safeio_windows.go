package safeio

import (
	"io/fs"
	"os"
)

// Windows has neither FIFOs in the file system nor Unix owners; a
// reparse-point check would be the symlink refusal, and the fstat regular
// file check still applies.
const ownerChecks = false

func openFile(path string, follow bool) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && !follow && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &RefusedError{Path: path, Kind: KindSymlink, Detail: linkTarget(path)}
	}
	return os.Open(path)
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
