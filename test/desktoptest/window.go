package desktoptest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// pendingWindow is a fixture launched but not yet known to be on screen.
type pendingWindow struct {
	name, dir string
	proc      *process
	hooked    bool // it runs a hook on submit (FixtureOptions.Hooks)
}

// launchWindow starts one fixture wish in dir (dir/submits, dir/inbox,
// dir/ready) at the given geometry.
func (d *Desktop) launchWindow(name, dir, geometry string, neverAckFirst bool) (*pendingWindow, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("desktoptest: bad window name %q", name)
	}
	hook, hooked := d.fixture.Hooks[name]
	subs := []string{"submits", "inbox"}
	if hooked {
		if hook.Command == "" {
			return nil, fmt.Errorf("desktoptest: %s: a Hook without a Command", name)
		}
		if hook.Workspace == "" {
			hook.Workspace = dir
		}
		ws, err := filepath.Abs(hook.Workspace)
		if err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
		hook.Workspace = ws
		subs = append(subs, "hooks")
	}
	for _, sub := range subs {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
	}
	if hooked {
		if err := os.MkdirAll(hook.Workspace, 0o755); err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
	}
	never := "0"
	if neverAckFirst {
		never = "1"
	}
	ordered := "0"
	if d.fixture.OrderedKeys {
		ordered = "1"
	}
	ackDelay := d.fixture.AckDelay
	if delay, ok := d.fixture.AckDelays[name]; ok {
		ackDelay = delay
	}
	argv := []string{"wish", filepath.Join(d.Dir, "fixture.tcl"), "--",
		name, filepath.Join(dir, "submits"), filepath.Join(dir, "inbox"),
		strconv.FormatInt(ackDelay.Milliseconds(), 10), never,
		strconv.FormatInt(d.fixture.PasteDelay.Milliseconds(), 10), geometry, ordered}
	if hooked {
		argv = append(argv, hook.Command, hook.Workspace)
	}
	p, err := d.spawn(name, nil, argv...)
	if err != nil {
		return nil, err
	}
	return &pendingWindow{name: name, dir: dir, proc: p, hooked: hooked}, nil
}

// awaitWindow waits for a launched fixture to be mapped, finds its client
// window, sets _NET_WM_PID on it and measures where its input is.
func (d *Desktop) awaitWindow(pw *pendingWindow) (*AgentWindow, error) {
	p := pw.proc
	ready := filepath.Join(pw.dir, "ready")
	// The fixture writes ready (by rename) once its input is visible.
	fields, err := p.AwaitReady(startTimeout, ready)
	if err != nil {
		return nil, fmt.Errorf("desktoptest: %w", err)
	}
	toplevel, err1 := parseWindowID(fields["toplevel"])
	input, err2 := parseWindowID(fields["input"])
	if err1 != nil || err2 != nil {
		return nil, p.failure(fmt.Errorf("bad ready file %s: %q", ready, fields))
	}

	// Tk's toplevel "." is a child of a wrapper window; the wrapper is what
	// the WM manages (it carries WM_NAME, and is what _NET_ACTIVE_WINDOW and
	// xdotool getactivewindow name), so that is the window to describe.
	out, err := d.x("xwininfo", "-tree", "-id", fmt.Sprintf("%#x", toplevel))
	if err != nil {
		return nil, p.failure(err)
	}
	m := regexp.MustCompile(`Parent window id: (0x[0-9a-fA-F]+)`).FindStringSubmatch(out)
	if m == nil {
		return nil, p.failure(fmt.Errorf("no parent in xwininfo -tree of %#x:\n%s", toplevel, out))
	}
	wrapper, _ := parseWindowID(m[1])
	wid := fmt.Sprintf("%#x", wrapper)

	if title, err := d.xprop(wid, "WM_NAME"); err != nil || title != strconv.Quote(pw.name) {
		return nil, p.failure(fmt.Errorf("window %s has WM_NAME %s (err %v), want %q", wid, title, err, pw.name))
	}

	// Tk 8.6 does not set _NET_WM_PID, and Tcl cannot set a property on the
	// wrapper, so the harness sets it; the daemon's pid check reads it live.
	pid := p.PID
	if _, err := d.x("xprop", "-id", wid, "-f", "_NET_WM_PID", "32c", "-set", "_NET_WM_PID", strconv.Itoa(pid)); err != nil {
		return nil, p.failure(err)
	}
	if got, err := d.xprop(wid, "_NET_WM_PID"); err != nil || got != strconv.Itoa(pid) {
		return nil, p.failure(fmt.Errorf("_NET_WM_PID on %s reads %q (err %v), want %d", wid, got, err, pid))
	}

	// Where the input is, in root coordinates, as the X server has it. The
	// WM places the frame before the window becomes visible, but the read
	// must agree twice in a row so a late move is not taken for the answer.
	var geo, last rect
	err = p.poll(pw.name+" input geometry to settle", func() (bool, error) {
		g, err := d.geometry(input)
		if err != nil {
			return false, err
		}
		settled := g == last && g.w > 1 && g.h > 1
		last, geo = g, g
		return settled, nil
	})
	if err != nil {
		return nil, err
	}
	if geo.x < 0 || geo.y < 0 || geo.x+geo.w > d.width || geo.y+geo.h > d.height {
		return nil, p.failure(fmt.Errorf("input %+v is not inside the %dx%d screen", geo, d.width, d.height))
	}
	w := &AgentWindow{
		Name:     pw.name,
		PID:      pid,
		WindowID: wrapper,
		X:        geo.x + geo.w/2,
		Y:        geo.y + geo.h/2,
		Inbox:    filepath.Join(pw.dir, "inbox"),
		Record:   filepath.Join(pw.dir, "submits"),
	}
	if pw.hooked {
		w.HookRecord = filepath.Join(pw.dir, "hooks")
	}
	d.mu.Lock()
	d.windows[w.Name] = w
	d.mu.Unlock()
	d.logf("desktoptest: %s pid %d window %s input %dx%d+%d+%d center (%d,%d)",
		w.Name, w.PID, wid, geo.w, geo.h, geo.x, geo.y, w.X, w.Y)
	return w, nil
}

