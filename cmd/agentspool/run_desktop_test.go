package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// The real binary on a real (virtual) desktop: `agentspool run` against Tk
// agent windows that record every submit and ack what they receive.

type desktopRig struct {
	t      *testing.T
	desk   *desktoptest.Desktop
	config string
	spool  string
	logs   []string
}

func newDesktopRig(t *testing.T, agents int, fx desktoptest.FixtureOptions) *desktopRig {
	t.Helper()
	dir := t.TempDir()
	desk := desktoptest.StartT(t, desktoptest.Options{Agents: agents, Dir: filepath.Join(dir, "desk"), Fixture: fx})
	r := &desktopRig{t: t, desk: desk, config: filepath.Join(dir, "coords.yaml"), spool: filepath.Join(dir, "spool")}
	yaml := desk.CoordsYAML(r.spool) + fmt.Sprintf(`lock_file: %q
scan_interval: 200ms
defaults:
  ack_timeout: 5s
  backoff: 100ms
`, filepath.Join(dir, "desktop.lock"))
	if err := os.WriteFile(r.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *desktopRig) cli(args ...string) (string, string, int) {
	return runIn(r.t, r.desk.Env(), append([]string{"--config", r.config}, args...)...)
}

// xdo runs xdotool on the rig's desktop: the person at the keyboard.
func (r *desktopRig) xdo(args ...string) {
	r.t.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = r.desk.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("xdotool %v: %v %s", args, err, out)
	}
}

// start runs the daemon; it is stopped (SIGTERM, then SIGKILL) at cleanup.
func (r *desktopRig) start() *exec.Cmd {
	r.t.Helper()
	log := filepath.Join(r.t.TempDir(), fmt.Sprintf("daemon-%d.log", len(r.logs)))
	f, err := os.Create(log)
	if err != nil {
		r.t.Fatal(err)
	}
	r.logs = append(r.logs, log)
	cmd := exec.Command(binary, "--config", r.config, "run", "--log-level", "debug")
	cmd.Env = r.desk.Env()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	f.Close()
	r.t.Cleanup(func() { stopProcess(cmd) })
	return cmd
}

func stopProcess(cmd *exec.Cmd) error {
	if cmd.ProcessState != nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("pid %d ignored SIGTERM for 5s", cmd.Process.Pid)
	}
}

func (r *desktopRig) logText() string {
	var b strings.Builder
	for _, l := range r.logs {
		data, _ := os.ReadFile(l)
		b.Write(data)
	}
	return b.String()
}

func (r *desktopRig) count(st spool.State) int {
	sp, err := spool.Open(r.spool)
	if err != nil {
		r.t.Fatal(err)
	}
	es, err := sp.Scan(st, "")
	if err != nil {
		r.t.Fatal(err)
	}
	return len(es)
}

func (r *desktopRig) waitDone(n int, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for r.count(spool.StateDone) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d in done/ after %v\ndaemon logs:\n%s", r.count(spool.StateDone), n, within, tailString(r.logText(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

var envelopeID = regexp.MustCompile(`^\[agentspool id=(\S+) from=(\S+) to=(\S+)\]\n`)

// checkDelivered asserts every sent message was submitted exactly once, to
// its own window, with exactly its text, and nothing else was submitted.
func (r *desktopRig) checkDelivered(sent map[string]string, agentOf map[string]string) {
	r.t.Helper()
	seen := map[string]int{}
	for _, a := range r.desk.Agents {
		subs, err := r.desk.Submits(a.Name)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, s := range subs {
			m := envelopeID.FindStringSubmatch(s)
			if m == nil {
				r.t.Errorf("%s: a submit without an envelope (empty or spliced): %q", a.Name, s)
				continue
			}
			id := m[1]
			seen[id]++
			if agentOf[id] != a.Name || m[3] != a.Name {
				r.t.Errorf("MISROUTE: %s (for %s) submitted in %s", id, agentOf[id], a.Name)
			}
			if body := strings.TrimPrefix(s, m[0]); body != sent[id] {
				r.t.Errorf("GARBLED: %s: %q, want %q", id, body, sent[id])
			}
		}
	}
	for id := range sent {
		switch seen[id] {
		case 1:
		case 0:
			r.t.Errorf("LOST: %s was never submitted", id)
		default:
			r.t.Errorf("DUPLICATE: %s submitted %d times", id, seen[id])
		}
	}
}

func (r *desktopRig) sendMany(n int, sent, agentOf map[string]string) {
	r.t.Helper()
	for i := 0; i < n; i++ {
		a := r.desk.Agents[i%len(r.desk.Agents)].Name
		body := fmt.Sprintf("message %d for %s\nsecond line ünïcödé ✓", i, a)
		out, errs, code := r.cli("send", "--to", a, "-m", body)
		if code != 0 {
			r.t.Fatalf("send: exit %d: %s", code, errs)
		}
		id := strings.TrimSpace(out)
		sent[id], agentOf[id] = body, a
	}
}

func TestRunDeliversOnTheDesktop(t *testing.T) {
	r := newDesktopRig(t, 4, desktoptest.FixtureOptions{})
	const userClip = "what the person copied"
	if err := r.desk.SetClipboard(userClip); err != nil {
		t.Fatal(err)
	}
	sent, agentOf := map[string]string{}, map[string]string{}
	r.sendMany(20, sent, agentOf) // queued before the daemon starts
	d := r.start()
	r.sendMany(20, sent, agentOf) // and while it runs
	r.waitDone(40, 60*time.Second)
	r.checkDelivered(sent, agentOf)
	if got, _ := r.desk.Clipboard(); got != userClip {
		t.Errorf("clipboard after the run = %q, want %q", got, userClip)
	}
	out, _, code := r.cli("status")
	if code != 0 || !strings.Contains(out, "Agent-1") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	// A second daemon on the same spool refuses to start.
	_, errs, code := r.cli("run")
	if code != 1 || !strings.Contains(errs, "already running") {
		t.Errorf("second daemon: exit %d, stderr %q", code, errs)
	}
	if err := stopProcess(d); err != nil {
		t.Fatalf("daemon did not exit 0 on SIGTERM: %v\n%s", err, tailString(r.logText(), 3000))
	}
	if n := r.count(spool.StateCur); n != 0 {
		t.Errorf("%d messages left in cur/ after a clean stop", n)
	}
}

// kill -9 in the middle of a run, then start again: every message ends in
// done/ exactly once, and no message is pasted twice.
func TestRunSurvivesKill9(t *testing.T) {
	r := newDesktopRig(t, 4, desktoptest.FixtureOptions{AckDelay: 30 * time.Millisecond})
	sent, agentOf := map[string]string{}, map[string]string{}
	r.sendMany(120, sent, agentOf)
	d := r.start()
	r.waitDone(40, 60*time.Second)
	if err := d.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	t.Logf("killed at %d done, %d in cur/", r.count(spool.StateDone), r.count(spool.StateCur))
	r.start()
	r.waitDone(120, 120*time.Second)
	r.checkDelivered(sent, agentOf)
	for _, st := range []spool.State{spool.StateNew, spool.StateCur, spool.StateFailed, spool.StateHold} {
		if n := r.count(st); n != 0 {
			t.Errorf("%d messages in %s/", n, st)
		}
	}
}

func TestRunWithoutDisplayIsAClearError(t *testing.T) {
	f := newFixture(t)
	cmd := exec.Command(binary, "--config", f.config, "run")
	cmd.Env = append(os.Environ(), "DISPLAY=")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "DISPLAY is not set") {
		t.Fatalf("run without DISPLAY: %v\n%s", err, out)
	}
}
