package deliver

import (
	"strings"
	"testing"
)

func TestWaylandIsToldByItsEnvironment(t *testing.T) {
	for _, tc := range []struct {
		wayland, session string
		want             bool
	}{
		{"", "", false},
		{"", "x11", false},
		{"wayland-0", "", true},
		{"", "wayland", true},
		{"wayland-1", "wayland", true},
	} {
		t.Setenv("WAYLAND_DISPLAY", tc.wayland)
		t.Setenv("XDG_SESSION_TYPE", tc.session)
		how, ok := Wayland()
		hint := WaylandHint()
		if ok != tc.want || (hint != "") != tc.want {
			t.Errorf("WAYLAND_DISPLAY=%q XDG_SESSION_TYPE=%q: Wayland() = %q, %v; hint %q", tc.wayland, tc.session, how, ok, hint)
		}
		if tc.want && (!strings.Contains(hint, "--ozone-platform=x11") || !strings.Contains(hint, how)) {
			t.Errorf("hint %q does not say how it knew (%s) and what to do", hint, how)
		}
	}
}
