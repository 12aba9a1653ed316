//go:build !linux && !windows

package deliver

// NewDesktop: no backend on this platform (see x11_other.go).
func NewDesktop() (Desktop, error) { return NewX11() }
