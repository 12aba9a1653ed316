package main

import (
	"fmt"
	"log/slog"

	"github.com/agentspool/agentspool/deliver"
)

// doctorWayland says, in a Wayland session, what agentspool cannot see
// there: a window of an app that runs as a native Wayland client. It is
// a warning, not a failure: apps that run under XWayland are driven as on
// any X11 desktop; an agent whose window is then not found gets the fix
// on its own line (checkAgents).
func doctorWayland(c *checklist) {
	how, ok := deliver.Wayland()
	if !ok {
		return
	}
	c.warn("wayland", fmt.Sprintf("a Wayland session (%s): agentspool sees and drives X clients only (through XWayland); a window of an app that runs as a native Wayland client (Electron 38+ does by default: Cursor, VS Code) does not exist for it, and gets nothing", how),
		deliver.WaylandFix)
}

// warnWayland is the daemon's word at start in a Wayland session.
func warnWayland(log *slog.Logger) {
	if how, ok := deliver.Wayland(); ok {
		log.Warn("a Wayland session: only agents' windows of X clients (XWayland) can be found and delivered to; a native Wayland window (Electron 38+: Cursor, VS Code) cannot: its focus check fails and its agent is held",
			"session", how, "fix", deliver.WaylandFix)
	}
}

// warn is a check that passed with a caveat the person must know: not
// counted as a failure.
func (c *checklist) warn(what, problem, fix string) {
	fmt.Fprintf(c.w, "warn  %-14s %s\n", what, problem)
	if fix != "" {
		fmt.Fprintf(c.w, "      %-14s fix: %s\n", "", fix)
	}
}
