//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/test/panetest"
)

// With every agent in a tmux pane, doctor and coords check need no
// display: they say which pane each agent is and what runs in it, and a
// pane that is gone is a FAIL with what to do.
func TestDoctorAndCoordsCheckWithPanes(t *testing.T) {
	dir := t.TempDir()
	sock := panetest.Start(t, "work", "sleep 600", 80, 20).Socket
	cfg := filepath.Join(dir, "coords.yaml")
	yaml := fmt.Sprintf("spool: %s/spool\ninbox_root: %s/inboxes\nagents:\n  Here:\n    tmux: \"work:\"\n    tmux_socket: %s\n    ack: false\n  Gone:\n    tmux: \"gone:\"\n    tmux_socket: %s\n    ack: false\n", dir, dir, sock, sock)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envWith(envWith(os.Environ(), "DISPLAY", ""), "WAYLAND_DISPLAY", "")
	for _, args := range [][]string{{"doctor"}, {"coords", "check"}} {
		stdout, stderr, code := runIn(t, env, append([]string{"--config", cfg}, args...)...)
		t.Logf("%s:\n%s%s", args[0], stdout, stderr)
		if code != 1 || strings.Join(failLines(stdout), ",") != "pane" {
			t.Errorf("%s: exit %d, FAILs %v; want 1 and the gone pane alone", args[0], code, failLines(stdout))
		}
		if !strings.Contains(stdout, "Here: tmux pane work:") || !strings.Contains(stdout, "Gone:") {
			t.Errorf("%s does not name both panes", args[0])
		}
		if strings.Contains(stdout, "FAIL display") {
			t.Errorf("%s wants a display for agents in panes", args[0])
		}
	}
}
