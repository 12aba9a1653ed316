//go:build unix

package agentcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// prepare makes the agent's folders, the CLI's offline configuration, the
// hook script and the launcher (run.sh) that starts the CLI with nothing
// of the test's environment but what it is given, then runs
// Options.BeforeStart.
func prepare(o *Options, extraEnv []string) (*Agent, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("agentcli: %w", err)
	}
	// Codex keys hook trust by the real path of hooks.json, and Claude
	// Code its trusted folders by the real path of the work folder.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("agentcli: %w", err)
	}
	a := &Agent{
		Program: o.Program,
		Dir:     dir,
		Home:    filepath.Join(dir, "home"),
		WorkDir: filepath.Join(dir, "work"),
		Model:   o.Model,
		logf:    o.Log,
		prog:    programs[o.Program],
	}
	for _, d := range []string{a.Home, a.WorkDir, filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("agentcli: %w", err)
		}
	}
	hook := ""
	if o.Hooks {
		a.HookLog = filepath.Join(dir, "hooks.jsonl")
		hook = filepath.Join(dir, "hook.sh")
		script := "#!/bin/sh\n# agentcli: record the hook's payload, one line, then run the test's command on it.\n" +
			"payload=$(cat)\nprintf '%s\\n' \"$payload\" >>" + shellQuote(a.HookLog) + "\n"
		if o.HookCommand != "" {
			script += "printf '%s' \"$payload\" | " + o.HookCommand + "\n"
		}
		if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
			return nil, fmt.Errorf("agentcli: %w", err)
		}
	}
	env, err := a.prog.setup(a, hook)
	if err != nil {
		return nil, fmt.Errorf("agentcli: %s set-up: %w", o.Program, err)
	}
	// The CLI's whole environment. npm_config_registry points any npm
	// the CLI runs (Qwen Code's update check is `npm view`) at the mock,
	// so a setting missed here fails on loopback instead of going out.
	env = append([]string{
		"HOME=" + a.Home,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"USER=" + cmpOr(os.Getenv("USER"), "agentcli"),
		"SHELL=/bin/sh",
		"npm_config_registry=" + a.Model.URL + "/npm/",
		"NO_UPDATE_NOTIFIER=1",
	}, append(extraEnv, env...)...)
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# agentcli: start " + o.Program + " with its own environment only.\n")
	b.WriteString("echo $$ >" + shellQuote(filepath.Join(dir, "cli.pid")) + "\n")
	b.WriteString("cd " + shellQuote(a.WorkDir) + " || exit 1\n")
	// TERM and COLORTERM are the terminal's (or tmux's).
	b.WriteString("exec env -i ${TERM:+\"TERM=$TERM\"} ${COLORTERM:+\"COLORTERM=$COLORTERM\"}")
	for _, kv := range env {
		b.WriteString(" \\\n\t" + shellQuote(kv))
	}
	b.WriteString(" \\\n\t" + shellQuote(filepath.Join(o.NPMDir, "node_modules", ".bin", a.prog.bin)))
	for _, arg := range a.prog.args {
		b.WriteString(" " + shellQuote(arg))
	}
	b.WriteString("\n")
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte(b.String()), 0o755); err != nil {
		return nil, fmt.Errorf("agentcli: %w", err)
	}
	if o.BeforeStart != nil {
		if err := o.BeforeStart(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ready returns a once the CLI's input is ready (awaitCLI), after a start
// that went well (err nil); on a failure it stops what was started.
func (a *Agent) ready(err error) (*Agent, error) {
	if err == nil {
		err = a.awaitCLI()
	}
	if err != nil {
		_ = a.Stop()
		return nil, err
	}
	return a, nil
}

// awaitCLI waits for the launcher's pid file, then for the ready text on
// the screen, failing early if the CLI exits.
func (a *Agent) awaitCLI() error {
	pidFile := filepath.Join(a.Dir, "cli.pid")
	err := waitFor(startTimeout, "the launcher's pid", func() (bool, error) {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return false, nil
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			return false, nil // written but not yet whole
		}
		a.CLIPID = pid
		return true, nil
	})
	if err != nil {
		return err
	}
	if a.cliSID, err = sessionOf(a.CLIPID); err != nil {
		return fmt.Errorf("agentcli: %s: %w", a.Program, err)
	}
	begin := time.Now()
	err = waitFor(startTimeout, a.Program+" ready ("+strconv.Quote(a.prog.ready)+" on screen)", func() (bool, error) {
		screen, err := a.Screen()
		if err != nil {
			return false, err
		}
		if strings.Contains(screen, a.prog.ready) {
			return true, nil
		}
		if !alive(a.CLIPID) {
			return false, errors.New("the CLI exited")
		}
		return false, nil
	})
	if err != nil {
		screen, _ := a.Screen()
		return fmt.Errorf("%w\n--- screen ---\n%s", err, tailLines(screen, 30))
	}
	a.logf("agentcli: %s (pid %d) ready in %v", a.Program, a.CLIPID, time.Since(begin).Round(time.Millisecond))
	return nil
}

// PaneScreen is a pane agent's visible screen as tmux shows it
// (capture-pane), its lines as they are.
func (a *Agent) PaneScreen() (string, error) { return a.tmux("capture-pane", "-p", "-t", a.Pane) }

// Screen returns what the CLI shows, with escape sequences taken out and
// each run of white space made one space: in a pane, the visible screen;
// in a window, the screen the terminal shows, from its typescript.
func (a *Agent) Screen() (string, error) {
	if a.Pane != "" {
		out, err := a.PaneScreen()
		if err != nil {
			return "", err
		}
		return normalize(out), nil
	}
	return a.windowScreen()
}

// windowScreen feeds what the terminal got since the last look into the
// window's screen model and returns its text. script(1) starts the
// typescript with a line naming the terminal's size.
func (a *Agent) windowScreen() (string, error) {
	a.vtMu.Lock()
	defer a.vtMu.Unlock()
	data, err := os.ReadFile(a.Typescript)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if a.vt == nil {
		header, _, ok := strings.Cut(string(data), "\n")
		if !ok {
			return "", nil
		}
		m := sizeRE.FindStringSubmatch(header)
		if m == nil {
			return "", fmt.Errorf("agentcli: no terminal size in the typescript's header %q", header)
		}
		cols, _ := strconv.Atoi(m[1])
		rows, _ := strconv.Atoi(m[2])
		a.vt = newScreen(cols, rows)
		a.vtFed = len(header) + 1
	}
	if len(data) > a.vtFed {
		a.vt.Write(data[a.vtFed:])
		a.vtFed = len(data)
	}
	return normalize(a.vt.String()), nil
}

var sizeRE = regexp.MustCompile(`COLUMNS="(\d+)" LINES="(\d+)"`)

// WaitScreen waits until the screen contains text (its white space
// normalized as in Screen).
func (a *Agent) WaitScreen(timeout time.Duration, text string) error {
	want := normalize(text)
	err := waitFor(timeout, strconv.Quote(text)+" on "+a.Program+"'s screen", func() (bool, error) {
		s, err := a.Screen()
		return strings.Contains(s, want), err
	})
	if err != nil {
		s, _ := a.Screen()
		return fmt.Errorf("%w\n--- screen (tail) ---\n%s", err, tailLines(s, 2000))
	}
	return nil
}

var spaceRE = regexp.MustCompile(`\s+`)

func normalize(s string) string { return strings.TrimSpace(spaceRE.ReplaceAllString(s, " ")) }

func tailLines(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// HookCall is one hook run, as the CLI gave it on stdin.
type HookCall struct {
	Event   string         // hook_event_name: UserPromptSubmit, Stop, BeforeAgent, AfterAgent
	Prompt  string         // prompt, where the event has one
	Payload map[string]any // the whole payload
}

// HookCalls reads the hook record so far.
func (a *Agent) HookCalls() ([]HookCall, error) {
	if a.HookLog == "" {
		return nil, errors.New("agentcli: started without Options.Hooks")
	}
	data, err := os.ReadFile(a.HookLog)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var calls []HookCall
	for line := range strings.SplitSeq(strings.TrimRight(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return calls, fmt.Errorf("agentcli: hook payload not one JSON line: %w: %q", err, line)
		}
		c := HookCall{Payload: p}
		c.Event, _ = p["hook_event_name"].(string)
		c.Prompt, _ = p["prompt"].(string)
		calls = append(calls, c)
	}
	return calls, nil
}

// run runs a short command and returns its stdout.
func run(env []string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// baseEnv is the test's environment without anything that would let a
// child reach the developer's own session (display, bus, tmux).
func baseEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "TMUX", "TMUX_PANE":
			return true
		}
		return false
	})
}

