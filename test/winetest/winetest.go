//go:build linux

package winetest

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

//go:embed standin/bcryptprimitives.c standin/bcryptprimitives.def fixture/agentwin.c
var sources embed.FS

// Tools are the commands a Prefix needs beside desktoptest.DesktopTools;
// scripts/deps.sh installs them. The 64-bit loader, Wine64Loader, is
// checked too: it is outside PATH.
var Tools = []desktoptest.Tool{
	{Command: "wine", Package: "wine"},
	{Command: "wineboot", Package: "wine"},
	{Command: "wineserver", Package: "wine"},
	{Command: "x86_64-w64-mingw32-gcc", Package: "gcc-mingw-w64-x86-64"},
}

// Wine64Loader is the loader Debian's wine runs 64-bit programs with
// (package wine64).
const Wine64Loader = "/usr/lib/wine/wine64"

// MissingTools returns the Tools (and the loader) not installed.
func MissingTools() []desktoptest.Tool {
	var missing []desktoptest.Tool
	for _, t := range Tools {
		if _, err := exec.LookPath(t.Command); err != nil {
			missing = append(missing, t)
		}
	}
	if _, err := os.Stat(Wine64Loader); err != nil {
		missing = append(missing, desktoptest.Tool{Command: Wine64Loader, Package: "wine64"})
	}
	return missing
}

