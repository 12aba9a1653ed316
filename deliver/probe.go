package deliver

import "fmt"

// Screen is one monitor in root (virtual-screen) coordinates.
type Screen struct{ X, Y, W, H int }

// Contains reports whether the point (x, y) lies on s.
func (s Screen) Contains(x, y int) bool {
	return x >= s.X && x < s.X+s.W && y >= s.Y && y < s.Y+s.H
}

func (s Screen) String() string { return fmt.Sprintf("%dx%d%+d%+d", s.W, s.H, s.X, s.Y) }

// ProbedWindow is a top-level client window as the window manager lists it,
// with where it is on the screen.
type ProbedWindow struct {
	Window
	Frame Screen // the client area in root coordinates
}

// PlatformCheck is one check that matters on this platform only (for
// doctor): what, whether it passed, what was seen and how to fix it.
type PlatformCheck struct {
	What, Detail, Fix string
	OK                bool
}
