//go:build !linux

package spool

import (
	"errors"
	"io"
	"path/filepath"

	"github.com/agentspool/agentspool/internal/safeio"
)

// readHead stats the file name in dir and reads the start of it into buf.
// (Linux has a faster version in head_linux.go.)
func readHead(dirfd int, dir, name string, buf []byte) (fileMeta, int, error) {
	// safeio.OpenRead: on Windows, a scan that reads a file must not stop
	// the daemon or a sender from renaming it meanwhile.
	f, err := safeio.OpenRead(filepath.Join(dir, name))
	if err != nil {
		return fileMeta{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileMeta{}, 0, err
	}
	m := metaOf(fi)
	if !fi.Mode().IsRegular() {
		return m, 0, nil
	}
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return m, n, err
}
