package desktoptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run sh, not a desktop: Child is what every rig's processes
// share.

func startSh(t *testing.T, script string) *Child {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	c, err := StartChild("sh", filepath.Join(dir, "sh.log"), cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Signal(os.Kill) // an error means it has ended
		<-c.Done()
	})
	return c
}

func TestChildLogAndExit(t *testing.T) {
	c := startSh(t, "echo out; echo err >&2; exit 3")
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
	if !c.Exited() {
		t.Error("Exited after Wait is false")
	}
	if got := Tail(c.Log, 1); got != "err" {
		t.Errorf("Tail(log, 1) = %q, want %q", got, "err")
	}
	msg := c.Failure(errors.New("boom")).Error()
	for _, want := range []string{"sh (pid ", "exited: exit status 3", "boom", "out\nerr"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Failure = %q, want it to hold %q", msg, want)
		}
	}
}

func TestChildPoll(t *testing.T) {
	c := startSh(t, "sleep 0.2; printf 'a=1\\nb=x\\nnot a pair\\n' > ready.tmp && mv ready.tmp ready; exec sleep 60")
	fields, err := c.AwaitReady(10*time.Second, filepath.Join(c.cmd.Dir, "ready"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 2 || fields["a"] != "1" || fields["b"] != "x" {
		t.Errorf("ready fields %q", fields)
	}

	err = c.Poll(100*time.Millisecond, "never", func() (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "timed out after 100ms waiting for never") || !strings.Contains(err.Error(), "running") {
		t.Errorf("Poll timing out = %v", err)
	}
	err = c.Poll(time.Second, "a failing cond", func() (bool, error) { return false, errors.New("cond broke") })
	if err == nil || !strings.Contains(err.Error(), "waiting for a failing cond: cond broke") {
		t.Errorf("Poll with a failing cond = %v", err)
	}

	quick := startSh(t, "exit 0")
	err = quick.Poll(10*time.Second, "a process that exits", func() (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "exited while waiting for a process that exits") {
		t.Errorf("Poll on an exiting process = %v", err)
	}
}

// childEnder is a Child as an Ender whose signals go to the process alone.
type childEnder struct{ *Child }

func (c childEnder) Send(sig syscall.Signal) { _ = c.Signal(sig) }

// StopAll ends a process that stops at SIGTERM at once, and kills one that
// ignores it after the grace, saying so.
func TestStopAllTermsThenKills(t *testing.T) {
	polite := startSh(t, "exec sleep 60")
	stubborn := startSh(t, "trap '' TERM; echo trapped; while :; do sleep 0.05; done")
	if err := stubborn.Poll(10*time.Second, "the trap", func() (bool, error) { return Tail(stubborn.Log, 1) == "trapped", nil }); err != nil {
		t.Fatal(err)
	}
	var said []string
	start := time.Now()
	err := StopAll("test", []Ender{childEnder{polite}, childEnder{stubborn}}, 300*time.Millisecond, func(f string, a ...any) {
		said = append(said, fmt.Sprintf(f, a...))
	})
	if err != nil {
		t.Fatal(err)
	}
	if !polite.Exited() || !stubborn.Exited() {
		t.Fatal("a process outlived StopAll")
	}
	var ee *exec.ExitError
	if errors.As(stubborn.Wait(), &ee) && ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the stubborn one ended by %v, want SIGKILL", ee)
	}
	if len(said) != 1 || !strings.Contains(said[0], stubborn.String()+" ignored SIGTERM") {
		t.Errorf("said %q, want one line about %s", said, stubborn)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("killed after %v, before the grace", took)
	}
}
