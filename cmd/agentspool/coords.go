package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/deliver"
)

var coordsCommand = &command{
	name: "coords", order: 51,
	summary: "find an agent's chat input coordinates; import cursor_agent_coords.json",
	usage:   "coords capture AGENT [--at X,Y | --countdown 3s] [--window TITLE] | coords import FILE [--write] | coords check [--click]",
	help: `Calibrates the agents' points in coords.yaml. Edits keep the file's
comments, blank lines and order; an agent not in the file is added at the
end of agents:.

  capture AGENT   counts down, then records where the pointer is and the
                  title of the focused window as AGENT's x, y and window.
                  During the countdown, click into the agent's chat input
                  and leave the pointer there. --window TITLE records TITLE
                  (a substring or /regex/) instead of the whole title, for
                  apps whose title changes with the open file.
                  --at X,Y records the window under that point at once (no
                  countdown, no click: scriptable), bound by what lasts: a
                  terminal by its WM_CLASS instance when no other window
                  has it, else by its class and process; an agent CLI
                  rewrites the title, so no window: is written for it.
  import FILE     converts the older cursor_agent_coords.json
                  ({"agents": {"Agent-1": {"chat_input_coordinates": [x, y]}}}).
                  Prints the agents as coords.yaml entries; --write puts them
                  into the config (agents there keep their window:, new ones
                  get their name as the window until you capture them).
  check           each agent's point is on a screen and inside a window whose
                  title matches, and what runs there (a terminal, the agent
                  CLI in it); --click also clicks each point (a terminal's
                  window is activated instead) under the desktop lock and
                  checks which window got the focus.

Example:
  agentspool coords capture Agent-3 --countdown 5s
  agentspool coords capture Agent-4 --at 1500,900
  agentspool coords import ~/old/cursor_agent_coords.json --write
  agentspool coords check --click`,
	run: runCoords,
}

func runCoords(e *env, args []string) error {
	if len(args) == 0 || isHelpFlag(args[0]) {
		_, err := e.parse(e.flagSet(), args, 1, -1)
		return err
	}
	fs := e.flagSet()
	switch args[0] {
	case "capture":
		countdown := fs.Duration("countdown", 3*time.Second, "time to put the pointer on the chat input and click it")
		window := fs.String("window", "", "record this `TITLE` matcher instead of the focused window's whole title")
		at := fs.String("at", "", "record the window under the point `X,Y` now: no countdown, no click")
		ops, err := e.parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if !config.ValidName(ops[0]) {
			return usageErr(e.cmd, fmt.Errorf("bad agent name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", ops[0]))
		}
		if *countdown < 0 {
			return usageErr(e.cmd, errors.New("--countdown must not be negative"))
		}
		if *at != "" {
			var x, y int
			if n, err := fmt.Sscanf(*at, "%d,%d", &x, &y); n != 2 || err != nil || fmt.Sprintf("%d,%d", x, y) != strings.ReplaceAll(*at, " ", "") {
				return usageErr(e.cmd, fmt.Errorf("bad --at %q: want X,Y in screen pixels, e.g. --at 640,700", *at))
			}
			return coordsCaptureAt(e, ops[0], x, y, *window)
		}
		return coordsCapture(e, ops[0], *countdown, *window)
	case "import":
		write := fs.Bool("write", false, "write the agents into the config instead of printing them")
		ops, err := e.parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		return coordsImport(e, ops[0], *write)
	case "check":
		click := fs.Bool("click", false, "also click each agent's point and check the focused window")
		if _, err := e.parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		return coordsCheck(e, *click)
	}
	return usageErr(e.cmd, fmt.Errorf("unknown coords action %q (want capture, import or check)", args[0]))
}

// readConfigText reads the config file for editing; a missing file is an
// empty one (the edit creates it).
func readConfigText(path string) ([]byte, fs.FileMode, error) {
	data, err := safeio.ReadFile(path, safeio.OpenOptions{MaxBytes: 16 << 20, FollowLinks: true})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o644, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("config: %w", err)
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return data, mode, nil
}

