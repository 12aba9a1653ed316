package deliver

// NewDesktop opens this platform's desktop: X11 on Linux.
func NewDesktop() (Desktop, error) { return NewX11() }
