//go:build unix

package service

import (
	"errors"
	"syscall"
)

// processAlive reports whether pid runs (or exists and is another user's).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
