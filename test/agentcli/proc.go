//go:build unix

package agentcli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// spawn starts a process of the agent's (the terminal, or an xclip
// holding the clipboard), leading its own process group, its output in
// <Dir>/logs.
func (a *Agent) spawn(name string, env []string, argv ...string) (*desktoptest.Child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = a.WorkDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := desktoptest.StartChild(name, filepath.Join(a.Dir, "logs", fmt.Sprintf("%s.%d.log", name, len(a.procs))), cmd)
	if err != nil {
		return nil, fmt.Errorf("agentcli: %w", err)
	}
	a.procs = append(a.procs, p)
	a.logf("agentcli: started %s pid %d: %s", name, p.PID, strings.Join(argv, " "))
	return p, nil
}

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// Stop ends the agent: the tmux server (a pane), the CLI's whole session
// (the CLI and everything it started, by session id: the CLI leads a
// session of its own under its pty), the terminal's process group, and
// any process left running a program from the agent's folder (none is
// expected: Codex's background server would be one, and --no-daemon keeps
// it from starting). SIGTERM first, SIGKILL after stopGrace. Idempotent.
func (a *Agent) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return a.stopErr
	}
	a.stopped = true
	if a.TmuxSocket != "" {
		_, _ = a.tmux("kill-server") // an error means it is gone already
	}
	members := func() []int {
		var pids []int
		if a.cliSID > 0 {
			pids = append(pids, sessionMembers(a.cliSID)...)
		}
		pids = append(pids, procsUnder(a.Dir+"/")...)
		for _, p := range a.procs {
			if !p.Exited() {
				pids = append(pids, p.PID)
			}
			pids = append(pids, groupMembers(p.PID)...)
		}
		if a.tmuxPID > 0 && alive(a.tmuxPID) {
			pids = append(pids, a.tmuxPID)
		}
		return pids
	}
	signalAll := func(sig syscall.Signal) {
		for _, pid := range members() {
			_ = syscall.Kill(pid, sig) // an error means it ended meanwhile
		}
	}
	gone := func(deadline time.Time) bool {
		for time.Now().Before(deadline) {
			if len(members()) == 0 {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return len(members()) == 0
	}
	signalAll(syscall.SIGTERM)
	if !gone(time.Now().Add(stopGrace)) {
		a.logf("agentcli: %s: killing what ignored SIGTERM: %v", a.Program, members())
		signalAll(syscall.SIGKILL)
		if !gone(time.Now().Add(stopGrace)) {
			a.stopErr = fmt.Errorf("agentcli: %s: processes survived SIGKILL: %v", a.Program, members())
		}
	}
	return a.stopErr
}

// stat returns the fields of /proc/pid/stat after the command name: state
// is [0], ppid [1], pgrp [2], session [3].
func stat(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("agentcli: bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 4 {
		return nil, fmt.Errorf("agentcli: bad /proc/%d/stat", pid)
	}
	return f, nil
}

func sessionOf(pid int) (int, error) {
	f, err := stat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[3])
}

// alive reports whether pid runs (a zombie has ended).
func alive(pid int) bool {
	f, err := stat(pid)
	return err == nil && f[0] != "Z" && f[0] != "X"
}

// scan returns the live pids whose stat fields satisfy match.
func scan(match func(pid int, f []string) bool) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		f, err := stat(pid)
		if err != nil || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if match(pid, f) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sessionMembers are the live processes of session sid. A session id is a
// pid the kernel does not reuse while the session has a member, so this
// never finds another program's process.
func sessionMembers(sid int) []int {
	s := strconv.Itoa(sid)
	return scan(func(_ int, f []string) bool { return f[3] == s })
}

// groupMembers are the live processes of process group pgid.
func groupMembers(pgid int) []int {
	g := strconv.Itoa(pgid)
	return scan(func(_ int, f []string) bool { return f[2] == g })
}

// procsUnder are the live processes with an argument (their program, most
// often) under prefix, the agent's own folder, which no other test's
// process names.
func procsUnder(prefix string) []int {
	return scan(func(pid int, _ []string) bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && bytes.Contains(append([]byte{0}, cmdline...), []byte("\x00"+prefix))
	})
}

// Harmed says whether the CLI's process has died (gone, or a zombie) or is
// stopped (ctrl+z suspends Claude Code; ctrl+c ends most CLIs), with the
// state /proc showed ("" when it is gone).
func (a *Agent) Harmed() (died, suspended bool, state string) {
	f, err := stat(a.CLIPID)
	if err != nil {
		return true, false, ""
	}
	return f[0] == "Z" || f[0] == "X", f[0] == "T" || f[0] == "t", f[0]
}
