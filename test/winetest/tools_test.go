//go:build linux

package winetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentspool.exe's setup tools under Wine: doctor checks the Windows
// desktop with Windows checks (session, input, DPI, foreground lock, each
// agent's window); coords check --click and coords capture work; and
// service install/status/uninstall manage a logon task through schtasks,
// its definition on disk and gone after uninstall.
func TestWindowsDoctorAndLogonTask(t *testing.T) {
	dir, _, p, exe := startRig(t, "wintools-", "agentspool.exe", "./cmd/agentspool")
	ws, err := p.StartAgents(dir, 2, FixtureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "coords.yaml")
	var yaml strings.Builder
	fmt.Fprintf(&yaml, "spool: %q\nagents:\n", WinPath(filepath.Join(dir, "spool")))
	for _, w := range ws {
		fmt.Fprintf(&yaml, "  %s:\n    x: %d\n    y: %d\n    window: %q\n    inbox: %q\n", w.Name, w.CX, w.CY, w.Name, WinPath(w.Inbox))
	}
	if err := os.WriteFile(cfg, []byte(yaml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		out, stderr, err := p.Run(2*time.Minute, nil, exe, append([]string{"--config", WinPath(cfg)}, args...)...)
		t.Logf("agentspool %s:\n%s%s", strings.Join(args, " "), out, stderr)
		return out + stderr, err
	}

	out, err := run("doctor")
	if err != nil {
		t.Errorf("doctor: %v", err)
	}
	for _, want := range []string{"ok    session", "ok    input", "ok    dpi", "ok    Agent-1", "ok    Agent-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor's report lacks %q", want)
		}
	}
	for _, linux := range []string{"DISPLAY", "xtest", "XAUTHORITY", "openbox"} {
		if strings.Contains(out, linux) {
			t.Errorf("doctor on Windows speaks of %s", linux)
		}
	}

	// %AppData% of the prefix's user (Wine names it after the Unix user).
	users, _ := filepath.Glob(filepath.Join(p.Dir, "drive_c", "users", "*", "AppData", "Roaming"))
	if len(users) == 0 {
		t.Fatal("the prefix has no user AppData")
	}
	var task string
	for _, u := range users {
		if !strings.Contains(u, "Public") {
			task = filepath.Join(u, "agentspool", "agentspool.task.xml")
		}
	}
	// coords check --click clicks each agent's point and sees its window
	// take the focus; coords capture records where the pointer is and the
	// focused window's title (a person clicks into the input first).
	out, err = run("coords", "check", "--click")
	if err != nil {
		t.Errorf("coords check --click: %v", err)
	}
	for _, w := range ws {
		if !strings.Contains(out, "ok    "+w.Name) {
			t.Errorf("coords check says nothing good of %s", w.Name)
		}
	}
	w := ws[1]
	if err := p.XDo("mousemove", fmt.Sprint(w.CX+7), fmt.Sprint(w.CY+5), "click", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("coords", "capture", w.Name, "--countdown", "1s"); err != nil {
		t.Errorf("coords capture: %v", err)
	}
	b, _ := os.ReadFile(cfg)
	if want := fmt.Sprintf("x: %d\n    y: %d\n    window: %q", w.CX+7, w.CY+5, w.Name); !strings.Contains(string(b), want) {
		t.Errorf("after capture coords.yaml does not hold %q:\n%s", want, b)
	}

	// Wine 8's schtasks /Create fails in the wineserver session that booted
	// the prefix (it works from the next one on, as on any Windows that
	// has been started before): end this session first. The windows go
	// with it; the service commands need none.
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	out, err = run("service", "install")
	if err != nil {
		t.Fatalf("service install: %v", err)
	}
	b, err = os.ReadFile(task)
	if err != nil {
		t.Fatalf("the task definition: %v", err)
	}
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xfe {
		t.Errorf("the task definition is not UTF-16 with a BOM")
	}
	if strings.Contains(out, "schtasks") && strings.Contains(out, "failed") {
		t.Logf("schtasks under Wine refused something (see above)")
	}
	if out, err := run("service", "status"); err != nil || !strings.Contains(out, "agentspool") {
		t.Errorf("service status: %v", err)
	}
	if _, err := run("service", "uninstall"); err != nil {
		t.Errorf("service uninstall: %v", err)
	}
	if _, err := os.Stat(task); !os.IsNotExist(err) {
		t.Errorf("the task definition is still there after uninstall (%v)", err)
	}
}
