//go:build linux

package winetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// MaxAgents is the most fixture windows laid out without overlap.
const MaxAgents = 8

// Window is one fixture window (fixture/agentwin.c) on the desktop.
type Window struct {
	Name   string
	Proc   *Process
	PID    int    // the Unix pid of its Wine process (its X window's _NET_WM_PID)
	WinPID int    // its Windows process id (GetCurrentProcessId)
	HWND   uint64 // its top-level window
	XID    uint32 // the X window Wine made for it (what xdotool activates)
	// X, Y, W, H: the input's rect in screen coordinates (Win32's virtual
	// screen is the X root here); CX, CY its center, where a click focuses it.
	X, Y, W, H int
	CX, CY     int
	Record     string // <dir>/submits: one NNNNNN.txt per submit
	Inbox      string // <dir>/inbox: direct-write acks land here
}

// FixtureOptions are how the fixture windows ack.
type FixtureOptions struct {
	// AckCommand is the Windows command line (argv) a window runs to ack
	// an envelope, each "{id}" argument replaced by the id: e.g.
	// {WinPath(agentspool.exe), "ack", "{id}"}. Empty: the window writes
	// Inbox/ID.ack itself.
	AckCommand []string
	// Env is added to each window's environment (and so to its ack
	// command's): e.g. the config the ack command reads.
	Env []string
}

var fixtureName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// fixtureExe builds fixture/agentwin.c once per prefix.
func (p *Prefix) fixtureExe() (string, error) {
	exe := filepath.Join(p.Bin, "agentwin.exe")
	if _, err := os.Stat(exe); err == nil {
		return exe, nil
	}
	t0 := time.Now()
	exe, err := p.BuildC("agentwin.exe", []string{"fixture/agentwin.c"}, "-municode", "-O2", "-Wall")
	if err != nil {
		return "", err
	}
	p.logf("winetest: fixture agentwin.exe built in %v", time.Since(t0).Round(time.Millisecond))
	return exe, nil
}

// StartAgents opens n fixture windows, Agent-1..Agent-n, each in its own
// process, laid out on a 4x2 grid, under dir/agents/Agent-N, and returns
// once every one is shown and its input's place on screen is settled.
func (p *Prefix) StartAgents(dir string, n int, o FixtureOptions) ([]*Window, error) {
	if n < 1 || n > MaxAgents {
		return nil, fmt.Errorf("winetest: %d agents, want 1..%d", n, MaxAgents)
	}
	var pending []*pendingWindow
	for i := range n {
		name := fmt.Sprintf("Agent-%d", i+1)
		pw, err := p.launch(name, filepath.Join(dir, "agents", name), p.cell(i), false, o)
		if err != nil {
			return nil, err
		}
		pending = append(pending, pw)
	}
	var ws []*Window
	for _, pw := range pending {
		w, err := p.await(pw)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// StartEditor opens a person's editor: the same fixture, with -editor (it
// records its submits and acks nothing), under dir/editors/name, in the
// next free grid cell.
func (p *Prefix) StartEditor(dir, name string) (*Window, error) {
	p.mu.Lock()
	i := len(p.windows) + p.editors
	p.editors++
	p.mu.Unlock()
	pw, err := p.launch(name, filepath.Join(dir, "editors", name), p.cell(i), true, FixtureOptions{})
	if err != nil {
		return nil, err
	}
	return p.await(pw)
}

// cell is the geometry (outer size and position, WxH+X+Y) of grid cell i:
// 4 columns by 2 rows, room left for openbox's frame, no two overlapping.
func (p *Prefix) cell(i int) string {
	sw, sh := p.Desktop.Size()
	cw, ch := sw/4, sh/2
	w, h := min(380, cw-20), min(300, ch-60)
	if i >= MaxAgents {
		return fmt.Sprintf("%dx%d+%d+%d", w, h, (sw-w)/2, (sh-h)/2)
	}
	return fmt.Sprintf("%dx%d+%d+%d", w, h, (i%4)*cw+10, (i/4)*ch+10)
}

type pendingWindow struct {
	name, dir string
	proc      *Process
}

func (p *Prefix) launch(name, dir, geometry string, editor bool, o FixtureOptions) (*pendingWindow, error) {
	if !fixtureName.MatchString(name) {
		return nil, fmt.Errorf("winetest: bad window name %q", name)
	}
	exe, err := p.fixtureExe()
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"submits", "inbox"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("winetest: %w", err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "ready")); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("winetest: %w", err)
	}
	var args []string
	if editor {
		args = append(args, "-editor")
	}
	args = append(args, name, WinPath(filepath.Join(dir, "submits")), WinPath(filepath.Join(dir, "inbox")), geometry)
	if len(o.AckCommand) > 0 {
		args = append(append(args, "--"), o.AckCommand...)
	}
	pr, err := p.Start(name, o.Env, exe, args...)
	if err != nil {
		return nil, err
	}
	return &pendingWindow{name: name, dir: dir, proc: pr}, nil
}

