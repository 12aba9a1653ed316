package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// binary is the agentspool built once by TestMain; the tests run it as a
// user would.
var binary string

func TestMain(m *testing.M) {
	desktoptest.MainWithAgentspool(m, &binary, "-ldflags", "-X main.version=test-1.0")
}

// fixture is a temp dir with a coords.yaml, its spool and its inboxes.
type fixture struct {
	t      testing.TB
	dir    string
	config string
	spool  string
	inbox  string // inbox_root
}

const testAgents = `agents:
  Agent-1: {x: 10, y: 20, window: "Agent-1"}
  Agent-2: {x: 30, y: 20, window: "Agent-2"}
  Agent-3:
    x: 50
    y: 20
    window: "Agent-3"
    inbox: ./elsewhere/a3
`

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, config: filepath.Join(dir, "coords.yaml"),
		spool: filepath.Join(dir, "spool"), inbox: filepath.Join(dir, "inboxes")}
	f.writeConfig(fmt.Sprintf("spool: %s\ninbox_root: %s\n%s", f.spool, f.inbox, testAgents))
	return f
}

func (f *fixture) writeConfig(text string) {
	f.t.Helper()
	if err := os.WriteFile(f.config, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs agentspool with --config first, in the fixture's dir, with
// stdin as given (nil: /dev/null, a character device, like a terminal).
func (f *fixture) run(stdin []byte, args ...string) result {
	f.t.Helper()
	return f.runRaw(stdin, append([]string{"--config", f.config}, args...)...)
}

// runRaw runs agentspool with exactly args.
func (f *fixture) runRaw(stdin []byte, args ...string) result {
	f.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = f.dir
	cmd.Env = cleanEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			f.t.Fatalf("agentspool %q: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "internal error") {
		f.t.Fatalf("agentspool %q panicked: %s", args, r.stderr)
	}
	return r
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTSPOOL_") {
			env = append(env, kv)
		}
	}
	return env
}

// want checks the exit code and that stderr is empty on success, or one
// line with the agentspool: prefix on failure.
func (r result) want(t testing.TB, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	switch code {
	case 0:
		if r.stderr != "" {
			t.Errorf("stderr on success: %q", r.stderr)
		}
	case 1:
		if !strings.HasPrefix(r.stderr, "agentspool: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("stderr is not one agentspool: line: %q", r.stderr)
		}
	case 2:
		if !strings.HasPrefix(r.stderr, "agentspool: ") || !strings.Contains(r.stderr, "Usage:") {
			t.Errorf("usage error without usage: %q", r.stderr)
		}
	}
	return r
}

func (r result) contains(t testing.TB, where, s string) result {
	t.Helper()
	text := r.stdout
	if where == "stderr" {
		text = r.stderr
	}
	if !strings.Contains(text, s) {
		t.Errorf("%s does not contain %q:\n%s", where, s, text)
	}
	return r
}

// lines is stdout's lines.
func (r result) lines() []string {
	return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
}

// open opens the fixture's spool with the package, as the daemon would.
func (f *fixture) open() *spool.Spool {
	f.t.Helper()
	sp, err := spool.Open(f.spool)
	if err != nil {
		f.t.Fatal(err)
	}
	return sp
}

// scan is the entries in state (all agents).
func (f *fixture) scan(st spool.State) []spool.Entry {
	f.t.Helper()
	es, err := f.open().Scan(st, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

// files counts regular files under the spool (any state, and tmp/).
func (f *fixture) files() int {
	f.t.Helper()
	n := 0
	filepath.WalkDir(f.spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// entry is the one message with id.
func (f *fixture) entry(id string) spool.Entry {
	f.t.Helper()
	es, err := f.open().Find(id)
	if err != nil || len(es) != 1 {
		f.t.Fatalf("Find(%s) = %v, %v; want one entry", id, es, err)
	}
	return es[0]
}

// send queues body for agent with the CLI and returns the id printed.
func (f *fixture) send(agent, body string, args ...string) string {
	f.t.Helper()
	r := f.run(nil, append([]string{"send", "--to", agent, "-m", body}, args...)...).want(f.t, 0)
	return strings.TrimSpace(r.stdout)
}
