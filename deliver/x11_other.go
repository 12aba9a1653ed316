//go:build !linux && !windows

package deliver

import "runtime"

// NewX11 is only available on Linux (X11); see the README for the platforms
// the daemon supports.
func NewX11() (Desktop, error) {
	return nil, &displayError{"no desktop backend for " + runtime.GOOS + " yet: the daemon drives X11 on Linux"}
}
