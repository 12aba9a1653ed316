package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/test/desktoptest"
)

func TestCoordsOnTheDesktop(t *testing.T) {
	r := newDesktopRig(t, 3, desktoptest.FixtureOptions{})
	env := r.desk.Env()
	a2 := r.desk.Agents[1]

	t.Run("check", func(t *testing.T) {
		out, errs, code := runIn(t, env, "--config", r.config, "coords", "check", "--click")
		if code != 0 || strings.Count(out, "\nok") < 5 {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		if !strings.Contains(out, `ok    Agent-2 click  focused "Agent-2"`) {
			t.Errorf("no click line for Agent-2:\n%s", out)
		}
	})

	t.Run("capture", func(t *testing.T) {
		// A commented config where Agent-2 is stale and Agent-9 is new.
		cfg := filepath.Join(t.TempDir(), "coords.yaml")
		orig := "# my desk\nspool: " + strconv.Quote(r.spool) + "\n\nagents:\n  # the second one\n  Agent-2:\n    x: 1\n    y: 1 # stale\n    window: \"old title\"\n    ack: false\n"
		os.WriteFile(cfg, []byte(orig), 0o640)
		xdo := func(args ...string) {
			cmd := exec.Command("xdotool", args...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("xdotool %v: %v %s", args, err, out)
			}
		}
		xdo("mousemove", strconv.Itoa(a2.X), strconv.Itoa(a2.Y), "click", "1")
		out, errs, code := runIn(t, env, "--config", cfg, "coords", "capture", "Agent-2", "--countdown", "300ms")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		ed, _ := r.desk.StartEditor("Editor-9")
		xdo("mousemove", strconv.Itoa(ed.X), strconv.Itoa(ed.Y), "click", "1")
		if _, errs, code := runIn(t, env, "--config", cfg, "coords", "capture", "Agent-9", "--countdown", "0s", "--window", "Editor"); code != 0 {
			t.Fatalf("exit %d %s", code, errs)
		}
		data, _ := os.ReadFile(cfg)
		c, err := config.Parse(data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := c.Agent("Agent-2"); a == nil || a.X != a2.X || a.Y != a2.Y || a.Window != "Agent-2" || a.Ack {
			t.Errorf("Agent-2 = %+v, want (%d, %d) \"Agent-2\" ack off", a, a2.X, a2.Y)
		}
		if a, _ := c.Agent("Agent-9"); a == nil || a.X != ed.X || a.Y != ed.Y || a.Window != "Editor" {
			t.Errorf("Agent-9 = %+v, want (%d, %d) \"Editor\"", a, ed.X, ed.Y)
		}
		for _, keep := range []string{"# my desk\n", "\n\nagents:\n  # the second one\n", " # stale\n"} {
			if !strings.Contains(string(data), keep) {
				t.Errorf("lost %q:\n%s", keep, data)
			}
		}
		if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
		}
		// Nothing focused with a title: a clear error, the file untouched.
		xdo("mousemove", "1590", "890", "click", "1")
		before, _ := os.ReadFile(cfg)
		if _, errs, code := runIn(t, env, "--config", cfg, "coords", "capture", "Agent-3", "--countdown", "0s"); code == 0 {
			after, _ := os.ReadFile(cfg)
			t.Logf("capture on the bare root: %s\n%s", errs, after)
		} else if after, _ := os.ReadFile(cfg); string(after) != string(before) {
			t.Errorf("failed capture changed the file")
		}
	})

	t.Run("check fails", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "coords.yaml")
		text := "spool: " + strconv.Quote(r.spool) + "\nagents:\n" +
			"  Agent-1: {x: " + strconv.Itoa(r.desk.Agents[0].X) + ", y: " + strconv.Itoa(r.desk.Agents[0].Y) + ", window: Agent-1}\n" +
			"  Moved: {x: " + strconv.Itoa(a2.X) + ", y: " + strconv.Itoa(a2.Y) + ", window: Agent-3}\n" +
			"  OffScreen: {x: -1269, y: 496, window: Agent-1}\n" +
			"  Gone: {x: 10, y: 10, window: Nobody}\n"
		os.WriteFile(cfg, []byte(text), 0o600)
		out, errs, code := runIn(t, env, "--config", cfg, "coords", "check", "--click")
		if code != 1 || !strings.Contains(errs, "4 checks failed") {
			t.Errorf("exit %d %s\n%s", code, errs, out)
		}
		for _, want := range []string{"ok    Agent-1 ", "FAIL  Moved          point (", "is outside its window \"Agent-3\"",
			"FAIL  OffScreen      point (-1269, 496) is on no screen", "no negative coordinates",
			"FAIL  Gone           no window matches window: \"Nobody\"", "FAIL  Moved click    after the click the focus is on \"Agent-2\""} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q:\n%s", want, out)
			}
		}
	})
}

func TestCoordsImport(t *testing.T) {
	f := newFixture(t)
	sample, _ := filepath.Abs("testdata/cursor_agent_coords.json")

	r := f.run(nil, "coords", "import", sample)
	if r.code != 0 {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "  Agent-1:\n    x: -1269\n    y: 496\n") || !strings.Contains(r.stdout, "  Agent-10:\n    x: 3360\n    y: 2060\n    window: \"Agent-10\"\n") {
		t.Errorf("dry run output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "negative coordinates") || !strings.Contains(r.stderr, "Agent-10 got their own name") {
		t.Errorf("notes:\n%s", r.stderr)
	}
	before, _ := os.ReadFile(f.config)

	r = f.run(nil, "coords", "import", sample, "--write")
	if r.code != 0 {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(f.config)
	c, err := config.Parse(data, f.config)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]string{
		"Agent-1":  {"-1269", "496", "Agent-1"},         // kept its window
		"Agent-2":  {"1440", "980", "Agent-2 — Cursor"}, // the old file's title
		"Agent-3":  {"2400", "980", "Agent-3"},
		"Agent-10": {"3360", "2060", "Agent-10"}, // new: its name
	}
	for name, w := range want {
		a, ok := c.Agent(name)
		if !ok || strconv.Itoa(a.X) != w[0] || strconv.Itoa(a.Y) != w[1] || a.Window != w[2] {
			t.Errorf("%s = %+v, want %v", name, a, w)
		}
	}
	if a, _ := c.Agent("Agent-3"); a.Inbox != filepath.Join(f.dir, "elsewhere", "a3") {
		t.Errorf("Agent-3 lost its inbox: %q", a.Inbox)
	}
	if !strings.HasPrefix(string(data), string(before[:strings.Index(string(before), "agents:")])) {
		t.Errorf("the file's head changed:\n%s", data)
	}

	for _, bad := range []string{`{"agents": {"Agent-1": {"chat_input_coordinates": [1]}}}`, `nope`} {
		p := filepath.Join(f.dir, "bad.json")
		os.WriteFile(p, []byte(bad), 0o600)
		if r := f.run(nil, "coords", "import", p, "--write"); r.code != 1 {
			t.Errorf("%s: exit %d", bad, r.code)
		}
	}
	if r := f.run(nil, "coords", "import"); r.code != 2 {
		t.Errorf("no file: exit %d", r.code)
	}
	if after, _ := os.ReadFile(f.config); string(after) != string(data) {
		t.Error("a failed import changed the config")
	}
}
