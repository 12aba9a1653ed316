// The process table on Windows, from a Toolhelp snapshot: what runs under
// an agent's console or Windows Terminal window.

package deliver

import (
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// processes lists every process with its parent and executable name. The
// command line of another process is not in the snapshot; the executable
// name is Args[0].
func processes() ([]Process, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	var out []Process
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		name := windows.UTF16ToString(e.ExeFile[:])
		out = append(out, Process{PID: int(e.ProcessID), PPID: int(e.ParentProcessID), Name: filepath.Base(name), Args: []string{name}})
	}
	return out, nil
}
