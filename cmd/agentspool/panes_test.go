//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/panetest"
)

// With every agent in a tmux pane, doctor and coords check need no
// display: they say which pane each agent is and what runs in it, and a
// pane that is gone is a FAIL with what to do. doctor also says what the
// pane's screen shows: an empty input, a draft, or no input prompt.
func TestDoctorAndCoordsCheckWithPanes(t *testing.T) {
	dir := t.TempDir()
	srv := panetest.Start(t, "work", "sleep 600", 80, 20)
	sock := srv.Socket
	// A program that reads a line at a > prompt: once empty, once with a
	// person's draft in it.
	reader := "bash --norc --noprofile -c \"read -e -p '> ' line; sleep 600\""
	srv.NewSession(t, "ready", reader, 80, 20)
	srv.NewSession(t, "draft", reader, 80, 20)
	for _, s := range []string{"ready", "draft"} {
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if out, _ := srv.Tmux("capture-pane", "-p", "-t", "="+s+":"); strings.HasPrefix(out, ">") {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s: no prompt", s)
			}
		}
	}
	if _, err := srv.Tmux("send-keys", "-t", "=draft:", "-l", "half typed"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "coords.yaml")
	yaml := fmt.Sprintf("spool: %s/spool\ninbox_root: %s/inboxes\nagents:\n  Here:\n    tmux: \"work:\"\n    tmux_socket: %s\n    ack: false\n  Gone:\n    tmux: \"gone:\"\n    tmux_socket: %s\n    ack: false\n", dir, dir, sock, sock)
	for _, s := range []string{"ready", "draft"} {
		yaml += fmt.Sprintf("  %s:\n    tmux: \"%s:\"\n    tmux_socket: %s\n    ack: false\n", strings.ToUpper(s[:1])+s[1:], s, sock)
	}
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
		if args[0] != "doctor" {
			continue
		}
		// What each pane's screen shows: no prompt (a warning: a CLI at
		// work hides its input), an empty input, a draft.
		for _, want := range []string{
			"warn  pane           Here: tmux pane work: (server " + sock + ") is pane %0, running sleep (no agent CLI recognised in it); its screen shows no input prompt now",
			"ok    pane           Ready: tmux pane ready: (server " + sock + ") is pane %1, running bash (no agent CLI recognised in it); its input prompt shows, empty",
			"warn  pane           Draft: tmux pane draft: (server " + sock + ") is pane %2, running bash (no agent CLI recognised in it); its input holds text (10 characters): a draft",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("doctor lacks %q", want)
			}
		}
	}
}
