package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/deliver"
)

// checklist prints one line per check: "ok", "FAIL" (with the fix) or
// "skip" (not checked because an earlier check failed), and counts the
// failures for the exit code.
type checklist struct {
	w     io.Writer
	fails int
}

func (c *checklist) ok(what, format string, args ...any) {
	fmt.Fprintf(c.w, "ok    %-14s %s\n", what, fmt.Sprintf(format, args...))
}

func (c *checklist) fail(what, problem, fix string) {
	c.fails++
	fmt.Fprintf(c.w, "FAIL  %-14s %s\n", what, problem)
	if fix != "" {
		fmt.Fprintf(c.w, "      %-14s fix: %s\n", "", fix)
	}
}

func (c *checklist) skip(what, why string) {
	fmt.Fprintf(c.w, "skip  %-14s not checked: %s\n", what, why)
}

// result is the command's error: nil, or how many checks failed.
func (c *checklist) result(cmd string) error {
	if c.fails == 0 {
		return nil
	}
	s := "s"
	if c.fails == 1 {
		s = ""
	}
	return fmt.Errorf("%s: %d check%s failed (see the FAIL lines above)", cmd, c.fails, s)
}

// checkAgents checks each agent's point against the screens and looks for
// its window among the windows the window manager manages. It returns,
// per agent, the windows that match.
func checkAgents(c *checklist, cfg *config.Config, screens []deliver.Screen, windows []deliver.ProbedWindow) map[string][]deliver.ProbedWindow {
	found := map[string][]deliver.ProbedWindow{}
	for _, a := range cfg.Agents {
		if a.Tmux != "" {
			continue // a pane, not a window: doctorPanes checks it
		}
		what := a.Name
		var on *deliver.Screen
		for i := range screens {
			if screens[i].Contains(a.X, a.Y) {
				on = &screens[i]
				break
			}
		}
		if on == nil {
			names := make([]string, len(screens))
			for i, s := range screens {
				names[i] = s.String()
			}
			hint := ""
			if (a.X < 0 || a.Y < 0) && runtime.GOOS != "windows" {
				hint = "X11 puts the top-left of the leftmost, topmost monitor at (0, 0), so there are no negative coordinates here (a Windows-era file may have them); "
			}
			c.fail(what, fmt.Sprintf("point (%d, %d) is on no screen (screens: %s)", a.X, a.Y, strings.Join(names, ", ")),
				fmt.Sprintf("%srecapture it: agentspool coords capture %s", hint, a.Name))
			continue
		}
		var match []deliver.ProbedWindow
		for _, w := range windows {
			if a.MatchWindow(w.Title, w.Instance, w.Class, w.PID) {
				match = append(match, w)
			}
		}
		found[a.Name] = match
		if len(match) == 0 {
			c.fail(what, fmt.Sprintf("no window matches %s (open windows: %s)", binding(a), titles(windows)),
				fmt.Sprintf("open the agent's app, or set window: to part of its title (agentspool coords capture %s records it)%s", a.Name, deliver.WaylandHint()))
			continue
		}
		var inside *deliver.ProbedWindow
		for i := range match {
			if match[i].Frame.Contains(a.X, a.Y) {
				inside = &match[i]
				break
			}
		}
		if inside == nil {
			c.fail(what, fmt.Sprintf("point (%d, %d) is outside its window %q (at %s)", a.X, a.Y, match[0].Title, match[0].Frame),
				fmt.Sprintf("the window moved or the point is stale: agentspool coords capture %s", a.Name))
			continue
		}
		more := ""
		if len(match) > 1 {
			more = fmt.Sprintf(" (%d windows match; the click decides which gets the text)", len(match))
		}
		c.ok(what, "(%d, %d) on screen %s, in window %q (0x%x, pid %d)%s", a.X, a.Y, on, inside.Title, inside.ID, inside.PID, more)
		checkProgram(c, a, inside.Window)
	}
	return found
}

// checkProgram says what runs behind the agent's window (a terminal, the
// agent CLI in it) and what that means for its delivery.
func checkProgram(c *checklist, a *config.Agent, w deliver.Window) {
	p := deliver.Inspect(w)
	what := a.Name + " program"
	if !p.IsTerminal() {
		if a.Kind == config.KindTerminal {
			c.ok(what, "kind: terminal (its window, class %q, is no terminal known here): no click, no look, no interrupting key", w.Class)
		} else {
			c.ok(what, "a chat window (class %q): clicked, looked into, pasted with ctrl+v", w.Class)
		}
		return
	}
	prof, _ := p.Profile()
	undo := "none that is safe in a terminal (a paste to take back holds the agent)"
	if len(prof.Undo) > 0 {
		undo = strings.Join(prof.Undo, "+")
	}
	c.ok(what, "%s: focused without a click, pasted with %s, never looked into, no ctrl+c/z/d/\\ ever; undo %s; %v between paste and submit",
		p, strings.Join(p.PasteKey(), "+"), undo, prof.SubmitGap)
	if p.CLI != "" && a.Window != "" && a.Class == "" && a.PID == 0 {
		c.fail(a.Name+" binding", fmt.Sprintf("bound by its title %q alone, which %s rewrites", a.Window, p.CLI),
			fmt.Sprintf("bind it by what lasts: agentspool coords capture %s --at %d,%d", a.Name, a.X, a.Y))
	}
	if a.Kind == config.KindChat {
		c.fail(a.Name+" kind", "kind: chat is written, but the window is a terminal ("+p.Terminal+"): the terminal's rules apply anyway",
			"leave kind: out (auto) or write kind: terminal")
	}
}

// binding says how an agent's window is recognised, for messages.
func binding(a *config.Agent) string {
	var parts []string
	if a.Window != "" {
		parts = append(parts, fmt.Sprintf("window: %q", a.Window))
	}
	if a.Class != "" {
		parts = append(parts, fmt.Sprintf("class: %q", a.Class))
	}
	if a.PID != 0 {
		parts = append(parts, fmt.Sprintf("pid: %d", a.PID))
	}
	return strings.Join(parts, ", ")
}

func pidNote(pid int) string {
	if pid == 0 {
		return ""
	}
	return fmt.Sprintf(" with pid %d", pid)
}

func titles(ws []deliver.ProbedWindow) string {
	var ts []string
	for _, w := range ws {
		ts = append(ts, fmt.Sprintf("%q", w.Title))
	}
	if len(ts) == 0 {
		return "none"
	}
	sort.Strings(ts)
	return strings.Join(ts, ", ")
}
