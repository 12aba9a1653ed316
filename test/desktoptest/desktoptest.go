// Package desktoptest starts a throwaway X11 desktop (Xvfb + openbox) with agent-window fixtures, for tests, the demo and benchmarks.
//
// The desktop is driven only through the X command-line tools (xprop,
// xwininfo, xdotool, xclip, import), the same ones an operator would use to
// look at it, so the harness shares no code with the daemon's X11 backend it
// is meant to check. scripts/deps.sh installs them.
//
// Every process the harness starts is tracked and ended by its pid in Stop;
// nothing is ever killed by name, so a developer's own X session, or another
// test's desktop, is never touched. Logs of every process are kept in
// <Dir>/logs for a failed CI run to show.
//
// An agent window is a Tk window (fixture.tcl) by default. The users' real
// chat panels are Electron, so Options.Kinds can make any of them a
// Chromium --app window instead, with a <textarea>, a contenteditable <div>,
// a real Monaco editor (VS Code's chat input) or a real Lexical editor (many
// chat composers): Chromium reads the clipboard, counts clicks and inserts
// a paste in its own ways, and those are what a deliverer must survive.
// Consecutive Chromium windows share one browser (ChromiumPerInstance), as
// several IDE windows share one Electron process, and so share its
// multi-click counter. A Chromium window is recorded like a Tk one (its
// submits and acks, read by Submits and by the daemon), and also reports
// every click, paste, input change and submit it saw (Events, Stats), so a
// test can tell a paste that inserted nothing from a lost submit.
//
// A Tk window acks what it is given by itself (FixtureOptions.AckDelay),
// as an agent told to run "agentspool ack" would; with a
// FixtureOptions.Hooks entry it plays Cursor with hooks installed instead:
// each submit runs the beforeSubmitPrompt command with Cursor's JSON on
// stdin, and only the hook acks (HookCalls shows each call).
//
// The pages are served by an HTTP server in the test process, which also
// takes their reports; the editors come from npm, fetched by
// scripts/web.sh (run by scripts/deps.sh desktop) into web/node_modules
// and web/build, never committed.
package desktoptest

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed fixture.tcl
var fixtureTcl []byte

//go:embed openbox-rc.xml
var openboxRC []byte

// MaxAgents is the most agent windows a desktop lays out without overlap.
const MaxAgents = 8

// startTimeout bounds each step of Start (the X server, the WM, each
// window). Generous because CI machines are slow and shared; a healthy
// desktop comes up in well under a second.
const startTimeout = 30 * time.Second

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 2 * time.Second

// Options configures Start.
type Options struct {
	Width, Height int // screen, default 1600x900
	// GridWidth, GridHeight: the area from the top-left corner that the
	// agent windows' 4x2 grid fills; default the whole screen. A test
	// that puts windows of its own beside the grid (the proof's agent
	// CLIs in terminals) makes the screen bigger than the grid.
	GridWidth, GridHeight int
	Agents                int                              // number of agent windows, default 4 (up to MaxAgents)
	Dir                   string                           // working dir for inboxes/records/logs; required (t.TempDir())
	Fixture               FixtureOptions                   // how the agent windows behave
	Log                   func(format string, args ...any) // e.g. t.Logf; nil = discard

	// Kinds[i] is the kind of agent window i (KindTk, KindTextarea, ...);
	// missing or "" is KindTk.
	Kinds []string
	// NoAgents starts a bare desktop, Xvfb and openbox only, for windows
	// another harness opens (test/winetest's Win32 ones under Wine).
	NoAgents bool
	// ChromiumPerInstance is how many consecutive Chromium agent windows
	// share one browser (one --user-data-dir), default 2.
	ChromiumPerInstance int
	// WebDir holds the npm files of the Chromium windows (scripts/web.sh);
	// default test/desktoptest/web of this source tree.
	WebDir string
}

