package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

// The --wait tests play the daemon themselves: they move the queued file
// through the spool (claim, mark submitted, ack, done/failed/hold) from the
// test process while `agentspool send --wait` follows it from its own.

// start runs agentspool like f.run, but returns at once; the result comes
// on the channel.
func (f *fixture) start(args ...string) <-chan result {
	f.t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", f.config}, args...)...)
	cmd.Dir = f.dir
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	ch := make(chan result, 1)
	go func() {
		err := cmd.Wait()
		r := result{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		ch <- r
	}()
	return ch
}

// fakeDaemon is the test's hand on the spool.
type fakeDaemon struct {
	t   testing.TB
	sp  *spool.Spool
	cfg *config.Config
}

func (f *fixture) fakeDaemon() *fakeDaemon {
	cfg, err := config.Load(f.config)
	if err != nil {
		f.t.Fatal(err)
	}
	sp, err := spool.Open(f.spool)
	if err != nil {
		f.t.Fatal(err)
	}
	return &fakeDaemon{t: f.t, sp: sp, cfg: cfg}
}

// claim waits for id in new/ and moves it to cur/.
func (d *fakeDaemon) claim(id string) spool.Entry {
	d.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		es, err := d.sp.Find(id)
		if err != nil {
			d.t.Fatal(err)
		}
		if len(es) == 1 && es[0].State == spool.StateNew {
			c, err := d.sp.Claim(es[0])
			if err != nil {
				d.t.Fatal(err)
			}
			return c
		}
	}
	d.t.Fatalf("%s never appeared in new/", id)
	return spool.Entry{}
}

// submit claims id and marks it submitted, as the daemon does before the
// desktop lock is released.
func (d *fakeDaemon) submit(id string) spool.Entry {
	d.t.Helper()
	e, err := d.sp.Mark(d.claim(id), false, time.Now())
	if err != nil {
		d.t.Fatal(err)
	}
	return e
}

// ackAndDone writes the recipient's ack, then moves e to done/.
func (d *fakeDaemon) ackAndDone(e spool.Entry) {
	d.t.Helper()
	a, _ := d.cfg.Agent(e.Agent)
	if err := os.MkdirAll(a.Inbox, 0o700); err != nil {
		d.t.Fatal(err)
	}
	if _, err := confirm.WriteAck(a.Inbox, e.ID); err != nil {
		d.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // long enough for send to see "submitted"
	if _, err := d.sp.Done(e); err != nil {
		d.t.Fatal(err)
	}
}

func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	if g := strings.Split(strings.TrimRight(got, "\n"), "\n"); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestSendWaitDone(t *testing.T) {
	f := newFixture(t)
	d := f.fakeDaemon()
	res := f.start("send", "--to", "Agent-1", "--id", "w-done", "--wait=10s", "-m", "hello")
	d.ackAndDone(d.submit("w-done"))
	r := <-res
	r.want(t, 0)
	wantLines(t, r.stdout, "w-done\tAgent-1\tdone")
}

func TestSendWaitFailed(t *testing.T) {
	f := newFixture(t)
	d := f.fakeDaemon()
	res := f.start("send", "--to", "Agent-2", "--id", "w-fail", "--wait=10s", "-m", "hello")
	if _, err := d.sp.Fail(d.submit("w-fail"), "no ack from Agent-2 within 30s, after 3 attempts"); err != nil {
		t.Fatal(err)
	}
	r := <-res
	r.want(t, 1).contains(t, "stderr", "w-fail to Agent-2 failed: no ack from Agent-2 within 30s, after 3 attempts")
	wantLines(t, r.stdout, "w-fail\tAgent-2\tfailed")
}

func TestSendWaitHeld(t *testing.T) {
	f := newFixture(t)
	d := f.fakeDaemon()
	// The message is parked itself...
	res := f.start("send", "--to", "Agent-1", "--id", "w-held", "--wait=10s", "-m", "hello")
	if _, err := d.sp.Hold(d.claim("w-held"), "focus mismatch 3 times in a row"); err != nil {
		t.Fatal(err)
	}
	r := <-res
	r.want(t, 1).contains(t, "stderr", "w-held to Agent-1 held: focus mismatch 3 times in a row")
	wantLines(t, r.stdout, "w-held\tAgent-1\theld")

	// ...or queued behind an agent's hold: it will not move either.
	if err := d.sp.HoldAgent("Agent-1", "paused by an operator"); err != nil {
		t.Fatal(err)
	}
	r = f.run(nil, "send", "--to", "Agent-1", "--id", "w-behind", "--wait=10s", "-m", "hello")
	r.want(t, 1).contains(t, "stderr", "w-behind to Agent-1 held: the agent's queue is held: paused by an operator")
}

func TestSendWaitTimeout(t *testing.T) {
	f := newFixture(t)
	d := f.fakeDaemon()
	// No daemon at all.
	start := time.Now()
	r := f.run(nil, "send", "--to", "Agent-1", "--id", "w-queued", "--wait=300ms", "-m", "hello")
	r.want(t, 1).contains(t, "stderr", "w-queued to Agent-1 still queued after 300ms")
	wantLines(t, r.stdout, "w-queued\tAgent-1\twaiting")
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("returned after %v, before the wait ended", el)
	}
	// Submitted, never acked.
	res := f.start("send", "--to", "Agent-2", "--id", "w-noack", "--wait=1s", "-m", "hello")
	d.submit("w-noack")
	r = <-res
	r.want(t, 1).contains(t, "stderr", "w-noack to Agent-2 still awaiting ack after 1s")
}