type rect struct{ x, y, w, h int }

// geometry reads a window's absolute position and size from xwininfo.
func (d *Desktop) geometry(id uint32) (rect, error) {
	out, err := d.x("xwininfo", "-id", fmt.Sprintf("%#x", id))
	if err != nil {
		return rect{}, err
	}
	var r rect
	for key, dst := range map[string]*int{
		"Absolute upper-left X:": &r.x, "Absolute upper-left Y:": &r.y, "Width:": &r.w, "Height:": &r.h,
	} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `\s*(-?\d+)`).FindStringSubmatch(out)
		if m == nil {
			return rect{}, fmt.Errorf("xwininfo of %#x has no %q:\n%s", id, key, out)
		}
		*dst, _ = strconv.Atoi(m[1])
	}
	if !strings.Contains(out, "IsViewable") {
		return rect{}, fmt.Errorf("window %#x is not viewable:\n%s", id, out)
	}
	return r, nil
}

// xprop returns the value of one property of a window as xprop prints it
// after "= " (a quoted string, a number, ...).
func (d *Desktop) xprop(wid, prop string) (string, error) {
	out, err := d.x("xprop", "-id", wid, prop)
	if err != nil {
		return "", err
	}
	_, val, ok := strings.Cut(strings.TrimSpace(out), " = ")
	if !ok {
		return "", fmt.Errorf("%s: %s", prop, strings.TrimSpace(out))
	}
	return val, nil
}

func parseWindowID(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
	return uint32(n), err
}

// StartEditor opens an extra window that is not an agent: a window of
// "another app" to hold focus or steal it. It behaves like an agent window
// (it records what is submitted into it, so a test can see a paste that
// went to the wrong app) and lives under <Dir>/editors/<name>. It is not
// in d.Agents nor in CoordsYAML.
func (d *Desktop) StartEditor(name string) (*AgentWindow, error) {
	d.mu.Lock()
	_, taken := d.windows[name]
	i := len(d.Agents) + d.editors
	d.editors++
	d.mu.Unlock()
	if taken {
		return nil, fmt.Errorf("desktoptest: a window named %q exists", name)
	}
	p, err := d.launchWindow(name, filepath.Join(d.Dir, "editors", name), d.cell(i), false)
	if err != nil {
		return nil, err
	}
	return d.awaitWindow(p)
}

func (d *Desktop) window(name string) (*AgentWindow, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.windows[name]
	if !ok {
		return nil, fmt.Errorf("desktoptest: no window named %q", name)
	}
	return w, nil
}

// Submits returns the texts submitted to a window (agent or editor), oldest
// first.
func (d *Desktop) Submits(agent string) ([]string, error) {
	w, err := d.window(agent)
	if err != nil {
		return nil, err
	}
	return ReadRecords(w.Record)
}

