package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/spool"
)

func TestHelp(t *testing.T) {
	f := newFixture(t)
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		r := f.runRaw(nil, args...).want(t, 0)
		for name := range commands {
			r.contains(t, "stdout", "\n  "+name+" ")
		}
		for name, c := range commands {
			if c.run == nil { // listed, not built yet
				r.contains(t, "stdout", "see: agentspool "+name+" --help")
			}
		}
	}
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			r := f.runRaw(nil, name, "--help").want(t, 0)
			r.contains(t, "stdout", "Usage: agentspool "+name)
			r.contains(t, "stdout", "Example")
			if h := f.runRaw(nil, "help", name).want(t, 0); h.stdout != r.stdout {
				t.Errorf("help %s differs from %s --help", name, name)
			}
			// --help wins even without a config.
			f.runRaw(nil, "--config", filepath.Join(f.dir, "none.yaml"), name, "-h").want(t, 0)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	f.runRaw(nil).want(t, 2).contains(t, "stderr", "no command")
	f.runRaw(nil, "frobnicate").want(t, 2).contains(t, "stderr", `unknown command "frobnicate"`)
	f.runRaw(nil, "--bogus", "list").want(t, 2)
	f.runRaw(nil, "help", "frobnicate").want(t, 2)
	f.run(nil, "list", "--state", "sent").want(t, 2).contains(t, "stderr", "new, cur, done, failed, hold")
	f.run(nil, "list", "extra").want(t, 2).contains(t, "stderr", "Usage: agentspool list")
	f.run(nil, "show").want(t, 2).contains(t, "stderr", "missing argument")
	f.run(nil, "retry").want(t, 2)
	f.run(nil, "retry", "--all", "x").want(t, 2)
	f.run(nil, "hold").want(t, 2)
	f.run(nil, "ack").want(t, 2)
	f.run(nil, "status", "--jsn").want(t, 2).contains(t, "stderr", "jsn")
}

func TestVersion(t *testing.T) {
	f := newFixture(t)
	if r := f.runRaw(nil, "version").want(t, 0); r.stdout != "agentspool test-1.0\n" {
		t.Errorf("version printed %q", r.stdout)
	}
	f.runRaw(nil, "--version").want(t, 0).contains(t, "stdout", "test-1.0")
}

func TestBadConfig(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("spool: " + f.spool + "\nagents:\n  Agent-1: {x: 1, y: 2, window: w, colour: red}\n  Agent-2: {x: 3, y: 4, window: w}\nbogus: 1\n")
	for _, cmd := range [][]string{{"send", "--to", "Agent-1", "-m", "x"}, {"status"}, {"list"}, {"ack", "x"}} {
		r := f.run(nil, cmd...).want(t, 1)
		r.contains(t, "stderr", "coords.yaml:3").contains(t, "stderr", "coords.yaml:5")
	}
	// A missing config named explicitly is an error too.
	f.runRaw(nil, "--config", filepath.Join(f.dir, "nope.yaml"), "status").want(t, 1).contains(t, "stderr", "nope.yaml")
	f.runRaw(nil, "--config", filepath.Join(f.dir, "nope.yaml"), "list").want(t, 1)
}

