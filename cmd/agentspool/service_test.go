package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// fakeSystemctl puts a systemctl first in PATH that logs its arguments and
// either fails as systemctl does without a user manager (this container,
// CI) or succeeds. The tests never touch the developer's real user manager.
func fakeSystemctl(t *testing.T, reachable bool) (pathEnv, logFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "systemctl.log")
	script := "#!/bin/sh\necho \"$*\" >> " + logFile + "\n"
	if reachable {
		script += `case "$*" in *show*) printf 'LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n';; esac
exit 0
`
	} else {
		script += "echo 'Failed to connect to bus: No medium found' >&2\nexit 1\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + ":" + os.Getenv("PATH"), logFile
}

type serviceRig struct {
	*fixture
	home, xdg string
	env       []string
}

func newServiceRig(t *testing.T, reachable bool) (*serviceRig, string) {
	f := newFixture(t)
	r := &serviceRig{fixture: f, home: filepath.Join(f.dir, "home"), xdg: filepath.Join(f.dir, "xdg")}
	path, log := fakeSystemctl(t, reachable)
	for _, kv := range cleanEnv() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "PATH", "HOME", "XDG_CONFIG_HOME", "DISPLAY", "XAUTHORITY":
			continue
		}
		r.env = append(r.env, kv)
	}
	r.env = append(r.env, path, "HOME="+r.home, "XDG_CONFIG_HOME="+r.xdg, "DISPLAY=:42", "XAUTHORITY=/run/user/1000/xauth_ABC")
	return r, log
}

func (r *serviceRig) run(args ...string) result {
	r.t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", r.config}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func (r *serviceRig) unitPath() string {
	return filepath.Join(r.xdg, "systemd", "user", "agentspool.service")
}