// coordsTemplate is the coords.yaml CoordsYAML writes. The config schema is
// being settled elsewhere; adapt the keys here, in one place.
var coordsTemplate = template.Must(template.New("coords").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(
	`# written by desktoptest for display {{.Display}}
spool: {{q .Spool}}
inbox_root: {{q .InboxRoot}}
agents:
{{- range .Agents}}
  {{.Name}}:
    x: {{.X}}
    y: {{.Y}}
    window: {{q .Name}}
    pid: {{.PID}}
    inbox: {{q .Inbox}}
{{- if or (eq .Kind "tk") (eq .Kind "")}}
    # Tk's text widget selects all on ctrl+slash (ctrl+a is line start).
    select_all: ctrl+slash
{{- end}}
{{- end}}
`))

// CoordsYAML returns a coords.yaml for the agent windows (not the editors),
// with the given spool directory. The inbox of agent X is
// <inbox_root>/X/inbox, also given per agent.
func (d *Desktop) CoordsYAML(spool string) string {
	var b strings.Builder
	err := coordsTemplate.Execute(&b, map[string]any{
		"Display":   d.Display,
		"Spool":     spool,
		"InboxRoot": filepath.Join(d.Dir, "agents"),
		"Agents":    d.Agents,
	})
	if err != nil {
		panic(err) // the template is fixed; a failure is a bug here
	}
	return b.String()
}

// Screenshot writes a PNG of the whole screen.
func (d *Desktop) Screenshot(path string) error {
	if _, err := d.x("import", "-window", "root", "png:"+path); err != nil {
		return fmt.Errorf("desktoptest: screenshot: %w", err)
	}
	return nil
}

// ActiveWindow returns the window EWMH says is active (_NET_ACTIVE_WINDOW).
func (d *Desktop) ActiveWindow() (uint32, error) {
	out, err := d.x("xdotool", "getactivewindow")
	if err != nil {
		return 0, fmt.Errorf("desktoptest: %w", err)
	}
	return parseWindowID(out)
}

// Activate raises and focuses a window (agent or editor) through EWMH
// _NET_ACTIVE_WINDOW, as a focus stealer would, and waits until the WM
// reports it active.
func (d *Desktop) Activate(agent string) error {
	w, err := d.window(agent)
	if err != nil {
		return err
	}
	if _, err := d.x("xdotool", "windowactivate", strconv.FormatUint(uint64(w.WindowID), 10)); err != nil {
		return fmt.Errorf("desktoptest: activate %s: %w", agent, err)
	}
	return waitFor(5*time.Second, agent+" to become the active window", func() (bool, error) {
		id, err := d.ActiveWindow()
		return err == nil && id == w.WindowID, nil
	})
}

// SetClipboard makes an xclip child own the CLIPBOARD selection with text,
// and returns once the clipboard reads back as text. The xclip exits by
// itself when another client takes the selection; Stop ends it otherwise.
func (d *Desktop) SetClipboard(text string) error {
	// -quiet keeps xclip in the foreground (by default it forks to serve
	// the selection, and that child's pid would be lost to Stop).
	p, err := d.spawnInput("xclip", nil, strings.NewReader(text), "xclip", "-quiet", "-selection", "clipboard", "-in")
	if err != nil {
		return err
	}
	err = waitFor(5*time.Second, "the clipboard to hold the new text", func() (bool, error) {
		if p.Exited() {
			return false, p.failure(fmt.Errorf("xclip exited"))
		}
		got, err := d.Clipboard()
		return err == nil && got == text, nil
	})
	if err != nil {
		return fmt.Errorf("desktoptest: set clipboard: %w", err)
	}
	return nil
}

// Clipboard returns the text in the CLIPBOARD selection (as UTF8_STRING).
func (d *Desktop) Clipboard() (string, error) {
	out, err := d.x("xclip", "-selection", "clipboard", "-out", "-target", "UTF8_STRING")
	if err != nil {
		return "", fmt.Errorf("desktoptest: clipboard: %w", err)
	}
	return out, nil
}

// ReadRecords returns the submits a fixture window recorded in dir
// (NNNNNN.txt, one a submit, written as dot-named .tmp files and renamed),
// oldest first. The Win32 fixture under Wine records the same way.
func ReadRecords(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("desktoptest: %w", err)
	}
	var names []string
	for _, e := range entries {
		// Dot-files are the fixture's half-written .tmp files.
		if n := e.Name(); !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".txt") {
			names = append(names, n)
		}
	}
	slices.Sort(names) // zero-padded sequence numbers
	texts := make([]string, 0, len(names))
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
		texts = append(texts, string(data))
	}
	return texts, nil
}
