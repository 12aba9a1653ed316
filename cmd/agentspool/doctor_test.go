package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// envWith is env with key set to val ("" removes it).
func envWith(env []string, key, val string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	if val != "" {
		out = append(out, key+"="+val)
	}
	return out
}

func runIn(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// failLines are the names of the checks that FAILed.
func failLines(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			names = append(names, strings.Fields(l)[1])
		}
	}
	return names
}

func TestDoctorOnTheDesktop(t *testing.T) {
	r := newDesktopRig(t, 2, desktoptest.FixtureOptions{})
	env := r.desk.Env()

	t.Run("all ok", func(t *testing.T) {
		out, errs, code := runIn(t, env, "--config", r.config, "doctor")
		if code != 0 || strings.Contains(out, "FAIL") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		for _, want := range []string{"ok    config", "ok    display", "ok    xtest", "ok    quiet desk", "ok    window manager", "ok    desktop lock", "ok    clipboard", "ok    spool", "ok    tmp -> new", "ok    inbox", "ok    Agent-1", "ok    Agent-2"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q line:\n%s", want, out)
			}
		}
		t.Logf("\n%s", out)
	})

	t.Run("clipboard kept", func(t *testing.T) {
		if err := r.desk.SetClipboard("the person's clipboard"); err != nil {
			t.Fatal(err)
		}
		if _, _, code := runIn(t, env, "--config", r.config, "doctor"); code != 0 {
			t.Fatalf("exit %d", code)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := r.desk.Clipboard()
			if err == nil && got == "the person's clipboard" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("clipboard after doctor: %q, %v", got, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("no display", func(t *testing.T) {
		out, errs, code := runIn(t, envWith(env, "DISPLAY", ""), "--config", r.config, "doctor")
		if code != 1 || !strings.Contains(out, "FAIL  display") || !strings.Contains(out, "DISPLAY is not set") || !strings.Contains(errs, "check failed") {
			t.Errorf("exit %d\n%s%s", code, out, errs)
		}
		if got := failLines(out); len(got) != 1 {
			t.Errorf("FAIL lines %v, want only display (the rest skip)\n%s", got, out)
		}
	})

	t.Run("missing agent window", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "coords.yaml")
		data, _ := os.ReadFile(r.config)
		data = append(data, []byte("\n")...)
		data = []byte(strings.Replace(string(data), "agents:\n", "agents:\n  Ghost:\n    x: 100\n    y: 100\n    window: \"Ghost window\"\n    ack: false\n", 1))
		os.WriteFile(cfg, data, 0o600)
		out, _, code := runIn(t, env, "--config", cfg, "doctor")
		if code != 1 || !strings.Contains(out, `FAIL  Ghost          no window matches window: "Ghost window"`) {
			t.Errorf("exit %d\n%s", code, out)
		}
		if got := failLines(out); len(got) != 1 || got[0] != "Ghost" {
			t.Errorf("FAIL lines %v\n%s", got, out)
		}
	})

	t.Run("unwritable spool", func(t *testing.T) {
		// Root writes anywhere chmod allows; a path under a regular file
		// fails for everyone (ENOTDIR).
		file := filepath.Join(t.TempDir(), "a-file")
		os.WriteFile(file, nil, 0o600)
		out, _, code := runIn(t, env, "--config", r.config, "--spool", filepath.Join(file, "spool"), "doctor")
		if code != 1 || !strings.Contains(out, "FAIL  spool") || !strings.Contains(out, "not a directory") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "coords.yaml")
		os.WriteFile(cfg, []byte("agents:\n  A: {x: 1, y: 2, window: a, colour: red}\n"), 0o600)
		out, _, code := runIn(t, env, "--config", cfg, "doctor")
		if code != 1 || !strings.Contains(out, "FAIL  config") || !strings.Contains(out, "colour") || !strings.Contains(out, "ok    display") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
}

// TestDoctorWithoutWindowManager runs doctor against a bare Xvfb: no
// openbox, so no EWMH window manager; and MIT-SCREEN-SAVER switched off, so
// no idle time for the quiet-desk wait.
func TestDoctorWithoutWindowManager(t *testing.T) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Fatal("Xvfb not installed: run scripts/deps.sh desktop")
	}
	rd, wr, _ := os.Pipe()
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "800x600x24", "-nolisten", "tcp", "-noreset", "-extension", "MIT-SCREEN-SAVER")
	x.ExtraFiles = []*os.File{wr}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	t.Cleanup(func() { stopProcess(x) })
	line := make(chan string, 1)
	go func() { s, _ := bufio.NewReader(rd).ReadString('\n'); line <- s }()
	var display string
	select {
	case s := <-line:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("Xvfb display %q", s)
		}
		display = fmt.Sprintf(":%d", n)
	case <-time.After(30 * time.Second):
		t.Fatal("Xvfb did not start")
	}
	f := newFixture(t)
	env := envWith(envWith(cleanEnv(), "DISPLAY", display), "XDG_RUNTIME_DIR", t.TempDir())
	out, _, code := runIn(t, env, "--config", f.config, "doctor")
	if code != 1 || !strings.Contains(out, "FAIL  window manager") || !strings.Contains(out, "no EWMH window manager") || !strings.Contains(out, "ok    xtest") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "FAIL  quiet desk") || !strings.Contains(out, "no MIT-SCREEN-SAVER extension") || !strings.Contains(out, "quiet_for: 0") {
		t.Errorf("no quiet-desk failure without MIT-SCREEN-SAVER:\n%s", out)
	}
	t.Logf("\n%s", out)
	if !strings.Contains(out, "skip  agents") {
		t.Errorf("agents should be skipped without a window manager:\n%s", out)
	}
}
