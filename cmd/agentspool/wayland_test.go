package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// waylandEnv is env as in a Wayland session (XWayland's DISPLAY kept).
func waylandEnv(env []string) []string {
	return envWith(envWith(env, "WAYLAND_DISPLAY", "wayland-0"), "XDG_SESSION_TYPE", "wayland")
}

// In a Wayland session doctor says what it cannot see, and an agent whose
// window is not found among the X windows is told to start its app as an
// X client. Before, nothing in doctor mentioned Wayland: the agent's
// window was merely "not found".
func TestDoctorSaysWaylandWindowsAreInvisible(t *testing.T) {
	r := newDesktopRig(t, 1, desktoptest.FixtureOptions{})
	cfg := filepath.Join(t.TempDir(), "coords.yaml")
	data, _ := os.ReadFile(r.config)
	data = []byte(strings.Replace(string(data), "agents:\n", "agents:\n  Cursor-Agent:\n    x: 100\n    y: 100\n    window: \"Cursor\"\n    ack: false\n", 1))
	if err := os.WriteFile(cfg, data, 0o600); err != nil {
		t.Fatal(err)
	}

	out, _, code := runIn(t, waylandEnv(r.desk.Env()), "--config", cfg, "doctor")
	t.Logf("\n%s", out)
	if !strings.Contains(out, "warn  wayland") || !strings.Contains(out, "WAYLAND_DISPLAY=wayland-0, XDG_SESSION_TYPE=wayland") {
		t.Errorf("no wayland line naming how the session was told")
	}
	if code != 1 || !strings.Contains(out, "FAIL  Cursor-Agent") {
		t.Errorf("exit %d: want the agent without an X window to fail", code)
	}
	_, fix, _ := strings.Cut(out, "FAIL  Cursor-Agent")
	fix, _, _ = strings.Cut(fix, "\n"+"ok")
	if !strings.Contains(fix, "Wayland session") || !strings.Contains(fix, "--ozone-platform=x11") {
		t.Errorf("the missing window's fix does not say Wayland and --ozone-platform=x11: %q", fix)
	}
	if got := failLines(out); len(got) != 1 || got[0] != "Cursor-Agent" {
		t.Errorf("FAIL lines %v, want only the agent without an X window (a Wayland session is no failure by itself)", got)
	}

	// An X11 session says nothing of Wayland.
	out, _, _ = runIn(t, r.desk.Env(), "--config", cfg, "doctor")
	if strings.Contains(out, "wayland") || strings.Contains(out, "Wayland session") {
		t.Errorf("doctor in an X11 session speaks of Wayland:\n%s", out)
	}
}

// The daemon warns at start in a Wayland session, before anything else can
// go wrong (here: no DISPLAY at all, XWayland absent).
func TestRunWarnsOfAWaylandSession(t *testing.T) {
	f := newFixture(t)
	for _, wayland := range []bool{false, true} {
		env := envWith(envWith(os.Environ(), "WAYLAND_DISPLAY", ""), "XDG_SESSION_TYPE", "")
		if wayland {
			env = waylandEnv(env)
		}
		cmd := exec.Command(binary, "--config", f.config, "run")
		cmd.Env = envWith(env, "DISPLAY", "")
		out, _ := cmd.CombinedOutput()
		warned := strings.Contains(string(out), "level=WARN msg=\"a Wayland session") && strings.Contains(string(out), "--ozone-platform=x11")
		if warned != wayland {
			t.Errorf("Wayland session %v: warned %v\n%s", wayland, warned, out)
		}
	}
}