// writeConfigText checks that text is a valid configuration and replaces
// the file with it (temp file, fsync, rename: never half-written).
func writeConfigText(path string, text []byte, mode fs.FileMode) error {
	if _, err := config.Parse(text, path); err != nil {
		return fmt.Errorf("not written, the result would not load: %w", err)
	}
	if err := safeio.WriteFile(path, text, mode); err != nil && !safeio.IsSyncDirError(err) {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	return nil
}

func coordsCapture(e *env, agent string, countdown time.Duration, window string) error {
	data, mode, err := readConfigText(e.configPath)
	if err != nil {
		return err
	}
	desk, err := deliver.NewDesktop()
	if err != nil {
		return err
	}
	defer desk.Close()
	fmt.Fprintf(e.stdout, "Click into %s's chat input and leave the pointer there.\n", agent)
	for left := countdown; left > 0; {
		step := min(left, time.Second)
		fmt.Fprintf(e.stdout, "  %s...\n", left.Round(100*time.Millisecond))
		time.Sleep(step)
		left -= step
	}
	x, y, err := desk.Pointer()
	if err != nil {
		return err
	}
	w, err := desk.Focused()
	if err != nil {
		return err
	}
	if w.Title == "" && window == "" {
		return fmt.Errorf("coords: no titled window has the focus (focus 0x%x): click into %s's chat input during the countdown, or give --window TITLE", w.ID, agent)
	}
	if window == "" {
		window = w.Title
	}
	out, err := config.EditAgents(data, []config.AgentEdit{{Name: agent, X: x, Y: y, Window: window}})
	if err != nil {
		return err
	}
	if err := writeConfigText(e.configPath, out, mode); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: x %d, y %d, window %q (focused: %q, pid %d) -> %s\n", agent, x, y, window, w.Title, w.PID, e.configPath)
	return nil
}

// coordsCaptureAt records the window under (x, y) as agent's, bound by
// what lasts (deliver.BindingFor): no countdown, no click, no key, so a
// script can calibrate a desktop of running agents.
func coordsCaptureAt(e *env, agent string, x, y int, window string) error {
	data, mode, err := readConfigText(e.configPath)
	if err != nil {
		return err
	}
	desk, err := deliver.NewDesktop()
	if err != nil {
		return err
	}
	defer desk.Close()
	w, err := desk.WindowAt(x, y)
	if err != nil {
		return err
	}
	if w.ID == 0 {
		return fmt.Errorf("coords: no window at (%d, %d): put the agent's window there, or give the point of its input", x, y)
	}
	p, err := deliver.OpenProbe()
	if err != nil {
		return err
	}
	all, err := p.Windows()
	p.Close()
	if err != nil {
		return err
	}
	prog := deliver.Inspect(w)
	b := deliver.BindingFor(w, prog, all)
	if window != "" {
		b = deliver.Binding{Window: window, Why: "--window"}
	}
	edit := config.AgentEdit{Name: agent, X: x, Y: y, Window: b.Window, Class: b.Class, PID: b.PID, DropWindow: b.Window == ""}
	out, err := config.EditAgents(data, []config.AgentEdit{edit})
	if err != nil {
		return err
	}
	if err := writeConfigText(e.configPath, out, mode); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: x %d, y %d, bound by %s -> %s\n  window there: %q (0x%x, class %s/%s, pid %d): %s\n",
		agent, x, y, b.Why, e.configPath, w.Title, w.ID, w.Instance, w.Class, w.PID, prog)
	return nil
}

func coordsImport(e *env, file string, write bool) error {
	raw, err := safeio.ReadFile(file, safeio.OpenOptions{MaxBytes: 16 << 20, FollowLinks: true})
	if err != nil {
		return fmt.Errorf("coords: %w", err)
	}
	agents, err := config.ParseCursorCoords(raw)
	if err != nil {
		return err
	}
	data, mode, err := readConfigText(e.configPath)
	if err != nil {
		return err
	}
	// Agents already in the file keep their window: unless the old file
	// names one; new ones need one to load at all.
	var existing *config.Config
	if len(data) > 0 {
		existing, _ = config.Parse(data, e.configPath)
	}
	var edits []config.AgentEdit
	var guessed, negative []string
	for _, a := range agents {
		ed := config.AgentEdit{Name: a.Name, X: a.X, Y: a.Y, Window: a.Window}
		if ed.Window == "" {
			known := false
			if existing != nil {
				_, known = existing.Agent(a.Name)
			}
			if !known && !hasAgentKey(data, a.Name) {
				ed.Window = a.Name
				guessed = append(guessed, a.Name)
			}
		}
		if a.X < 0 || a.Y < 0 {
			negative = append(negative, a.Name)
		}
		edits = append(edits, ed)
	}
	if !write {
		fmt.Fprintf(e.stdout, "# %d agents from %s; add them to coords.yaml, or run again with --write\nagents:\n", len(agents), file)
		for _, ed := range edits {
			fmt.Fprintf(e.stdout, "  %s:\n    x: %d\n    y: %d\n", ed.Name, ed.X, ed.Y)
			if ed.Window != "" {
				fmt.Fprintf(e.stdout, "    window: %q\n", ed.Window)
			}
		}
	} else {
		out, err := config.EditAgents(data, edits)
		if err != nil {
			return err
		}
		if err := writeConfigText(e.configPath, out, mode); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "imported %d agents from %s into %s\n", len(agents), file, e.configPath)
	}
	if len(guessed) > 0 {
		fmt.Fprintf(e.stderr, "agentspool: note: the old file has no window titles; %s got their own name as window:. Set the real title (agentspool coords capture NAME records it), or no message will be pasted.\n", strings.Join(guessed, ", "))
	}
	if len(negative) > 0 {
		fmt.Fprintf(e.stderr, "agentspool: note: %s have negative coordinates (a monitor left of or above the primary, as Windows counts). X11 starts the virtual screen at (0, 0) on the leftmost monitor: check with agentspool coords check, and recapture what is off.\n", strings.Join(negative, ", "))
	}
	return nil
}