// FixtureOptions scripts the behaviour of every agent window.
type FixtureOptions struct {
	AckDelay time.Duration // ack each envelope id this long after the submit
	// AckDelays overrides AckDelay for the agents named: "one agent acks
	// slowly" while the others ack at once.
	AckDelays     map[string]time.Duration
	NeverAckFirst map[string]bool // agent names that never ack their first submit
	PasteDelay    time.Duration   // the window is slow to take a paste: it sleeps this long in its <<Paste>> handler before inserting
	// OrderedKeys makes the window hold keys that arrive while a paste
	// waits for the clipboard owner and run them after it. Plain Tk does
	// not: its "clipboard get" runs a nested event loop, so an Enter right
	// behind a ctrl+v submits the input before the text is in it. The
	// default is plain Tk, the race a deliverer must handle; the harness's
	// own tests, which type with xdotool, turn this on.
	OrderedKeys bool
	// Hooks makes the Tk agent windows named play Cursor with a
	// beforeSubmitPrompt hook installed, instead of acking by themselves:
	// on each submit of a non-blank input the window runs the hook's
	// command with Cursor's JSON on stdin, and submits only if the hook
	// exits 0 and answers {"continue": true} (else the text stays in the
	// input). Such a window never writes an ack; AckDelay(s) and
	// NeverAckFirst do not apply to it. HookCalls reads what each call got
	// and answered. Agents not named behave as without Hooks.
	Hooks map[string]Hook
}

// Hook is one window's beforeSubmitPrompt hook (FixtureOptions.Hooks).
type Hook struct {
	// Command is the shell command line, as in a .cursor/hooks.json
	// entry; the window runs it with sh -c.
	Command string
	// Workspace is the project the window has open: the payload's one
	// workspace_roots entry and the command's working directory. Default:
	// the window's directory (<Dir>/agents/<Name>).
	Workspace string
}

// Desktop is a running Xvfb + openbox with agent windows on it.
type Desktop struct {
	Display    string // ":N"
	XAuthority string // "" if none (the server runs without auth, listening on its unix socket only)
	Agents     []*AgentWindow
	Dir        string

	width, height int
	gridW, gridH  int // the agent grid's area (Options.GridWidth, GridHeight)
	fixture       FixtureOptions
	logf          func(format string, args ...any)

	rec *recorder // the Chromium windows' server; nil without them

	mu      sync.Mutex
	procs   []*process
	windows map[string]*AgentWindow // agents and editors, by name
	editors int
	stopped bool
	stopErr error
}

// AgentWindow is one chat window on the desktop.
type AgentWindow struct {
	Name     string // "Agent-1"...; also the window's title
	Kind     string // KindTk, KindTextarea, ...
	PID      int    // _NET_WM_PID: the wish pid (set by the harness), or the Chromium browser pid (set by Chromium)
	WindowID uint32 // the client window the WM manages (it carries WM_NAME and _NET_WM_PID)
	Instance int    // Chromium: windows with the same number share one browser; 0 for Tk
	X, Y     int    // screen coordinates of the CENTER of the input box: where a click focuses it
	Inbox    string // <Dir>/agents/<Name>/inbox   (acks land here)
	Record   string // <Dir>/agents/<Name>/submits (one file per submit)
	// HookRecord is <Dir>/agents/<Name>/hooks, where a window with a
	// FixtureOptions.Hooks entry keeps each hook call; "" without one.
	HookRecord string
}

// Tool is one command the desktop needs and the Debian package that has it.
type Tool struct{ Command, Package string }

// DesktopTools are the commands Start needs; scripts/deps.sh installs them.
var DesktopTools = []Tool{
	{"Xvfb", "xvfb"},
	{"openbox", "openbox"},
	{"wish", "tk"},
	{"xprop", "x11-utils"},
	{"xwininfo", "x11-utils"},
	{"xdotool", "xdotool"},
	{"xclip", "xclip"},
	{"import", "imagemagick"},
	{"chromium", "chromium"},
}

