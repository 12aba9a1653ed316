//go:build unix

package desktoptest

import "syscall"

// ownGroup starts a process in a process group of its own (a browser and
// its helpers), so Stop can signal them all by the group's id.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// kill signals pid (a negative pid: the process group).
func kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