// hasAgentKey: the file mentions the agent (though it may not load yet).
func hasAgentKey(data []byte, name string) bool {
	for _, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, name+":") || strings.HasPrefix(t, `"`+name+`":`) {
			return true
		}
	}
	return false
}

func coordsCheck(e *env, click bool) error {
	cfg, err := e.config()
	if err != nil {
		return err
	}
	c := &checklist{w: e.stdout}
	doctorPanes(c, cfg)
	if cfg.WindowAgents() == 0 {
		return c.result("coords check")
	}
	p, err := deliver.OpenProbe()
	if err != nil {
		return err
	}
	defer p.Close()
	screens, err := p.Screens()
	if err != nil {
		return err
	}
	windows, err := p.Windows()
	if err != nil {
		return err
	}
	found := checkAgents(c, cfg, screens, windows)
	if click {
		if err := clickCheck(e, c, cfg, found); err != nil {
			return err
		}
	}
	return c.result("coords check")
}

// clickCheck clicks each agent's point under the desktop lock (so a running
// daemon is not typing meanwhile) and checks which window got the focus.
func clickCheck(e *env, c *checklist, cfg *config.Config, found map[string][]deliver.ProbedWindow) error {
	lock, err := desktopLock(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := lock.Lock(ctx); err != nil {
		return fmt.Errorf("coords: %w (a delivery has held it for 30s)", err)
	}
	defer lock.Unlock()
	desk, err := deliver.NewDesktop()
	if err != nil {
		return err
	}
	defer desk.Close()
	for _, a := range cfg.Agents {
		if a.Tmux != "" {
			continue
		}
		if len(found[a.Name]) == 0 {
			c.skip(a.Name+" click", "no window to click into")
			continue
		}
		// A terminal is activated, never clicked: a click moves a TUI's
		// caret into the text of its input.
		click := func() error { return desk.Click(a.X, a.Y) }
		if under, err := desk.WindowAt(a.X, a.Y); err == nil && under.ID != 0 && (a.Kind == config.KindTerminal || deliver.Inspect(under).IsTerminal()) {
			click = func() error { return desk.Activate(under) }
		}
		if err := click(); err != nil {
			c.fail(a.Name+" click", err.Error(), "")
			continue
		}
		var w deliver.Window
		// A loaded desktop can take seconds to move the focus: wait
		// generously, this is a check, not a delivery. A focus that did
		// not follow within clickAgain gets one more click, as a delivery
		// clicks again after a refused activation (more than 500 ms after
		// the first: no double click). Under Wine each process takes the
		// window manager's WM_TAKE_FOCUS for its window in its own time:
		// the previous agent's, late, made that window the foreground
		// again after this click (TestWindowsDoctorAndLogonTask, once in a
		// loaded make test), and nothing moved it back.
		start := time.Now()
		deadline, again := start.Add(5*time.Second), start.Add(clickAgain)
		for {
			w, err = desk.Focused()
			if err == nil && a.MatchWindow(w.Title, w.Instance, w.Class, w.PID) || time.Now().After(deadline) {
				break
			}
			if !again.IsZero() && time.Now().After(again) {
				again = time.Time{}
				if err := click(); err != nil {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		switch {
		case err != nil:
			c.fail(a.Name+" click", err.Error(), "")
		case a.MatchWindow(w.Title, w.Instance, w.Class, w.PID):
			c.ok(a.Name+" click", "focused %q (0x%x, pid %d)", w.Title, w.ID, w.PID)
		default:
			c.fail(a.Name+" click", fmt.Sprintf("after the click the focus is on %q (0x%x, pid %d), which does not match window: %q%s", w.Title, w.ID, w.PID, a.Window, pidNote(a.PID)),
				fmt.Sprintf("another window covers the point, or the app needs a different title: agentspool coords capture %s", a.Name))
		}
	}
	return nil
}

// clickAgain is how long coords check --click waits for the focus to
// follow its click before it clicks once more: the focus follows within
// 60 ms on a loaded desktop under Wine (60 clicks measured).
const clickAgain = time.Second

// desktopLock is the lock the daemon takes on this desktop.
func desktopLock(cfg *config.Config) (*deliver.DesktopLock, error) {
	path := cfg.LockFile
	if path == "" {
		path = deliver.DefaultLockPath(os.Getenv("DISPLAY"))
	}
	return deliver.NewDesktopLock(path)
}
