//go:build unix

package agentcli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StartWindow starts the CLI in a terminal window (Options.Terminal) on
// Options.Display and returns once the window is on screen and the CLI's
// input is ready. The terminal runs the CLI under script(1), which passes
// every byte through and keeps a copy of the output in <Dir>/typescript:
// that copy is how the rig (Screen) sees a window's text. On failure it
// stops what it started.
func StartWindow(o Options) (*Agent, error) {
	if o.Terminal != XTerm && o.Terminal != LXTerminal {
		return nil, fmt.Errorf("agentcli: Options.Terminal %q, want %s or %s", o.Terminal, XTerm, LXTerminal)
	}
	if o.Display == "" {
		return nil, fmt.Errorf("agentcli: StartWindow needs Options.Display")
	}
	// The CLI sees the display, as it would on a desktop (Claude Code
	// reads images from the clipboard with it).
	x := []string{"DISPLAY=" + o.Display}
	if o.XAuthority != "" {
		x = append(x, "XAUTHORITY="+o.XAuthority)
	}
	a, err := prepare(&o, x)
	if err != nil {
		return nil, err
	}
	a.Terminal, a.Display, a.PasteKey = o.Terminal, o.Display, PasteKeys[o.Terminal]
	a.Typescript = filepath.Join(a.Dir, "typescript")
	if o.Title == "" {
		o.Title = "agentcli-" + o.Program
	}
	// The terminal's HOME is the agent's too: lxterminal reads its
	// configuration from there. NO_AT_BRIDGE: GTK does not look for an
	// accessibility bus, which there is none of.
	env := append(baseEnv(), "SHELL=/bin/sh", "HOME="+a.Home, "NO_AT_BRIDGE=1")
	env = append(env, x...)
	size := fmt.Sprintf("%dx%d", cmpOr0(o.Cols, 120), cmpOr0(o.Rows, 40))
	inner := "script -qfec " + shellQuote("exec sh "+shellQuote(filepath.Join(a.Dir, "run.sh"))) + " " + shellQuote(a.Typescript)
	var argv []string
	switch o.Terminal {
	case XTerm:
		argv = []string{"xterm", "-T", o.Title, "-geometry", size,
			// Paste the CLIPBOARD with shift+Insert (PasteKeys).
			"-xrm", "XTerm*selectToClipboard: true",
			"-e", "sh", "-c", inner}
	case LXTerminal:
		conf := fmt.Sprintf("[general]\npaste_accel=<Primary><Shift>v\ncopy_accel=<Primary><Shift>c\nhidemenubar=true\nhidescrollbar=true\ngeometry_columns=%d\ngeometry_rows=%d\n", cmpOr0(o.Cols, 120), cmpOr0(o.Rows, 40))
		if err := writeFile(filepath.Join(a.Home, ".config", "lxterminal", "lxterminal.conf"), conf); err != nil {
			return nil, err
		}
		argv = []string{"lxterminal", "--no-remote", "--title=" + o.Title, "--geometry=" + size,
			"--working-directory=" + a.WorkDir, "--command=" + "sh -c " + shellQuote(inner)}
	}
	p, err := a.spawn(o.Terminal, env, argv...)
	if err != nil {
		return nil, err
	}
	a.TerminalPID = p.PID
	err = waitFor(startTimeout, o.Terminal+"'s window", func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("%s exited: %s", o.Terminal, tailFile(p.Log))
		}
		out, _ := a.x("xdotool", "search", "--onlyvisible", "--pid", strconv.Itoa(a.TerminalPID))
		if f := strings.Fields(out); len(f) > 0 {
			id, err := strconv.ParseUint(f[0], 10, 32)
			if err != nil {
				return false, err
			}
			a.WindowID = uint32(id)
			return true, nil
		}
		return false, nil
	})
	return a.ready(err)
}

func writeFile(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	return nil
}

func tailFile(path string) string {
	data, _ := os.ReadFile(path)
	return tailLines(string(data), 2000)
}

// x runs an X tool on the agent's display.
func (a *Agent) x(argv ...string) (string, error) {
	env := append(baseEnv(), "DISPLAY="+a.Display)
	return run(env, argv...)
}