// await waits for a launched fixture's ready file and its X window, and
// reads where its input is.
func (p *Prefix) await(pw *pendingWindow) (*Window, error) {
	pr := pw.proc
	ready := filepath.Join(pw.dir, "ready")
	kv, err := pr.AwaitReady(startTimeout, ready)
	if err != nil {
		return nil, fmt.Errorf("winetest: %w", err)
	}
	var nums [7]int64
	for i, k := range []string{"hwnd", "pid", "rootx", "rooty", "width", "height", "input"} {
		n, err := strconv.ParseInt(kv[k], 0, 64)
		if err != nil {
			return nil, pr.failure(fmt.Errorf("bad %s in ready file %s: %q", k, ready, kv))
		}
		nums[i] = n
	}
	w := &Window{
		Name: pw.name, Proc: pr, PID: pr.PID, WinPID: int(nums[1]), HWND: uint64(nums[0]),
		X: int(nums[2]), Y: int(nums[3]), W: int(nums[4]), H: int(nums[5]),
		Record: filepath.Join(pw.dir, "submits"), Inbox: filepath.Join(pw.dir, "inbox"),
	}
	// The X window Wine made for it: named by its title and its Unix pid
	// (Wine sets _NET_WM_PID), so no other window can be taken for it.
	err = pr.poll(pw.name+" X window", func() (bool, error) {
		out, err := p.x("xdotool", "search", "--all", "--pid", strconv.Itoa(pr.PID), "--name", "^"+regexp.QuoteMeta(pw.name)+"$")
		ids := strings.Fields(out)
		if err != nil || len(ids) != 1 {
			return false, nil // xdotool search exits 1 when it finds none
		}
		id, err := strconv.ParseUint(ids[0], 10, 32)
		w.XID = uint32(id)
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	// The WM may move the window after Wine reported it shown; the input
	// keeps its place within the X window, so its screen rect follows the
	// X window once that reads the same twice in a row.
	x0, y0, err := p.xOrigin(w.XID)
	if err != nil {
		return nil, pr.failure(err)
	}
	dx, dy := w.X-x0, w.Y-y0
	lastX, lastY := x0, y0
	settled := 0
	err = pr.poll(pw.name+" window position to settle", func() (bool, error) {
		x, y, err := p.xOrigin(w.XID)
		if err != nil {
			return false, err
		}
		if x == lastX && y == lastY {
			settled++
		} else {
			settled = 0
		}
		lastX, lastY = x, y
		return settled >= 2, nil
	})
	if err != nil {
		return nil, err
	}
	w.X, w.Y = lastX+dx, lastY+dy
	w.CX, w.CY = w.X+w.W/2, w.Y+w.H/2
	sw, sh := p.Desktop.Size()
	if w.X < 0 || w.Y < 0 || w.X+w.W > sw || w.Y+w.H > sh {
		return nil, pr.failure(fmt.Errorf("input %dx%d+%d+%d is not inside the %dx%d screen", w.W, w.H, w.X, w.Y, sw, sh))
	}
	p.mu.Lock()
	p.windows[w.Name] = w
	p.mu.Unlock()
	p.logf("winetest: %s pid %d (windows pid %d) hwnd %#x xid %#x input %dx%d+%d+%d center (%d,%d)",
		w.Name, w.PID, w.WinPID, w.HWND, w.XID, w.W, w.H, w.X, w.Y, w.CX, w.CY)
	return w, nil
}

// xOrigin is the absolute position of an X window.
func (p *Prefix) xOrigin(id uint32) (x, y int, err error) {
	out, err := p.x("xwininfo", "-id", strconv.FormatUint(uint64(id), 10))
	if err != nil {
		return 0, 0, err
	}
	mx := regexp.MustCompile(`Absolute upper-left X:\s*(-?\d+)`).FindStringSubmatch(out)
	my := regexp.MustCompile(`Absolute upper-left Y:\s*(-?\d+)`).FindStringSubmatch(out)
	if mx == nil || my == nil {
		return 0, 0, fmt.Errorf("xwininfo of %#x has no position:\n%s", id, out)
	}
	x, _ = strconv.Atoi(mx[1])
	y, _ = strconv.Atoi(my[1])
	return x, y, nil
}

// x runs a short X tool (xdotool, xwininfo) on the desktop.
func (p *Prefix) x(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = p.Desktop.Env()
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return string(out), fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return string(out), nil
}

// Window returns a fixture window by name.
func (p *Prefix) Window(name string) (*Window, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.windows[name]
	if !ok {
		return nil, fmt.Errorf("winetest: no window named %q", name)
	}
	return w, nil
}

// Submits returns the texts submitted in w, oldest first.
func (w *Window) Submits() ([]string, error) {
	return desktoptest.ReadRecords(w.Record)
}

// Activate makes w the active window from the X side, as a focus stealer
// would (xdotool windowactivate, EWMH _NET_ACTIVE_WINDOW), and waits until
// the WM reports it active.
func (p *Prefix) Activate(w *Window) error {
	id := strconv.FormatUint(uint64(w.XID), 10)
	if _, err := p.x("xdotool", "windowactivate", id); err != nil {
		return fmt.Errorf("winetest: activate %s: %w", w.Name, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := p.x("xdotool", "getactivewindow")
		if err == nil && strings.TrimSpace(out) == id {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("winetest: %s (xid %s) not active after 5s (active: %q, %v)", w.Name, id, strings.TrimSpace(out), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// XDo runs xdotool with args on the desktop: a click, keys, typing.
func (p *Prefix) XDo(args ...string) error {
	_, err := p.x(append([]string{"xdotool"}, args...)...)
	if err != nil {
		return fmt.Errorf("winetest: %w", err)
	}
	return nil
}