// MissingTools returns the DesktopTools not found in PATH.
func MissingTools() []Tool {
	var missing []Tool
	for _, t := range DesktopTools {
		if _, err := exec.LookPath(t.Command); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}

// InstallHint says which tools are missing and how to install them:
// "missing a, b: run scripts/deps.sh desktop, or apt-get install p q".
func InstallHint(missing []Tool) string {
	var cmds, pkgs []string
	for _, t := range missing {
		cmds = append(cmds, t.Command)
		if !slices.Contains(pkgs, t.Package) {
			pkgs = append(pkgs, t.Package)
		}
	}
	return fmt.Sprintf("missing %s: run scripts/deps.sh desktop, or apt-get install %s",
		strings.Join(cmds, ", "), strings.Join(pkgs, " "))
}

// StartT starts a desktop and stops it when the test ends. A desktop that
// cannot start fails the test, never skips it: a missing Xvfb on CI must be
// seen. Logs go to t.Logf unless opts.Log is set.
func StartT(t testing.TB, opts Options) *Desktop {
	t.Helper()
	if opts.Log == nil {
		opts.Log = t.Logf
	}
	return StartForTest(t, func() (*Desktop, error) { return Start(opts) })
}

// StartForTest calls start and stops what it started when the test ends;
// a start or a stop that fails fails the test. For a rig's StartT.
func StartForTest[T interface{ Stop() error }](t testing.TB, start func() (T, error)) T {
	t.Helper()
	v, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return v
}

// Start launches Xvfb, openbox and opts.Agents agent windows, and returns
// once every window is mapped, titled, carries _NET_WM_PID, and its input's
// center is known. On failure it stops whatever it started.
func Start(opts Options) (*Desktop, error) {
	if opts.Dir == "" {
		return nil, errors.New("desktoptest: Options.Dir is required")
	}
	if opts.Width == 0 {
		opts.Width = 1600
	}
	if opts.Height == 0 {
		opts.Height = 900
	}
	if opts.Agents == 0 && !opts.NoAgents {
		opts.Agents = 4
	}
	if opts.NoAgents && (opts.Agents != 0 || len(opts.Kinds) > 0) {
		return nil, errors.New("desktoptest: NoAgents with Agents or Kinds")
	}
	if !opts.NoAgents && (opts.Agents < 0 || opts.Agents > MaxAgents) {
		return nil, fmt.Errorf("desktoptest: Agents=%d, want 1..%d", opts.Agents, MaxAgents)
	}
	if opts.GridWidth == 0 {
		opts.GridWidth = opts.Width
	}
	if opts.GridHeight == 0 {
		opts.GridHeight = opts.Height
	}
	if opts.GridWidth > opts.Width || opts.GridHeight > opts.Height || opts.GridWidth < 640 || opts.GridHeight < 480 {
		return nil, fmt.Errorf("desktoptest: grid %dx%d, want at least 640x480 and inside the %dx%d screen", opts.GridWidth, opts.GridHeight, opts.Width, opts.Height)
	}
	if opts.Width < 640 || opts.Height < 480 {
		return nil, fmt.Errorf("desktoptest: screen %dx%d is smaller than 640x480", opts.Width, opts.Height)
	}
	if len(opts.Kinds) > opts.Agents {
		return nil, fmt.Errorf("desktoptest: %d Kinds for %d agents", len(opts.Kinds), opts.Agents)
	}
	kinds := make([]string, opts.Agents)
	chromium := false
	for i, k := range opts.Kinds {
		if k == "" {
			k = KindTk
		}
		if k != KindTk && !isChromiumKind(k) {
			return nil, fmt.Errorf("desktoptest: Kinds[%d] = %q, want %s or one of %s", i, k, KindTk, strings.Join(ChromiumKinds, ", "))
		}
		kinds[i] = k
		chromium = chromium || k != KindTk
	}
	for i := range kinds {
		if kinds[i] == "" {
			kinds[i] = KindTk
		}
		if _, ok := opts.Fixture.Hooks[fmt.Sprintf("Agent-%d", i+1)]; ok && kinds[i] != KindTk {
			return nil, fmt.Errorf("desktoptest: Fixture.Hooks names Agent-%d, a %s window: only Tk windows run a hook", i+1, kinds[i])
		}
	}
	if opts.ChromiumPerInstance == 0 {
		opts.ChromiumPerInstance = 2
	}
	if opts.ChromiumPerInstance < 0 {
		return nil, fmt.Errorf("desktoptest: ChromiumPerInstance=%d", opts.ChromiumPerInstance)
	}
	if opts.WebDir == "" {
		opts.WebDir = defaultWebDir()
	}
	if chromium {
		if err := webFiles(opts.WebDir); err != nil {
			return nil, err
		}
	}
	if missing := MissingTools(); len(missing) > 0 {
		return nil, errors.New("desktoptest: " + InstallHint(missing))
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("desktoptest: %w", err)
	}
	d := &Desktop{
		Dir:     dir,
		width:   opts.Width,
		height:  opts.Height,
		gridW:   opts.GridWidth,
		gridH:   opts.GridHeight,
		fixture: opts.Fixture,
		logf:    logf,
		windows: map[string]*AgentWindow{},
	}
	begin := time.Now()
	if chromium {
		if d.rec, err = startRecorder(opts.WebDir, logf); err != nil {
			return nil, err
		}
	}
	if err := d.start(kinds, opts.ChromiumPerInstance); err != nil {
		_ = d.Stop()
		return nil, err
	}
	logf("desktoptest: display %s with %d agent windows up in %v", d.Display, len(d.Agents), time.Since(begin).Round(time.Millisecond))
	return d, nil
}

func (d *Desktop) start(kinds []string, perInstance int) error {
	for _, sub := range []string{"logs", "agents", "editors", "chromium"} {
		if err := os.MkdirAll(filepath.Join(d.Dir, sub), 0o755); err != nil {
			return fmt.Errorf("desktoptest: %w", err)
		}
	}
	for name, data := range map[string][]byte{"fixture.tcl": fixtureTcl, "openbox-rc.xml": openboxRC} {
		if err := os.WriteFile(filepath.Join(d.Dir, name), data, 0o644); err != nil {
			return fmt.Errorf("desktoptest: %w", err)
		}
	}
	t0 := time.Now()
	if err := d.startXvfb(); err != nil {
		return err
	}
	t1 := time.Now()
	if err := d.startOpenbox(); err != nil {
		return err
	}
	t2 := time.Now()

	// Start every window first and wait for them after: the wish and
	// Chromium start-ups overlap, which is most of Start's time. The later
	// windows of a Chromium instance launch as soon as its browser can take
	// them (launchFollower).
	var pending []any // *pendingWindow or *pendingChromium, by agent
	var leader *pendingChromium
	nChromium := 0
	for i, kind := range kinds {
		name := fmt.Sprintf("Agent-%d", i+1)
		if kind == KindTk {
			p, err := d.launchWindow(name, filepath.Join(d.Dir, "agents", name), d.cell(i), d.fixture.NeverAckFirst[name])
			if err != nil {
				return err
			}
			pending = append(pending, p)
			continue
		}
		if nChromium%perInstance == 0 {
			leader = nil
		}
		nChromium++
		pc, err := d.prepareChromium(name, kind, (nChromium-1)/perInstance+1, d.cellRect(i), leader)
		if err != nil {
			return err
		}
		if leader == nil {
			leader = pc
		}
		pending = append(pending, pc)
	}
	for _, p := range pending {
		if pc, ok := p.(*pendingChromium); ok && pc.leader != nil {
			if err := d.launchFollower(pc); err != nil {
				return err
			}
		}
	}
	for _, p := range pending {
		if pc, ok := p.(*pendingChromium); ok {
			if err := d.placeChromium(pc); err != nil {
				return err
			}
		}
	}
	for _, p := range pending {
		var w *AgentWindow
		var err error
		switch p := p.(type) {
		case *pendingWindow:
			w, err = d.awaitWindow(p)
			if err == nil {
				w.Kind = KindTk
			}
		case *pendingChromium:
			w, err = d.awaitChromium(p)
		}
		if err != nil {
			return err
		}
		d.Agents = append(d.Agents, w)
	}
	d.logf("desktoptest: xvfb %v, openbox %v, windows %v",
		t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
	return nil
}

// cell returns the wish geometry of grid cell i: 4 columns by 2 rows, each
// window inside its cell with room for the WM's title bar, so no two
// windows overlap. Cells past the grid are centered on the grid.
func (d *Desktop) cell(i int) string {
	c := d.cellRect(i)
	return fmt.Sprintf("%dx%d+%d+%d", c.w, c.h, c.x, c.y)
}

// cellRect is cell i as a rect: the client size and the frame's position.
func (d *Desktop) cellRect(i int) rect {
	cellW, cellH := d.gridW/4, d.gridH/2
	w, h := min(380, cellW-20), min(300, cellH-60)
	if i >= MaxAgents {
		return rect{(d.gridW - w) / 2, (d.gridH - h) / 2, w, h}
	}
	return rect{(i%4)*cellW + 10, (i/4)*cellH + 10, w, h}
}

func (d *Desktop) startXvfb() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("desktoptest: %w", err)
	}
	defer r.Close()
	// -displayfd: the server picks a free display itself and writes its
	// number to fd 3 (ExtraFiles[0]) once it accepts connections, so there
	// is no display-number race between parallel tests and nothing to poll.
	screen := fmt.Sprintf("%dx%dx24", d.width, d.height)
	p, err := d.spawn("xvfb", []*os.File{w}, "Xvfb", "-displayfd", "3", "-screen", "0", screen, "-nolisten", "tcp", "-noreset")
	w.Close()
	if err != nil {
		return err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return p.failure(fmt.Errorf("no display number from -displayfd (%q)", s))
		}
		d.Display = ":" + strconv.Itoa(n)
		return nil
	case <-time.After(startTimeout):
		return p.failure(fmt.Errorf("no display number after %v", startTimeout))
	}
}

