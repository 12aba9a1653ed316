package desktoptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one long-running child of the desktop: the X server, the
// WM, a window, or an xclip holding the clipboard. Its stdout and stderr
// go to <Dir>/logs.
type process struct {
	*Child
	group bool // it leads its own process group, and signals go to the group
	// strays finds the processes it started outside its group (Chromium's
	// crashpad handlers, which start their own session), by a mark unique
	// to this desktop; nil if none.
	strays func() []int
}

// spawn starts a tracked process. Once spawn returns it, Stop ends it.
func (d *Desktop) spawn(name string, extra []*os.File, argv ...string) (*process, error) {
	return d.spawnInput(name, extra, nil, argv...)
}

func (d *Desktop) spawnInput(name string, extra []*os.File, stdin io.Reader, argv ...string) (*process, error) {
	return d.spawnProc(name, procOptions{extra: extra, stdin: stdin}, argv...)
}

// procOptions are spawnProc's less common needs.
type procOptions struct {
	extra  []*os.File
	stdin  io.Reader
	group  bool         // see spawnGroup
	env    []string     // added to the desktop's Env()
	strays func() []int // see process.strays
}

// spawnGroup starts a tracked process in a process group of its own, for
// a program that forks helpers the harness never sees the pids of
// (Chromium's zygotes, renderers, GPU and network processes): Stop signals
// the whole group, and waits until none of it is left.
// env is added to the desktop's Env(); strays is as in process.
func (d *Desktop) spawnGroup(name string, env []string, strays func() []int, argv ...string) (*process, error) {
	return d.spawnProc(name, procOptions{group: true, env: env, strays: strays}, argv...)
}

func (d *Desktop) spawnProc(name string, o procOptions, argv ...string) (*process, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return nil, fmt.Errorf("desktoptest: %s: desktop is stopped", name)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(d.Env(), o.env...)
	cmd.Dir = d.Dir
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extra
	if o.group {
		cmd.SysProcAttr = ownGroup()
	}
	c, err := StartChild(name, filepath.Join(d.Dir, "logs", fmt.Sprintf("%s.%d.log", name, len(d.procs))), cmd)
	if err != nil {
		return nil, fmt.Errorf("desktoptest: %w", err)
	}
	p := &process{Child: c, group: o.group, strays: o.strays}
	d.procs = append(d.procs, p)
	d.logf("desktoptest: started %s pid %d: %s", name, p.PID, strings.Join(argv, " "))
	return p, nil
}

func (p *process) signal(sig syscall.Signal) {
	if p.group {
		// The group outlives its leader while a child is left; its id is
		// the leader's pid, which the kernel does not reuse while the
		// leader is unreaped or the group has a member. Once neither holds,
		// the number could be another program's group, so it is left alone.
		if !p.Exited() || len(groupMembers(p.PID)) > 0 {
			_ = kill(-p.PID, sig) // an error means the group is gone
		}
		p.signalStrays(sig)
		return
	}
	if !p.Exited() {
		// An error here means it exited meanwhile; Done will say so.
		_ = p.Signal(sig)
	}
}

func (p *process) signalStrays(sig syscall.Signal) {
	if p.strays == nil {
		return
	}
	for _, pid := range p.strays() {
		_ = kill(pid, sig) // an error means it ended meanwhile
	}
}

// gone reports whether the process, and for a group every process in it
// and every stray, has ended.
// Send is signal, for StopAll.
func (p *process) Send(sig syscall.Signal) { p.signal(sig) }

// GoneBy waits until p (and its group and strays) has ended or the
// deadline passes.
func (p *process) GoneBy(deadline time.Time) bool {
	for !p.gone() {
		if !p.group && p.strays == nil {
			return p.Child.GoneBy(deadline)
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func (p *process) gone() bool {
	return p.Exited() && (!p.group || len(groupMembers(p.PID)) == 0) && (p.strays == nil || len(p.strays()) == 0)
}

// procsWithArg returns the pids of the live processes that have an
// argument starting with prefix, from /proc. The prefix must name
// something only this desktop has (a path in its Dir), so this never finds
// another program's process.
func procsWithArg(prefix string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, dir := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("\x00"+prefix)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
				if f := strings.Fields(string(stat[i+1:])); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
					continue
				}
			}
		}
		pid, _ := strconv.Atoi(filepath.Base(dir))
		pids = append(pids, pid)
	}
	return pids
}

// groupMembers returns the pids of the live processes in process group
// pgid, from /proc. Zombies are left out: they have ended, and whether
// one is reaped soon depends on who the init of this machine is (in a
// container it may never be).
func groupMembers(pgid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, stat := range dirs {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // it ended meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// failure is Child.Failure with the package's prefix. A nil p (no
// process to blame) just prefixes the package.
func (p *process) failure(err error) error {
	if p == nil {
		return fmt.Errorf("desktoptest: %w", err)
	}
	return fmt.Errorf("desktoptest: %w", p.Failure(err))
}

// poll is Child.Poll with Start's timeout, and the package's prefix.
func (p *process) poll(what string, cond func() (bool, error)) error {
	if err := p.Poll(startTimeout, what, cond); err != nil {
		return fmt.Errorf("desktoptest: %w", err)
	}
	return nil
}

// toolTimeout bounds one short X tool run; none should take more than a
// few milliseconds, but a wedged X server must not hang a test forever.
const toolTimeout = 10 * time.Second

// x runs a short-lived X tool against this display and returns its stdout.
func (d *Desktop) x(argv ...string) (string, error) {
	return d.xInput(nil, argv...)
}

func (d *Desktop) xInput(stdin io.Reader, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = d.Env()
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v: %w", toolTimeout, err)
		}
		return stdout.String(), fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return stdout.String(), nil
}