// Require skips t when Wine or mingw-w64 is missing on a developer's
// machine, and fails it on CI (CI=true), where a missing Wine must be seen
// rather than pass as a skip.
func Require(t testing.TB) {
	t.Helper()
	missing := MissingTools()
	if len(missing) == 0 {
		return
	}
	msg := "winetest: " + desktoptest.InstallHint(missing)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startTimeout bounds the prefix's boot and each window's start. A fresh
// prefix boots in about 6 s on this machine; CI machines are slower.
const startTimeout = 120 * time.Second

// stopGrace is how long a stop waits after SIGTERM before SIGKILL.
const stopGrace = 2 * time.Second

// Options configures New.
type Options struct {
	// Dir holds the prefix (Dir/prefix), the built programs (Dir/bin) and
	// the logs (Dir/logs); required.
	Dir     string
	Desktop *desktoptest.Desktop             // the display Wine's windows go to; required
	Log     func(format string, args ...any) // e.g. t.Logf; nil = discard
	// NoStandIn leaves the stand-in bcryptprimitives.dll out, to show that
	// a Go program needs it.
	NoStandIn bool
}

// Prefix is a booted WINEPREFIX and the processes run in it.
type Prefix struct {
	Dir     string // the WINEPREFIX
	Bin     string // where BuildC and GoBuild put programs
	Logs    string
	Desktop *desktoptest.Desktop

	// Boot is how long `wineboot -i` took; StandIn how long the DLL took
	// to build.
	Boot, StandIn time.Duration

	logf func(format string, args ...any)

	mu      sync.Mutex
	procs   []*Process
	started int      // processes spawned, for log names
	server  *Process // the persistent wineserver
	windows map[string]*Window
	editors int
	stopped bool
	stopErr error
}

// NewT is New for a test: the prefix is stopped when the test ends, and a
// prefix that cannot boot fails the test. Logs go to t.Logf.
func NewT(t testing.TB, d *desktoptest.Desktop, dir string) *Prefix {
	t.Helper()
	Require(t)
	return desktoptest.StartForTest(t, func() (*Prefix, error) {
		return New(Options{Dir: dir, Desktop: d, Log: t.Logf})
	})
}

// New creates and boots a fresh prefix under opts.Dir and puts the
// stand-in bcryptprimitives.dll in its system32.
func New(opts Options) (*Prefix, error) {
	if opts.Dir == "" || opts.Desktop == nil {
		return nil, errors.New("winetest: Options.Dir and Options.Desktop are required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("winetest: %w", err)
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	p := &Prefix{
		Dir:     filepath.Join(dir, "prefix"),
		Bin:     filepath.Join(dir, "bin"),
		Logs:    filepath.Join(dir, "logs"),
		Desktop: opts.Desktop,
		logf:    logf,
		windows: map[string]*Window{},
	}
	for _, d := range []string{p.Bin, p.Logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("winetest: %w", err)
		}
	}
	if err := p.boot(opts.NoStandIn); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Prefix) boot(noStandIn bool) error {
	t0 := time.Now()
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return fmt.Errorf("winetest: %w", err)
	}
	// A wineserver that stays (-p: persistent) until Stop. Without one,
	// the first program's wineserver shuts the prefix down 3 s after the
	// last program ends, services and all, and each later program pays
	// for booting them again (2.5 s here instead of 0.1 s).
	server, err := p.startServer()
	if err != nil {
		return err
	}
	// wineboot returns once the prefix is written; the services it started
	// (services.exe, winedevice.exe, explorer.exe /desktop) stay, under the
	// persistent wineserver. Its output goes to a log, not a pipe: the
	// services inherit it, and a pipe would not close before they end.
	// Wine mends a broken /tmp/.wine-UID server directory (one a killed
	// wineserver left) and then exits asking to be run again: once more
	// then, with a new wineserver if that one went too.
	for try := 0; ; try++ {
		boot, err := p.spawn("wineboot", nil, "wine", "wineboot", "-i")
		if err != nil {
			return err
		}
		select {
		case <-boot.Done():
		case <-time.After(startTimeout):
			return boot.failure(fmt.Errorf("wineboot -i did not finish in %v", startTimeout))
		}
		if err = boot.Wait(); err == nil { // at once: it has ended
			break
		}
		if log, _ := os.ReadFile(boot.Log); try == 0 && strings.Contains(string(log), "try running the same command again") {
			p.logf("winetest: wine mended its temporary directory; booting again")
			if server.Exited() {
				if server, err = p.startServer(); err != nil {
					return err
				}
			}
			continue
		}
		return boot.failure(fmt.Errorf("wineboot -i: %w", err))
	}
	if server.Exited() {
		return server.failure(errors.New("wineserver exited during wineboot"))
	}
	p.Boot = time.Since(t0)
	p.logf("winetest: prefix %s booted in %v", p.Dir, p.Boot.Round(time.Millisecond))
	if noStandIn {
		return nil
	}
	return p.InstallStandIn()
}

// startServer starts the prefix's persistent wineserver and waits until it
// listens: its socket is in its working directory, the server directory it
// made. A client started before that makes a server directory of its own
// (Debian's Wine names it /tmp/wine-XXXXXX, at random), starts a second
// wineserver, which finds the prefix locked by the first and exits, and
// dies with "chdir to /tmp/wine-XXXXXX/server-...: No such file or
// directory": wineboot failed so once in 6 runs on a loaded machine.
func (p *Prefix) startServer() (*Process, error) {
	server, err := p.spawn("wineserver", nil, "wineserver", "--foreground", "--persistent")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.server = server
	p.procs = slices.DeleteFunc(p.procs, func(pr *Process) bool { return pr == server })
	p.mu.Unlock()
	socket := fmt.Sprintf("/proc/%d/cwd/socket", server.PID)
	if err := server.poll("its socket", func() (bool, error) {
		_, err := os.Stat(socket)
		return err == nil, nil
	}); err != nil {
		return nil, err
	}
	return server, nil
}

// InstallStandIn builds the stand-in bcryptprimitives.dll
// (bcryptprimitives.c) and puts it in the prefix's system32. New does this
// unless Options.NoStandIn.
func (p *Prefix) InstallStandIn() error {
	t0 := time.Now()
	dll, err := p.BuildC("bcryptprimitives.dll", []string{"standin/bcryptprimitives.c", "standin/bcryptprimitives.def"},
		"-shared", "-O2", "-s", "-ladvapi32")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(dll)
	if err != nil {
		return fmt.Errorf("winetest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(p.System32(), "bcryptprimitives.dll"), data, 0o644); err != nil {
		return fmt.Errorf("winetest: %w", err)
	}
	p.StandIn = time.Since(t0)
	p.logf("winetest: stand-in bcryptprimitives.dll built and installed in %v", p.StandIn.Round(time.Millisecond))
	return nil
}

// System32 is the prefix's C:\windows\system32, as a Unix path.
func (p *Prefix) System32() string {
	return filepath.Join(p.Dir, "drive_c", "windows", "system32")
}

// Env is the environment of every Wine process in the prefix: the
// desktop's (DISPLAY), WINEPREFIX, no debug output, no Mono or Gecko
// installer (their dialogs would wait for a click), and a UTF-8 locale so
// Wine converts arguments and file names without loss.
func (p *Prefix) Env() []string {
	env := slices.DeleteFunc(p.Desktop.Env(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.HasPrefix(k, "WINE") || k == "LC_ALL"
	})
	return append(env,
		"WINEPREFIX="+p.Dir,
		"WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=",
		"LC_ALL=C.UTF-8",
	)
}

// WinPath is a Unix path as Windows programs in the prefix name it: Wine
// maps drive Z: to /.
func WinPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

func (p *Prefix) command(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = p.Env()
	cmd.Dir = p.Bin
	// Its own process group, so a context timeout's kill takes the wine
	// script and the loader it execs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// BuildC compiles C sources (names of the embedded sources:
// "standin/bcryptprimitives.c", "fixture/agentwin.c", ...) with mingw-w64 into
// p.Bin/out, and returns its path.
func (p *Prefix) BuildC(out string, srcs []string, flags ...string) (string, error) {
	src := filepath.Join(p.Bin, "src")
	args := []string{"-o", filepath.Join(p.Bin, out)}
	for _, s := range srcs {
		data, err := sources.ReadFile(s)
		if err != nil {
			return "", fmt.Errorf("winetest: %w", err)
		}
		path := filepath.Join(src, s)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", fmt.Errorf("winetest: %w", err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", fmt.Errorf("winetest: %w", err)
		}
		args = append(args, path)
	}
	args = append(args, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "x86_64-w64-mingw32-gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("winetest: x86_64-w64-mingw32-gcc %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return filepath.Join(p.Bin, out), nil
}

// GoBuild builds a Go package for windows/amd64 (pure Go) into p.Bin/out
// and returns its path. pkg is a package path or directory as `go build`
// takes it, resolved from dir ("" is the current directory).
func (p *Prefix) GoBuild(dir, out, pkg string) (string, error) {
	return GoBuild(dir, filepath.Join(p.Bin, out), pkg)
}

// GoBuild builds a Go package for windows/amd64 (CGO_ENABLED=0) into out.
func GoBuild(dir, out, pkg string) (string, error) {
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if os.Getenv("GOROOT") == "" {
		gobin = "go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("winetest: go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// Process is one program running under Wine, in a process group of its
// own; its PID is the Unix pid of the Wine process that runs the .exe.
type Process struct{ *desktoptest.Child }

// Start runs exe (a Unix path) with args under wine, its stdout and stderr
// to a log in p.Logs, extra environment added to p.Env(). Stop ends it.
func (p *Prefix) Start(name string, env []string, exe string, args ...string) (*Process, error) {
	return p.spawn(name, env, append([]string{"wine", exe}, args...)...)
}

// spawn starts argv (a Unix command) with the prefix's environment, as a
// tracked process in a process group of its own.
func (p *Prefix) spawn(name string, env []string, argv ...string) (*Process, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil, fmt.Errorf("winetest: %s: prefix is stopped", name)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(p.Env(), env...)
	cmd.Dir = p.Bin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c, err := desktoptest.StartChild(name, filepath.Join(p.Logs, fmt.Sprintf("%s.%d.log", name, p.started)), cmd)
	p.started++
	if err != nil {
		return nil, fmt.Errorf("winetest: %w", err)
	}
	pr := &Process{c}
	p.procs = append(p.procs, pr)
	p.logf("winetest: started %s pid %d: %s", name, pr.PID, strings.Join(argv, " "))
	return pr, nil
}

// Run runs exe with args under wine to its end, within timeout, and
// returns its stdout and stderr.
func (p *Prefix) Run(timeout time.Duration, env []string, exe string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := p.command(ctx, append([]string{"wine", exe}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	if err != nil {
		err = fmt.Errorf("winetest: wine %s: %w", filepath.Base(exe), err)
	}
	return o.String(), e.String(), err
}

// Kill ends the process at once (SIGKILL: to Windows, a TerminateProcess
// it cannot see coming, the kill a crash test wants) and waits for it.
func (pr *Process) Kill() {
	pr.signal(syscall.SIGKILL)
	<-pr.Done()
}

// Stop ends the process: SIGTERM, then SIGKILL after stopGrace.
func (pr *Process) Stop() error {
	return desktoptest.StopAll("winetest", []desktoptest.Ender{pr}, stopGrace, func(string, ...any) {})
}

// Send is signal, for desktoptest.StopAll.
func (pr *Process) Send(sig syscall.Signal) { pr.signal(sig) }

func (pr *Process) signal(sig syscall.Signal) {
	// The group is the process's own (Setpgid); its id is the pid, which
	// is not reused while the process is unreaped.
	if !pr.Exited() {
		_ = syscall.Kill(-pr.PID, sig) // an error means it is gone
	}
}

// failure is Child.Failure with the package's prefix.
func (pr *Process) failure(err error) error { return fmt.Errorf("winetest: %w", pr.Failure(err)) }

// poll is Child.Poll with startTimeout, and the package's prefix.
func (pr *Process) poll(what string, cond func() (bool, error)) error {
	if err := pr.Poll(startTimeout, what, cond); err != nil {
		return fmt.Errorf("winetest: %w", err)
	}
	return nil
}

// Stop ends every process started in the prefix, by pid, then the
// prefix's wineserver and whatever it still had (`wineserver -k` knows
// only this prefix), and kills by pid any process left that carries this
// prefix's WINEPREFIX. It is idempotent. The prefix's files stay, for the
// test's temp dir to remove.
func (p *Prefix) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return p.stopErr
	}
	p.stopped = true
	procs := make([]desktoptest.Ender, len(p.procs))
	for i, pr := range p.procs {
		procs[i] = pr
	}
	var errs []error
	if err := desktoptest.StopAll("winetest", procs, stopGrace, p.logf); err != nil {
		errs = append(errs, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := os.Stat(p.Dir); err == nil {
		if out, err := p.command(ctx, "wineserver", "-k").CombinedOutput(); err != nil && len(out) > 0 {
			// Exit 1 with no output only means no wineserver was running.
			p.logf("winetest: wineserver -k: %v: %s", err, out)
		}
	}
	if p.server != nil {
		if err := p.server.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	deadline := time.Now().Add(stopGrace)
	for {
		left := prefixProcs(p.Dir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(100 * time.Millisecond)
			if left := prefixProcs(p.Dir); len(left) > 0 {
				errs = append(errs, fmt.Errorf("winetest: processes of prefix %s survived SIGKILL: %v", p.Dir, left))
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stopErr = errors.Join(errs...)
	return p.stopErr
}

// prefixProcs returns the pids of the live processes whose environment
// has WINEPREFIX=prefix (the prefix's wineserver, services and programs;
// the path is this test's own, so never another program's), from /proc.
func prefixProcs(prefix string) []int {
	mark := []byte("\x00WINEPREFIX=" + prefix + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	self := os.Getpid()
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), mark) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(d, "stat")); err == nil {
			// A zombie is gone but for its parent's wait.
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}