// Without a config, the inspection commands read --spool (or ./spool).
func TestNoConfigFallback(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "hi", "--id", "m1")
	os.Remove(f.config)
	f.runRaw(nil, "--spool", f.spool, "list").want(t, 0).contains(t, "stdout", "m1")
	f.runRaw(nil, "list", "--spool", f.spool, "--json").want(t, 0).contains(t, "stdout", `"m1"`)
	f.runRaw(nil, "show", "m1", "--spool", f.spool).want(t, 0).contains(t, "stdout", "hi")
	f.runRaw(nil, "list").want(t, 0).contains(t, "stdout", "m1") // ./spool in the fixture dir
	f.runRaw(nil, "hold", "Agent-1").want(t, 0).contains(t, "stdout", "m1")
	f.runRaw(nil, "release", "m1").want(t, 0)
	// The commands that must know the agents refuse.
	f.runRaw(nil, "send", "--to", "Agent-1", "-m", "x").want(t, 1).contains(t, "stderr", "coords.yaml")
	f.runRaw(nil, "status").want(t, 1)
	// And no spool is made up where there is none.
	empty := t.TempDir()
	r := f.runRaw(nil, "--spool", filepath.Join(empty, "spool"), "list").want(t, 1)
	r.contains(t, "stderr", "no spool")
	if _, err := os.Stat(filepath.Join(empty, "spool")); err == nil {
		t.Error("list created a spool")
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "one", "--id", "s1")
	f.send("Agent-1", "two", "--id", "s2")
	f.send("Agent-2", "three", "--id", "s3")
	sp := f.open()
	if _, err := sp.Fail(f.entry("s3"), "test failure"); err != nil {
		t.Fatal(err)
	}
	// An agent directory that is not in the config.
	if err := sp.EnsureAgent("Stray"); err != nil {
		t.Fatal(err)
	}

	r := f.run(nil, "status").want(t, 0)
	r.contains(t, "stdout", "daemon: not running")
	lines := r.lines()
	if len(lines) < 5 || !strings.HasPrefix(lines[1], "AGENT") {
		t.Fatalf("status table:\n%s", r.stdout)
	}
	// Columns are aligned: every row's NEW count starts under "NEW".
	col := strings.Index(lines[1], "NEW")
	for _, l := range lines[2:5] {
		fields := strings.Fields(l)
		if len(l) <= col || l[col] == ' ' {
			t.Errorf("row %q not aligned with the header", l)
		}
		switch fields[0] {
		case "Agent-1":
			if fields[1] != "2" || fields[4] != "0" {
				t.Errorf("Agent-1 row %q", l)
			}
		case "Agent-2":
			if fields[1] != "0" || fields[4] != "1" || fields[6] != "-" {
				t.Errorf("Agent-2 row %q", l)
			}
		}
	}
	r.contains(t, "stdout", "Stray *")

	var rows []agentStatus
	r = f.run(nil, "status", "--json").want(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	names := []string{}
	for _, row := range rows {
		names = append(names, row.Agent)
	}
	if !slices.Equal(names, []string{"Agent-1", "Agent-2", "Agent-3", "Stray"}) {
		t.Fatalf("agents %v", names)
	}
	if a := rows[0]; a.New != 2 || a.OldestQueued == nil || a.OldestAge < 0 || a.Daemon != "not running" || !a.Configured {
		t.Errorf("Agent-1: %+v", a)
	}
	if a := rows[1]; a.Failed != 1 || a.New != 0 || a.OldestQueued != nil {
		t.Errorf("Agent-2: %+v", a)
	}
	if rows[3].Configured {
		t.Error("Stray is not configured")
	}

	// A daemon status file with a live pid (ours) shows the states.
	writeStatus := func(pid int) {
		b, _ := json.Marshal(map[string]any{"pid": pid, "started": time.Now().Add(-time.Hour), "updated": time.Now(), "running": true,
			"agents": map[string]any{"Agent-1": map[string]string{"state": "waiting ack", "detail": "s1 attempt 1"}}})
		os.WriteFile(filepath.Join(f.spool, "status.json"), b, 0o600)
	}
	writeStatus(os.Getpid())
	r = f.run(nil, "status").want(t, 0)
	r.contains(t, "stdout", fmt.Sprintf("daemon: running (pid %d", os.Getpid()))
	r.contains(t, "stdout", "waiting ack").contains(t, "stdout", "s1 attempt 1")
	// The daemon's own alerts in force.
	b, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "started": time.Now(), "updated": time.Now(), "running": true,
		"agents": map[string]any{}, "alerts": []map[string]any{{"name": "AgentspoolAgentHeld", "agent": "Agent-1", "value": 1, "threshold": 0, "since": time.Now()}}})
	os.WriteFile(filepath.Join(f.spool, "status.json"), b, 0o600)
	f.run(nil, "status").want(t, 0).contains(t, "stdout", "alert: AgentspoolAgentHeld Agent-1: 1 > 0 since ")
	writeStatus(os.Getpid())
	r = f.run(nil, "status", "--json").want(t, 0)
	json.Unmarshal([]byte(r.stdout), &rows)
	if rows[0].State != "waiting ack" || rows[0].Daemon != "running" {
		t.Errorf("with a daemon: %+v", rows[0])
	}
	// A pid that is gone: not running.
	writeStatus(1 << 30)
	f.run(nil, "status").want(t, 0).contains(t, "stdout", "daemon: not running")
	// A status file that does not say whether the daemon runs: the pid
	// tells; one that says it stopped is believed.
	for _, c := range []struct {
		running any
		want    string
	}{{nil, "daemon: running (pid"}, {false, "daemon: not running (pid"}} {
		m := map[string]any{"pid": os.Getpid(), "started": time.Now(), "updated": time.Now(), "agents": map[string]any{}}
		if c.running != nil {
			m["running"] = c.running
		}
		b, _ := json.Marshal(m)
		os.WriteFile(filepath.Join(f.spool, "status.json"), b, 0o600)
		f.run(nil, "status").want(t, 0).contains(t, "stdout", c.want)
	}
	// A garbled status file does not break status.
	os.WriteFile(filepath.Join(f.spool, "status.json"), []byte("{garbage"), 0o600)
	f.run(nil, "status").want(t, 0).contains(t, "stdout", "daemon: not running")
}