func (d *Desktop) startOpenbox() error {
	p, err := d.spawn("openbox", nil, "openbox", "--sm-disable", "--config-file", filepath.Join(d.Dir, "openbox-rc.xml"))
	if err != nil {
		return err
	}
	// An EWMH window manager announces itself with _NET_SUPPORTING_WM_CHECK
	// on the root window; before that, clicks do not focus and
	// _NET_ACTIVE_WINDOW is not kept.
	return p.poll("openbox to set _NET_SUPPORTING_WM_CHECK", func() (bool, error) {
		out, err := d.x("xprop", "-root", "_NET_SUPPORTING_WM_CHECK")
		return err == nil && strings.Contains(out, "window id #"), nil
	})
}

// Size is the screen's size in pixels.
func (d *Desktop) Size() (width, height int) { return d.width, d.height }

// Env returns os.Environ() with DISPLAY (and XAUTHORITY) set for this
// desktop, for child processes. WAYLAND_DISPLAY is dropped so a toolkit
// that prefers Wayland cannot slip onto the developer's real session.
func (d *Desktop) Env() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "DISPLAY" || k == "XAUTHORITY" || k == "WAYLAND_DISPLAY" || k == "XDG_SESSION_TYPE"
	})
	env = append(env, "DISPLAY="+d.Display)
	if d.XAuthority != "" {
		env = append(env, "XAUTHORITY="+d.XAuthority)
	}
	return env
}

// Stop ends every process the desktop started, by pid: SIGTERM, then
// SIGKILL to those still running after 2 s. A Chromium is signalled as its
// process group, and Stop waits until none of the group is left. Then it
// stops the Chromium windows' server and their acks not yet written. It is
// idempotent.
func (d *Desktop) Stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return d.stopErr
	}
	d.stopped = true
	procs := make([]Ender, len(d.procs))
	for i, p := range d.procs {
		procs[i] = p
	}
	err := StopAll("desktoptest", procs, stopGrace, d.logf)
	if d.rec != nil {
		d.rec.close()
	}
	d.stopErr = err
	return d.stopErr
}

// WaitFor calls cond every interval until it reports true, it fails, or
// timeout passes. Its errors carry no package prefix.
func WaitFor(timeout, interval time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// waitFor is WaitFor 10 ms apart, for callers after Start, with their own
// deadline.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	if err := WaitFor(timeout, 10*time.Millisecond, what, cond); err != nil {
		return fmt.Errorf("desktoptest: %w", err)
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
