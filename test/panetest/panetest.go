//go:build unix

// Package panetest starts tmux servers of a test's own and the stand-in
// agent program test/paneagent in their panes, for the tmux channel's
// tests (deliver, service, cmd/agentspool, test/terminal).
package panetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a tmux server of the test's own: its socket in the test's
// temp dir, no user configuration, stopped by its pid (with its panes) at
// the test's end.
type Server struct {
	Socket string
	PID    int
}

// Start starts a server with one detached session running command, in a
// pane of cols × rows.
func Start(t testing.TB, session, command string, cols, rows int) *Server {
	t.Helper()
	s := &Server{Socket: filepath.Join(t.TempDir(), "tmux.sock")}
	if _, err := s.Tmux("-f", "/dev/null", "new-session", "-d", "-s", session,
		"-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), command); err != nil {
		t.Fatal(err)
	}
	out, err := s.Tmux("display-message", "-p", "-t", "="+session+":", "#{pid}")
	if err != nil {
		t.Fatal(err)
	}
	if s.PID, err = strconv.Atoi(strings.TrimSpace(out)); err != nil || s.PID <= 0 {
		t.Fatalf("panetest: tmux server pid %q", out)
	}
	t.Cleanup(func() { syscall.Kill(s.PID, syscall.SIGTERM) })
	return s
}

// NewSession adds a detached session running command.
func (s *Server) NewSession(t testing.TB, session, command string, cols, rows int) {
	t.Helper()
	if _, err := s.Tmux("new-session", "-d", "-s", session, "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), command); err != nil {
		t.Fatal(err)
	}
}

// Tmux runs a tmux command on the server.
func (s *Server) Tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", s.Socket}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("panetest: tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// PaneAgent builds test/paneagent, once per test binary, and returns its
// path. The binary's TestMain removes it (Main).
func PaneAgent(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paneagent")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "paneagent")
		if out, err := exec.Command("go", "build", "-o", built, "github.com/agentspool/agentspool/test/paneagent").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("panetest: build paneagent: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// Main is m (a *testing.M) whose Run also removes what PaneAgent built:
// a test binary that uses PaneAgent has a TestMain that runs Main(m).Run()
// (or passes Main(m) on, to desktoptest.MainWithAgentspool).
func Main(m interface{ Run() int }) interface{ Run() int } { return mainRunner{m} }

type mainRunner struct{ m interface{ Run() int } }

func (r mainRunner) Run() int {
	code := r.m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	return code
}

// Attach attaches a client to session, in a terminal of its own
// (script(1)), as a person at a tmux client is, and returns once tmux
// lists it, with a function that types keys into it.
func (s *Server) Attach(t testing.TB, session string) (typeKeys func(keys string)) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "keys")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	client := exec.Command("script", "-qfc", "tmux -S "+s.Socket+" attach -t "+session, "/dev/null")
	client.Stdin = in
	client.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait(); in.Close() })
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if out, _ := s.Tmux("list-clients"); strings.TrimSpace(out) != "" {
			break
		}
		if time.Now().After(end) {
			t.Fatal("panetest: the client never attached")
		}
	}
	var mu sync.Mutex
	return func(keys string) {
		mu.Lock()
		defer mu.Unlock()
		in.Write([]byte(keys))
	}
}