func TestList(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "a", "--id", "l1")
	f.send("Agent-1", "b", "--id", "l2", "--priority", "urgent")
	f.send("Agent-2", "c", "--id", "l3")
	if _, err := f.open().Hold(f.entry("l3"), "test"); err != nil {
		t.Fatal(err)
	}

	ids := func(r result) []string {
		var out []string
		for _, l := range r.lines()[1:] {
			out = append(out, strings.Fields(l)[2])
		}
		return out
	}
	r := f.run(nil, "list").want(t, 0)
	if got := ids(r); !slices.Equal(got, []string{"l2", "l1", "l3"}) { // urgent first, then hold/
		t.Errorf("list ids %v", got)
	}
	if !strings.HasPrefix(r.lines()[0], "STATE") || !strings.Contains(r.lines()[1], "urgent") {
		t.Errorf("list:\n%s", r.stdout)
	}
	if got := ids(f.run(nil, "list", "--state", "hold").want(t, 0)); !slices.Equal(got, []string{"l3"}) {
		t.Errorf("--state hold: %v", got)
	}
	if got := ids(f.run(nil, "list", "--agent", "Agent-1", "--state", "new").want(t, 0)); !slices.Equal(got, []string{"l2", "l1"}) {
		t.Errorf("--agent Agent-1: %v", got)
	}
	if r := f.run(nil, "list", "--state", "failed").want(t, 0); r.stdout != "" {
		t.Errorf("empty list printed %q", r.stdout)
	}

	var es []listEntry
	r = f.run(nil, "list", "--json", "--agent", "Agent-2").want(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != "l3" || es[0].State != "hold" || es[0].Path != f.open().Path(f.entry("l3")) {
		t.Errorf("list --json: %+v", es)
	}
	if r := f.run(nil, "list", "--json", "--state", "done").want(t, 0); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty --json: %q", r.stdout)
	}
}