// Focus makes the agent's window the active one and waits until it is.
func (a *Agent) Focus() error {
	if a.WindowID == 0 {
		return fmt.Errorf("agentcli: %s runs in a pane: nothing to focus", a.Program)
	}
	id := strconv.FormatUint(uint64(a.WindowID), 10)
	return waitFor(10*time.Second, a.Program+"'s window to be active", func() (bool, error) {
		out, _ := a.x("xdotool", "getactivewindow")
		if strings.TrimSpace(out) == id {
			return true, nil
		}
		_, err := a.x("xdotool", "windowactivate", id)
		return false, err
	})
}

// Move puts the top-left corner of the agent's window at (x, y) on the
// screen and returns once it is there.
func (a *Agent) Move(x, y int) error {
	if a.WindowID == 0 {
		return fmt.Errorf("agentcli: %s runs in a pane: no window to move", a.Program)
	}
	id := strconv.FormatUint(uint64(a.WindowID), 10)
	if _, err := a.x("xdotool", "windowmove", "--sync", id, strconv.Itoa(x), strconv.Itoa(y)); err != nil {
		return fmt.Errorf("agentcli: move %s's window: %w", a.Program, err)
	}
	return nil
}

// Geometry is the place of the agent's window on the screen (its top-left
// corner) and its size, as xdotool reports them.
func (a *Agent) Geometry() (x, y, width, height int, err error) {
	if a.WindowID == 0 {
		return 0, 0, 0, 0, fmt.Errorf("agentcli: %s runs in a pane: no window", a.Program)
	}
	out, err := a.x("xdotool", "getwindowgeometry", "--shell", strconv.FormatUint(uint64(a.WindowID), 10))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("agentcli: geometry of %s's window: %w", a.Program, err)
	}
	g := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			g[k], _ = strconv.Atoi(v)
		}
	}
	return g["X"], g["Y"], g["WIDTH"], g["HEIGHT"], nil
}

// Type types text into the agent's input: in a pane with tmux send-keys,
// in a window with xdotool (focusing it first) as a person would.
func (a *Agent) Type(text string) error {
	if a.Pane != "" {
		_, err := a.tmux("send-keys", "-t", a.Pane, "-l", text)
		return err
	}
	if err := a.Focus(); err != nil {
		return err
	}
	_, err := a.x("xdotool", "type", "--delay", "15", "--", text)
	return err
}

// Key taps a key, in xdotool's spelling ("Return", "ctrl+shift+v"); in a
// pane Return is sent as tmux's Enter and other keys as tmux names them.
func (a *Agent) Key(key string) error {
	if a.Pane != "" {
		if key == "Return" {
			key = "Enter"
		}
		_, err := a.tmux("send-keys", "-t", a.Pane, key)
		return err
	}
	if err := a.Focus(); err != nil {
		return err
	}
	_, err := a.x("xdotool", "key", "--", key)
	return err
}

// Paste pastes text as a person would: in a window, text goes to the
// CLIPBOARD (an xclip of the agent's own holds it) and the terminal's
// PasteKey is tapped; in a pane, through a tmux buffer, bracketed where
// the CLI asked for it. It returns once the paste has been sent, not
// landed: wait on the screen for that.
func (a *Agent) Paste(text string) error {
	if a.Pane != "" {
		if _, err := run(baseEnv(), "sh", "-c", "printf '%s' \"$1\" | tmux -S \"$2\" load-buffer -b agentcli -", "sh", text, a.TmuxSocket); err != nil {
			return err
		}
		_, err := a.tmux("paste-buffer", "-p", "-d", "-b", "agentcli", "-t", a.Pane)
		return err
	}
	if err := a.setClipboard(text); err != nil {
		return err
	}
	return a.Key(a.PasteKey)
}

// setClipboard makes an xclip of the agent's own the CLIPBOARD's owner
// with text, and waits until the CLIPBOARD reads back as text. The xclip
// is ended by Stop (or when another client takes the CLIPBOARD).
func (a *Agent) setClipboard(text string) error {
	f := filepath.Join(a.Dir, "clipboard.txt")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	env := append(baseEnv(), "DISPLAY="+a.Display)
	// -quiet keeps xclip in the foreground, where Stop can end it by pid.
	if _, err := a.spawn("xclip", env, "xclip", "-quiet", "-selection", "clipboard", "-i", f); err != nil {
		return err
	}
	return waitFor(10*time.Second, "the CLIPBOARD to hold the text", func() (bool, error) {
		out, err := a.x("xclip", "-selection", "clipboard", "-o")
		return err == nil && out == text, nil
	})
}

// cmpOr0 is v, or def when v is 0.
func cmpOr0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
