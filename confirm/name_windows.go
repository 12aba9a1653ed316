package confirm

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// exactName reports whether dir holds a file named exactly name. NTFS
// matches names without regard to case, so the Lstat of abc.ack finds
// ABC.ack, the ack of another id; the name as stored on disk tells them
// apart.
func exactName(dir, name string) bool {
	p, err := windows.UTF16PtrFromString(filepath.Join(dir, name))
	if err != nil {
		return false
	}
	var fd windows.Win32finddata
	h, err := windows.FindFirstFile(p, &fd)
	if err != nil {
		return false
	}
	windows.FindClose(h)
	return windows.UTF16ToString(fd.FileName[:]) == name
}