func TestShow(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "short body", "--id", "sh1", "--from", "Agent-2")
	long := strings.Repeat("0123456789abcdef", 1024) + "TAIL"
	f.send("Agent-2", long, "--id", "sh2")
	if _, err := f.open().Fail(f.entry("sh2"), "focus mismatch: window \"x\""); err != nil {
		t.Fatal(err)
	}

	r := f.run(nil, "show", "sh1").want(t, 0)
	for _, s := range []string{"state:      new", "agent:      Agent-1", "from: Agent-2", "short body", f.open().Path(f.entry("sh1"))} {
		r.contains(t, "stdout", s)
	}
	r = f.run(nil, "show", "sh2").want(t, 0)
	r.contains(t, "stdout", "state:      failed").contains(t, "stdout", "focus mismatch").contains(t, "stdout", "body cut")
	if strings.Contains(r.stdout, "TAIL") {
		t.Error("show printed more than 4 KiB of body")
	}
	f.run(nil, "show", "nope").want(t, 1).contains(t, "stderr", "no message with id nope")

	// A hand-dropped file that is not UTF-8 shows, with the problem.
	dir := filepath.Join(f.spool, "new", "Agent-1")
	os.WriteFile(filepath.Join(dir, "bad.txt"), []byte("\xff\xfe\x1b[2J"), 0o600)
	r = f.run(nil, "show", "bad").want(t, 0)
	r.contains(t, "stdout", "problem:").contains(t, "stdout", `\xff`)
	if strings.Contains(r.stdout, "\x1b") {
		t.Error("show printed a raw escape character")
	}
}

func TestRetry(t *testing.T) {
	f := newFixture(t)
	sp := f.open()
	for _, id := range []string{"r1", "r2", "r3"} {
		agent := "Agent-1"
		if id == "r3" {
			agent = "Agent-2"
		}
		f.send(agent, "body "+id, "--id", id)
		if _, err := sp.Fail(f.entry(id), "no ack"); err != nil {
			t.Fatal(err)
		}
	}
	f.send("Agent-1", "queued", "--id", "q1")

	f.run(nil, "retry", "r1").want(t, 0).contains(t, "stdout", "r1\tAgent-1\tfailed -> new")
	if e := f.entry("r1"); e.State != spool.StateNew || e.Attempt != 0 {
		t.Errorf("r1 after retry: %+v", e)
	}
	if reason, _ := sp.Reason(f.entry("r1")); reason != "" {
		t.Errorf("reason left: %q", reason)
	}
	f.run(nil, "retry", "r1").want(t, 1).contains(t, "stderr", "new/Agent-1, not in failed/")
	f.run(nil, "retry", "nope").want(t, 1).contains(t, "stderr", "no message with id nope")
	f.run(nil, "retry", "r3", "--agent", "Agent-1").want(t, 1).contains(t, "stderr", "not for Agent-1")

	r := f.run(nil, "retry", "--all", "--agent", "Agent-1").want(t, 0)
	if len(r.lines()) != 1 || !strings.HasPrefix(r.stdout, "r2\t") {
		t.Errorf("retry --all --agent printed %q", r.stdout)
	}
	// Several ids, one bad: the good one moves, the error names the bad.
	r = f.run(nil, "retry", "r3", "nope").want(t, 1)
	r.contains(t, "stdout", "r3").contains(t, "stderr", "nope")
	f.run(nil, "retry", "--all").want(t, 0).contains(t, "stdout", "no failed messages")
	if n := len(f.scan(spool.StateNew)); n != 4 {
		t.Errorf("%d in new/, want 4", n)
	}
}

