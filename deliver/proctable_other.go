//go:build !linux && !windows

package deliver

import "errors"

// processes: no process table on this platform; terminals are known by
// their window class only, and no agent CLI is recognised in them.
func processes() ([]Process, error) {
	return nil, errors.New("deliver: no process table on this platform")
}
