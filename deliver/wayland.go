// What a Wayland session hides from an X11 desktop.

package deliver

import (
	"fmt"
	"os"
	"strings"
)

// Wayland reports whether this process runs in a Wayland session, and how
// that was told (WAYLAND_DISPLAY, XDG_SESSION_TYPE). There the X server is
// XWayland: it knows only the apps that run as X clients. An app that runs
// as a native Wayland client (Electron 38+ does by default there: Cursor,
// VS Code; GTK4 and Qt apps) has no X window: no X tool can find, focus,
// click or paste into it, and a delivery to it could only ever see the
// wrong window.
func Wayland() (how string, ok bool) {
	var why []string
	if v := os.Getenv("WAYLAND_DISPLAY"); v != "" {
		why = append(why, "WAYLAND_DISPLAY="+v)
	}
	if v := os.Getenv("XDG_SESSION_TYPE"); strings.EqualFold(v, "wayland") {
		why = append(why, "XDG_SESSION_TYPE="+v)
	}
	return strings.Join(why, ", "), len(why) > 0
}

// WaylandFix is what to do about an agent's app that runs as a native
// Wayland client.
const WaylandFix = "start the agent's app as an X client (XWayland): Electron apps with --ozone-platform=x11 (e.g. cursor --ozone-platform=x11, code --ozone-platform=x11; or in its .desktop file's Exec line), GTK apps with GDK_BACKEND=x11, Qt apps with QT_QPA_PLATFORM=xcb; or log in to an X11 session"

// WaylandHint is a sentence to append to a reason that an agent's window
// was not found or not focused: in a Wayland session it says the window
// may be a native Wayland one and what to do; elsewhere it is "".
func WaylandHint() string {
	how, ok := Wayland()
	if !ok {
		return ""
	}
	return fmt.Sprintf("; this is a Wayland session (%s), where a window of an app running as a native Wayland client (Electron 38+: Cursor, VS Code) does not exist for X11: %s", how, WaylandFix)
}