func TestHoldRelease(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "a", "--id", "h1")
	f.send("Agent-1", "b", "--id", "h2")
	f.send("Agent-2", "c", "--id", "h3")

	// An agent: all its queued messages.
	r := f.run(nil, "hold", "Agent-1").want(t, 0)
	if len(r.lines()) != 3 || !strings.Contains(r.stdout, "Agent-1: deliveries paused") || !strings.Contains(r.stdout, "h1\tAgent-1\tnew -> hold") {
		t.Errorf("hold Agent-1 printed %q", r.stdout)
	}
	sp := f.open()
	if _, held := sp.AgentHeld("Agent-1"); !held {
		t.Error("hold Agent-1 did not pause the agent")
	}
	for _, id := range []string{"h1", "h2"} {
		e := f.entry(id)
		reason, _ := sp.Reason(e)
		if e.State != spool.StateHold || !strings.Contains(reason, operatorHoldReason) {
			t.Errorf("%s: %+v reason %q", id, e, reason)
		}
	}
	if e := f.entry("h3"); e.State != spool.StateNew {
		t.Errorf("h3 moved: %+v", e)
	}
	f.run(nil, "hold", "Agent-1").want(t, 0).contains(t, "stdout", "nothing to hold")

	// An id.
	f.run(nil, "hold", "h3").want(t, 0).contains(t, "stdout", "h3\tAgent-2\tnew -> hold")
	f.run(nil, "hold", "h3").want(t, 1).contains(t, "stderr", "hold/Agent-2, not in new/")
	f.run(nil, "release", "h3").want(t, 0).contains(t, "stdout", "hold -> new")
	f.run(nil, "release", "h3").want(t, 1).contains(t, "stderr", "not in hold/")
	f.run(nil, "release", "nope").want(t, 1).contains(t, "stderr", "no message with id nope")

	// A message the daemon is delivering is not the operator's to hold.
	if _, err := sp.Claim(f.entry("h3")); err != nil {
		t.Fatal(err)
	}
	f.run(nil, "hold", "h3").want(t, 1).contains(t, "stderr", "cur/Agent-2")

	r = f.run(nil, "release", "Agent-1").want(t, 0)
	if len(r.lines()) != 3 || !strings.Contains(r.stdout, "deliveries resumed") {
		t.Errorf("release Agent-1 printed %q", r.stdout)
	}
	if _, held := sp.AgentHeld("Agent-1"); held {
		t.Error("release Agent-1 left the agent paused")
	}
	if n := len(f.scan(spool.StateHold)); n != 0 {
		t.Errorf("%d still held", n)
	}
	// An agent known only by its spool directory.
	f.open().EnsureAgent("Stray")
	f.run(nil, "hold", "Stray").want(t, 0).contains(t, "stdout", "nothing to hold")
}

func TestAck(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-2", "please ack", "--id", "a1")
	f.send("Agent-3", "please ack", "--id", "a3")

	want := filepath.Join(f.inbox, "Agent-2", "inbox", "a1.ack")
	r := f.run(nil, "ack", "a1").want(t, 0)
	if strings.TrimSpace(r.stdout) != want {
		t.Errorf("ack printed %q, want %q", r.stdout, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Errorf("ack file: %v", err)
	}
	// An agent with its own inbox.
	r = f.run(nil, "ack", "a3").want(t, 0)
	if p := strings.TrimSpace(r.stdout); p != filepath.Join(f.dir, "elsewhere", "a3", "a3.ack") {
		t.Errorf("Agent-3 ack at %q", p)
	}
	// Not in the spool: needs --agent.
	f.run(nil, "ack", "gone").want(t, 1).contains(t, "stderr", "--agent")
	r = f.run(nil, "ack", "gone", "--agent", "Agent-1").want(t, 0)
	if _, err := os.Stat(strings.TrimSpace(r.stdout)); err != nil || !strings.Contains(r.stdout, filepath.Join("Agent-1", "inbox")) {
		t.Errorf("ack --agent: %q %v", r.stdout, err)
	}
	f.run(nil, "ack", "a1", "--agent", "Agent-1").want(t, 1).contains(t, "stderr", "not for Agent-1")
	f.run(nil, "ack", "x", "--agent", "Agent-9").want(t, 1).contains(t, "stderr", "unknown agent")

	// A broadcast id names one message per agent: the base id is ambiguous
	// only if Find matches several.
	f.run(nil, "send", "--broadcast", "--id", "b", "-m", "x").want(t, 0)
	f.run(nil, "ack", "b-Agent-1").want(t, 0).contains(t, "stdout", "b-Agent-1.ack")
}

// BenchmarkSendProcess times one `agentspool send` process end to end,
// exec included: the goal is under 20 ms.
func BenchmarkSendProcess(b *testing.B) {
	f := newFixture(b)
	b.ResetTimer()
	for b.Loop() {
		f.run(nil, "send", "--to", "Agent-1", "-m", "benchmark message").want(b, 0)
	}
}

// The table is keyed by name, and every entry can be listed and helped.
func TestCommandTable(t *testing.T) {
	for key, c := range commands {
		if c.name != key || c.summary == "" || !strings.HasPrefix(c.usage, key) || !strings.Contains(c.help, "Example") {
			t.Errorf("commands[%q] = %+v", key, c)
		}
	}
}