func TestServiceInstallWithoutUserManager(t *testing.T) {
	r, log := newServiceRig(t, false)
	res := r.run("service", "install")
	if res.code != 1 {
		t.Fatalf("install without a user manager: exit %d, want 1\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"installed " + r.unitPath() + " but not enabled", "Failed to connect to bus",
		"systemctl --user daemon-reload && systemctl --user enable --now agentspool.service"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if strings.Count(res.stderr, "\n") != 1 {
		t.Errorf("want one line on stderr, got:\n%s", res.stderr)
	}
	unit, err := os.ReadFile(r.unitPath())
	if err != nil {
		t.Fatalf("the unit must be written even without a user manager: %v", err)
	}
	checkUnit(t, r, string(unit))
	verifyUnit(t, r.unitPath())
	if l, _ := os.ReadFile(log); !strings.Contains(string(l), "--user daemon-reload") {
		t.Errorf("systemctl calls: %q", l)
	}

	// status says it is installed but the manager cannot be asked.
	res = r.run("service", "status")
	if res.code != 1 || !strings.Contains(res.stdout, "installed ("+r.unitPath()) || !strings.Contains(res.stderr, "cannot ask the service manager") {
		t.Errorf("status: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = r.run("service", "start")
	if res.code != 1 || !strings.Contains(res.stderr, "Failed to connect to bus") {
		t.Errorf("start: exit %d\n%s", res.code, res.stderr)
	}

	// Installing again rewrites the unit (a moved config, say).
	if res := r.run("service", "install", "--display", ":7"); res.code != 1 {
		t.Fatalf("reinstall: exit %d %s", res.code, res.stderr)
	}
	if unit, _ := os.ReadFile(r.unitPath()); !strings.Contains(string(unit), `Environment="DISPLAY=:7"`) {
		t.Errorf("reinstall did not rewrite the unit:\n%s", unit)
	}

	res = r.run("service", "uninstall")
	if res.code != 0 {
		t.Fatalf("uninstall: exit %d %s", res.code, res.stderr)
	}
	assertNothingLeft(t, r)
	if res := r.run("service", "uninstall"); res.code != 1 || !strings.Contains(res.stderr, "not installed") {
		t.Errorf("second uninstall: exit %d %s", res.code, res.stderr)
	}
}

func TestServiceWithUserManager(t *testing.T) {
	r, log := newServiceRig(t, true)
	res := r.run("service", "install")
	if res.code != 0 {
		t.Fatalf("install: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "enabled") || !strings.Contains(res.stdout, "journalctl --user -u agentspool.service") {
		t.Errorf("install output:\n%s", res.stdout)
	}
	// systemctl enable makes this link; the fake does not, so make it to
	// see uninstall remove it.
	wants := filepath.Join(filepath.Dir(r.unitPath()), "default.target.wants")
	os.MkdirAll(wants, 0o755)
	if err := os.Symlink(r.unitPath(), filepath.Join(wants, "agentspool.service")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"start", "stop", "restart"} {
		if res := r.run("service", a); res.code != 0 {
			t.Errorf("%s: exit %d %s", a, res.code, res.stderr)
		}
	}
	res = r.run("service", "status")
	if res.code != 0 || !strings.Contains(res.stdout, "state: active (running), enabled") {
		t.Errorf("status: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := r.run("service", "uninstall"); res.code != 0 {
		t.Fatalf("uninstall: exit %d %s", res.code, res.stderr)
	}
	assertNothingLeft(t, r)
	calls, _ := os.ReadFile(log)
	want := []string{
		"--user daemon-reload", "--user enable agentspool.service",
		"--user start agentspool.service", "--user stop agentspool.service", "--user restart agentspool.service",
		"--user show --property=LoadState,ActiveState,SubState,UnitFileState agentspool.service",
		"--user disable --now agentspool.service", "--user daemon-reload",
	}
	if got := strings.Split(strings.TrimSpace(string(calls)), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("systemctl calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestServiceInstallNeedsADisplay(t *testing.T) {
	r, _ := newServiceRig(t, true)
	for i, kv := range r.env {
		if strings.HasPrefix(kv, "DISPLAY=") {
			r.env[i] = "DISPLAY="
		}
	}
	res := r.run("service", "install")
	if res.code != 1 || !strings.Contains(res.stderr, "DISPLAY is not set") {
		t.Errorf("exit %d %s", res.code, res.stderr)
	}
	if _, err := os.Stat(r.unitPath()); err == nil {
		t.Error("a unit was written without a display")
	}
	if res := r.run("service", "frobnicate"); res.code != 2 {
		t.Errorf("unknown action: exit %d", res.code)
	}
}

func checkUnit(t *testing.T, r *serviceRig, unit string) {
	t.Helper()
	bin, _ := filepath.EvalSymlinks(binary)
	for _, want := range []string{
		"\nExecStart=\"" + bin + "\" \"--config\" \"" + r.config + "\" \"--spool\" \"" + r.spool + "\" \"service\" \"run\" \"--name\" \"agentspool\"\n",
		"\nWorkingDirectory=" + r.dir + "\n",
		"\nEnvironment=\"DISPLAY=:42\"\n",
		"\nEnvironment=\"XAUTHORITY=/run/user/1000/xauth_ABC\"\n",
		"\nRestart=on-failure\n",
		"\nKillSignal=SIGTERM\n",
		"\nStandardError=journal\n",
		"\n[Install]\n", "\nWantedBy=default.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", strings.TrimSpace(want), unit)
		}
	}
	if strings.Contains(unit, "WantedBy=multi-user.target") {
		t.Errorf("a user unit cannot want multi-user.target:\n%s", unit)
	}
	if !filepath.IsAbs(bin) {
		t.Errorf("binary %q not absolute", bin)
	}
}

// verifyUnit runs systemd-analyze verify on the unit where it is installed.
func verifyUnit(t *testing.T, path string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit not verified (apt-get install systemd)")
		return
	}
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	// Offline, verify may still complain about things outside the unit
	// (a target a container lacks); only lines naming our unit count.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, filepath.Base(path)) {
			ours = append(ours, l)
		}
	}
	if len(ours) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	} else {
		t.Logf("systemd-analyze verify: %v %s", err, strings.TrimSpace(string(out)))
	}
}

func assertNothingLeft(t *testing.T, r *serviceRig) {
	t.Helper()
	for _, p := range []string{r.unitPath(), filepath.Join(r.xdg, "systemd")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("left behind: %s", p)
		}
	}
	filepath.Walk(r.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".service") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// TestSIGTERMMidDelivery stops the daemon while it is delivering, by
// `agentspool run` and by the unit's `agentspool service run` (kardianos'
// Run), and accounts for every message afterwards.
func TestSIGTERMMidDelivery(t *testing.T) {
	for _, entry := range [][]string{{"run"}, {"service", "run"}} {
		t.Run(strings.Join(entry, "-"), func(t *testing.T) {
			r := newDesktopRig(t, 4, desktoptest.FixtureOptions{AckDelay: 50 * time.Millisecond})
			sent, agentOf := map[string]string{}, map[string]string{}
			r.sendMany(16, sent, agentOf)

			logPath := filepath.Join(t.TempDir(), "daemon.log")
			lf, _ := os.Create(logPath)
			cmd := exec.Command(binary, append([]string{"--config", r.config}, append(entry, "--log-level", "debug")...)...)
			cmd.Env = r.desk.Env()
			cmd.Stdout, cmd.Stderr = lf, lf
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lf.Close()
			t.Cleanup(func() { stopProcess(cmd) })

			// Mid-delivery: a message claimed and not yet submitted.
			deadline := time.Now().Add(30 * time.Second)
			for !pastingInCur(t, r.spool) {
				if time.Now().After(deadline) {
					data, _ := os.ReadFile(logPath)
					t.Fatalf("no delivery in progress after 30s\n%s", tailString(string(data), 3000))
				}
				time.Sleep(2 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					data, _ := os.ReadFile(logPath)
					t.Fatalf("daemon exit after SIGTERM: %v (want 0)\n%s", err, tailString(string(data), 3000))
				}
			case <-time.After(30 * time.Second):
				t.Fatal("daemon still running 30s after SIGTERM")
			}

			// Every message is in exactly one state, and cur/ holds only
			// submitted ones (waiting for their ack).
			seen := map[string][]spool.State{}
			sp, err := spool.Open(r.spool)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[spool.State]int{}
			for _, st := range spool.States {
				es, err := sp.Scan(st, "")
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					seen[e.ID] = append(seen[e.ID], st)
					counts[st]++
					if st == spool.StateCur && (e.Submitted.IsZero() || e.Pasting) {
						t.Errorf("STRANDED in cur/: %s (pasting %v, submitted %v)", e.Name, e.Pasting, e.Submitted)
					}
				}
			}
			for id := range sent {
				if len(seen[id]) != 1 {
					t.Errorf("%s is in %v, want exactly one state", id, seen[id])
				}
			}
			if len(seen) != len(sent) {
				t.Errorf("%d messages on disk, %d sent", len(seen), len(sent))
			}
			t.Logf("after SIGTERM: %v", counts)
			data, _ := os.ReadFile(logPath)
			if !strings.Contains(string(data), "daemon stopped") {
				t.Errorf("no clean stop in the log:\n%s", tailString(string(data), 2000))
			}
			// Nothing submitted twice or garbled; what was submitted is
			// exactly once in the window.
			for _, a := range r.desk.Agents {
				subs, _ := r.desk.Submits(a.Name)
				for _, s := range subs {
					if m := envelopeID.FindStringSubmatch(s); m == nil || sent[m[1]] != strings.TrimPrefix(s, m[0]) {
						t.Errorf("%s: bad submit %q\n%s", a.Name, s, tailString(string(data), 6000))
					}
				}
			}
		})
	}
}

// pastingInCur reports a message in cur/ claimed and not yet submitted.
func pastingInCur(t *testing.T, root string) bool {
	cur := filepath.Join(root, "cur")
	agents, _ := os.ReadDir(cur)
	for _, a := range agents {
		names, _ := os.ReadDir(filepath.Join(cur, a.Name()))
		for _, n := range names {
			if _, info := spool.ParseName(n.Name()); info.Submitted.IsZero() && !strings.HasPrefix(n.Name(), ".") {
				return true
			}
		}
	}
	return false
}
