package desktoptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Child is a long-running process a rig started, its stdout and stderr in
// a log file, reaped by a goroutine of its own: this package's X server,
// WM and windows, test/agentcli's terminals and test/winetest's Wine
// programs. Errors from its methods carry no package prefix; the rig that
// started it adds its own.
type Child struct {
	Name string
	PID  int
	Log  string // the file its stdout and stderr go to

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // Wait's result, read after done
}

// StartChild starts cmd, its stdout and stderr to a new file at log.
func StartChild(name, log string, cmd *exec.Cmd) (*Child, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child holds its own copy
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, PID: cmd.Process.Pid, Log: log, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Done is closed once the process has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the process has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to end and returns its exit error.
func (c *Child) Wait() error {
	<-c.done
	return c.err
}

// Signal sends sig to the process itself (not its group). Once it has
// been reaped it fails, and signals nothing: its pid may be another's.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Failure wraps err with the process's name, pid, state and the last 20
// lines of its log.
func (c *Child) Failure(err error) error {
	status := "running"
	if c.Exited() {
		status = fmt.Sprintf("exited: %v", c.err)
	}
	return fmt.Errorf("%s (pid %d, %s): %w\n--- %s (tail) ---\n%s",
		c.Name, c.PID, status, err, c.Log, Tail(c.Log, 20))
}

// Poll is WaitFor, 20 ms apart, that also ends when the process exits.
// Its errors are Failures.
func (c *Child) Poll(timeout time.Duration, what string, cond func() (bool, error)) error {
	exited := false
	err := WaitFor(timeout, 20*time.Millisecond, what, func() (bool, error) {
		ok, err := cond()
		exited = !ok && err == nil && c.Exited()
		return ok || exited, err
	})
	if exited {
		err = fmt.Errorf("exited while waiting for %s", what)
	}
	if err != nil {
		return c.Failure(err)
	}
	return nil
}

// AwaitReady waits, as Poll, for the ready file (path) a fixture window
// (Tk's fixture.tcl, test/winetest's agentwin.c) writes, by rename, once
// it is up, and returns its key=value lines.
func (c *Child) AwaitReady(timeout time.Duration, path string) (map[string]string, error) {
	var fields map[string]string
	err := c.Poll(timeout, c.Name+" ready file", func() (bool, error) {
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		fields = map[string]string{}
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				fields[k] = v
			}
		}
		return true, nil
	})
	return fields, err
}

// Tail returns the last n lines of a file, for error messages; the error
// if it cannot be read.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Ender is a process StopAll can end: a rig's wrapper of a Child, which
// knows whether its signals go to the process or its group.
type Ender interface {
	// Send sends sig to the process (or its group); an error means it is
	// gone, and is not reported.
	Send(sig syscall.Signal)
	// GoneBy waits until the process (and what it leads) has ended, or
	// deadline passes, and says which.
	GoneBy(deadline time.Time) bool
	// String names it: "name (pid N)".
	String() string
}

// StopAll ends procs by pid: SIGTERM to each, then SIGKILL to each not
// gone grace later (said through logf, prefixed by pkg), which gets grace
// more. The error names each that survived SIGKILL.
func StopAll(pkg string, procs []Ender, grace time.Duration, logf func(format string, args ...any)) error {
	for _, p := range procs {
		p.Send(syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	var errs []error
	for _, p := range procs {
		if p.GoneBy(deadline) {
			continue
		}
		logf("%s: %s ignored SIGTERM for %v; killing", pkg, p, grace)
		p.Send(syscall.SIGKILL)
		if !p.GoneBy(time.Now().Add(grace)) {
			errs = append(errs, fmt.Errorf("%s: %s survived SIGKILL", pkg, p))
		}
	}
	return errors.Join(errs...)
}

// GoneBy is Ender's GoneBy for a process that leads nothing.
func (c *Child) GoneBy(deadline time.Time) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(time.Until(deadline)):
		return false
	}
}

func (c *Child) String() string { return fmt.Sprintf("%s (pid %d)", c.Name, c.PID) }
