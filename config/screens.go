package config

import (
	"errors"
	"fmt"
	"strings"
)

// Rect is one screen (monitor) in virtual-screen coordinates.
type Rect struct{ X, Y, W, H int }

// Contains reports whether the point (x, y) lies on r.
func (r Rect) Contains(x, y int) bool {
	return x >= r.X && x < r.X+r.W && y >= r.Y && y < r.Y+r.H
}

func (r Rect) String() string { return fmt.Sprintf("%dx%d%+d%+d", r.W, r.H, r.X, r.Y) }

// CheckOnScreens checks that every agent's point lies on one of screens; the
// error names each agent off every screen, and its line.
func (c *Config) CheckOnScreens(screens []Rect) error {
	if len(screens) == 0 {
		return errors.New("config: no screens to check the agents' points against")
	}
	names := make([]string, len(screens))
	for i, s := range screens {
		names[i] = s.String()
	}
	var errs []error
	for _, a := range c.Agents {
		on := false
		for _, s := range screens {
			if s.Contains(a.X, a.Y) {
				on = true
				break
			}
		}
		if !on {
			errs = append(errs, &keyError{file: c.fileName(), line: a.Line, key: "agents." + a.Name,
				msg: fmt.Sprintf("point (%d, %d) is on no screen (screens: %s)", a.X, a.Y, strings.Join(names, ", "))})
		}
	}
	return errors.Join(errs...)
}

func (c *Config) fileName() string {
	if c.name != "" {
		return c.name
	}
	return c.Path
}
