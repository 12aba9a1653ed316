package spool

import (
	"errors"

	"golang.org/x/sys/windows"
)

// openForWriting reports whether some process has the file at path open
// for writing (known false when this cannot be told here).
//
// Windows tells it by sharing: an open that does not share write access
// fails with ERROR_SHARING_VIOLATION while another handle has the file
// open for writing (or was opened without sharing reads). The handle
// shares delete, so it never stands in the way of a rename.
func openForWriting(path string) (open, known bool) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, false
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, windows.FILE_SHARE_READ|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		if errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
			return true, true
		}
		return false, false
	}
	windows.CloseHandle(h)
	return false, true
}