func TestSendWaitBroadcast(t *testing.T) {
	f := newFixture(t)
	d := f.fakeDaemon()
	res := f.start("send", "--broadcast", "--id", "bc", "--wait=10s", "-m", "to all")
	d.ackAndDone(d.submit("bc-Agent-1"))
	d.ackAndDone(d.submit("bc-Agent-2"))
	if _, err := d.sp.Fail(d.submit("bc-Agent-3"), "the desktop refused 20 times"); err != nil {
		t.Fatal(err)
	}
	r := <-res
	r.want(t, 1).contains(t, "stderr", "bc-Agent-3 to Agent-3 failed: the desktop refused 20 times")
	if strings.Contains(r.stderr, "bc-Agent-1") || strings.Contains(r.stderr, "bc-Agent-2") {
		t.Errorf("stderr names a delivered copy: %q", r.stderr)
	}
	wantLines(t, r.stdout, "bc-Agent-1\tAgent-1\tdone", "bc-Agent-2\tAgent-2\tdone", "bc-Agent-3\tAgent-3\tfailed")

	// All done: exit 0, one line per agent.
	res = f.start("send", "--broadcast", "--id", "bc2", "--wait", "-m", "to all")
	for _, a := range []string{"Agent-1", "Agent-2", "Agent-3"} {
		d.ackAndDone(d.submit("bc2-" + a))
	}
	r = <-res
	r.want(t, 0)
	wantLines(t, r.stdout, "bc2-Agent-1\tAgent-1\tdone", "bc2-Agent-2\tAgent-2\tdone", "bc2-Agent-3\tAgent-3\tdone")
}

func TestSendWaitUsage(t *testing.T) {
	f := newFixture(t)
	f.run(nil, "send", "--to", "Agent-1", "--wait=soon", "-m", "x").want(t, 2).contains(t, "stderr", "want a duration")
	f.run(nil, "send", "--to", "Agent-1", "--wait=-1s", "-m", "x").want(t, 2)
	// --wait=false is no wait: the id alone, at once.
	r := f.run(nil, "send", "--to", "Agent-1", "--id", "nw", "--wait=false", "-m", "x").want(t, 0)
	wantLines(t, r.stdout, "nw")
}

// syncBuf is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSendWaitShowsEachStage: on a terminal, each stage is a line as it
// is reached (followSent in process, with a buffer as the terminal).
func TestSendWaitShowsEachStage(t *testing.T) {
	f := newFixture(t)
	d := f.fakeDaemon()
	queued := time.Now()
	f.run(nil, "send", "--to", "Agent-1", "--id", "st", "-m", "hello").want(t, 0)
	var progress, out syncBuf
	done := make(chan error, 1)
	go func() {
		done <- followSent(d.sp, d.cfg, []string{"Agent-1"}, []string{"st"}, queued, 10*time.Second, time.Now, &out, &progress)
	}()
	seen := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(progress.String(), s); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("progress never showed %q:\n%s", s, progress.String())
			}
		}
	}
	seen("st\tAgent-1\tqueued")
	c := d.claim("st")
	seen("st\tAgent-1\tdelivering")
	m, err := d.sp.Mark(c, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	seen("st\tAgent-1\tsubmitted")
	d.ackAndDone(m)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantLines(t, progress.String(), "st\tAgent-1\tqueued", "st\tAgent-1\tdelivering", "st\tAgent-1\tsubmitted", "st\tAgent-1\tacked")
	wantLines(t, out.String(), "st\tAgent-1\tdone")
}