// Cell finds text on a window's screen (as typed: its white space not
// folded), on the lowest row that holds it (a TUI's input is below its
// history), and returns the row and column, from 0, of the cell that
// holds its first character; a wide character takes two cells.
func (a *Agent) Cell(text string) (row, col int, err error) {
	err = a.onScreen(func(vt *screen) error {
		for r := len(vt.cells) - 1; r >= 0; r-- {
			s := string(vt.cells[r]) // one rune per cell (a wide character's second is \x00)
			if i := strings.Index(s, text); i >= 0 {
				row, col = r, utf8.RuneCountInString(s[:i])
				return nil
			}
		}
		return fmt.Errorf("agentcli: %q is not on %s's screen", text, a.Program)
	})
	return row, col, err
}

// Size is the window's screen in cells (the typescript's header).
func (a *Agent) Size() (cols, rows int, err error) {
	err = a.onScreen(func(vt *screen) error {
		cols, rows = vt.cols, vt.rows
		return nil
	})
	return cols, rows, err
}

// onScreen runs f on the window's screen, fed up to now.
func (a *Agent) onScreen(f func(vt *screen) error) error {
	if a.Pane != "" {
		return fmt.Errorf("agentcli: %s runs in a pane: no window cells", a.Program)
	}
	if _, err := a.windowScreen(); err != nil {
		return err
	}
	a.vtMu.Lock()
	defer a.vtMu.Unlock()
	if a.vt == nil {
		return fmt.Errorf("agentcli: %s has shown nothing yet", a.Program)
	}
	return f(a.vt)
}
