//go:build !unix

package desktoptest

import (
	"errors"
	"syscall"
)

// The virtual desktop is Linux's (Xvfb); these let the package type-check
// elsewhere, for the platform vets of the tests that import it.

func ownGroup() *syscall.SysProcAttr { return nil }

func kill(pid int, sig syscall.Signal) error {
	return errors.New("desktoptest: process groups are Unix only")
}
