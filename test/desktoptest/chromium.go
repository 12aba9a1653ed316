package desktoptest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The kinds of agent window (Options.Kinds). Tk is the fixture.tcl window;
// the others are Chromium --app windows with web/agent.html, each with the
// kind of input the users' Electron chat panels have.
const (
	KindTk              = "tk"
	KindTextarea        = "textarea"        // a <textarea>
	KindContentEditable = "contenteditable" // a <div contenteditable> with white-space: pre-wrap
	KindMonaco          = "monaco"          // a Monaco editor, as VS Code's chat input
	KindLexical         = "lexical"         // a Lexical plain-text editor, as many chat composers
)

// What a deliverer meets in these windows, as measured with Chromium 156 on
// Xvfb (the tests pin the parts a deliverer depends on):
//
//   - Clicks: Chromium takes a press within 500 ms and 2 px of the last
//     one, at the same window-local point, as a double (then triple) click,
//     and the last press is the browser's, not the window's: three clicks
//     100 ms apart in two windows of one instance give detail 1, 2, 3.
//   - Clipboard: on ctrl+v the requests for CLIPBOARD come from the
//     browser's own X client, from a hidden unmapped window titled
//     "Chromium clipboard" (no _NET_WM_PID), not from the window pasted
//     into: 2 UTF8_STRING conversions for a textarea, Monaco or Lexical,
//     3 for a contenteditable, among 12-24 TARGETS requests, over 10-30 ms.
//     A Tk window asks once. The owner must hold the text until the last.
//   - Paste: the change that puts the text in the input comes 5-22 ms
//     after the paste event in a textarea, contenteditable or Lexical, and
//     8-31 ms after in Monaco, which applies a paste as an edit of its own
//     after the event; the tests wait for it ("landed") before Enter.
//   - Text: the submit is what was pasted, byte for byte (tabs, blank
//     lines, unicode, a 2,400-character line), in every kind but one case:
//     in the contenteditable, a text that ends in "\n" reads back (innerText)
//     with two more, because Chromium pastes the last, empty line as a
//     <div><br></div>.

// ChromiumKinds are the kinds that run in Chromium.
var ChromiumKinds = []string{KindTextarea, KindContentEditable, KindMonaco, KindLexical}

// defaultWebDir is web/ beside this file: the npm files scripts/web.sh
// installs live there, not in the test binary, and tests, the demo and
// the benchmarks all run from this source tree.
func defaultWebDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "web"
	}
	return filepath.Join(filepath.Dir(file), "web")
}

// chromiumFlags are the flags of every Chromium the harness starts, besides
// --user-data-dir and the window's own. The point of most of them is that
// nothing but the agent window ever appears (a first-run dialog, a
// translate or restore bubble, an extension or hang dialog would take focus
// from the test) and that an unfocused or covered window runs its timers
// and paints at full speed, as the users' Electron windows do.
var chromiumFlags = []string{
	"--no-sandbox", // we run as root; the sandbox refuses to
	// Without it, --no-sandbox brings an "unsupported command-line flag"
	// infobar, which moves the page down, and down again when it goes.
	"--test-type",
	"--ozone-platform=x11",
	"--disable-gpu",
	"--force-device-scale-factor=1", // CSS pixels are X pixels
	"--no-first-run",
	"--no-default-browser-check",
	"--password-store=basic",
	"--disable-background-timer-throttling",
	"--disable-renderer-backgrounding",
	"--disable-backgrounding-occluded-windows",
	"--disable-features=Translate,MediaRouter,DialMediaRouteProvider,OptimizationHints,AutofillServerCommunication,CalculateNativeWinOcclusion",
	"--disable-sync",
	"--disable-extensions",
	"--disable-component-update",
	"--disable-default-apps",
	"--disable-background-networking",
	"--disable-client-side-phishing-detection",
	"--disable-hang-monitor",
	"--disable-session-crashed-bubble",
	"--hide-crash-restore-bubble",
	"--disable-notifications",
	"--deny-permission-prompts",
	"--disable-infobars",
	"--noerrdialogs",
	"--disable-breakpad",
	"--metrics-recording-only",
	"--no-pings",
	"--lang=en-US",
}

// pendingChromium is a Chromium window launched (or, the second window of
// an instance, not yet launched) but not yet known to be on screen.
type pendingChromium struct {
	name, kind string
	instance   int
	userData   string
	cell       rect
	leader     *pendingChromium // the instance's first window; nil for itself
	proc       *process         // the browser: the instance's first launch
	page       *page

	// Set by placeChromium:
	wid     uint32
	geo     rect          // the client window, in root coordinates
	waited  time.Duration // for the page to be ready
	placing time.Duration // to find the window and put it in its cell
}

// browser is the process of the window's instance.
func (pc *pendingChromium) browser() *process {
	if pc.leader != nil {
		return pc.leader.proc
	}
	return pc.proc
}

// prepareChromium sets up a Chromium window's dirs and its page on the
// recorder, and launches it if it is the first of its instance. A later
// window of an instance is launched by launchFollower.
func (d *Desktop) prepareChromium(name, kind string, instance int, cell rect, leader *pendingChromium) (*pendingChromium, error) {
	dir := filepath.Join(d.Dir, "agents", name)
	for _, sub := range []string{"submits", "inbox"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("desktoptest: %w", err)
		}
	}
	ackDelay := d.fixture.AckDelay
	if delay, ok := d.fixture.AckDelays[name]; ok {
		ackDelay = delay
	}
	pc := &pendingChromium{
		name: name, kind: kind, instance: instance, cell: cell, leader: leader,
		userData: filepath.Join(d.Dir, "chromium", strconv.Itoa(instance)),
		page: &page{
			name: name, kind: kind,
			record: filepath.Join(dir, "submits"), inbox: filepath.Join(dir, "inbox"),
			events:   filepath.Join(dir, "events.jsonl"),
			ackDelay: ackDelay, neverAckFirst: d.fixture.NeverAckFirst[name],
		},
	}
	d.rec.addPage(pc.page)
	if leader == nil {
		if err := d.launchChromium(pc); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

// launchFollower launches a later window of an instance, once the browser
// listens on its profile's singleton socket: the launch hands its --app URL
// to the browser there and exits, and the browser queues what it is handed
// until it has started. A launch before the socket is there would start a
// second browser on the same profile instead (awaitChromium would see its
// window has the wrong _NET_WM_PID).
func (d *Desktop) launchFollower(pc *pendingChromium) error {
	socket := filepath.Join(pc.userData, "SingletonSocket")
	err := pc.browser().poll(pc.name+"'s browser to listen on "+socket, func() (bool, error) {
		_, err := os.Lstat(socket)
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	return d.launchChromium(pc)
}

func (d *Desktop) launchChromium(pc *pendingChromium) error {
	argv := append([]string{"chromium"}, chromiumFlags...)
	argv = append(argv,
		"--user-data-dir="+pc.userData,
		"--disk-cache-dir="+filepath.Join(pc.userData, "cache"),
		fmt.Sprintf("--window-position=%d,%d", pc.cell.x, pc.cell.y),
		fmt.Sprintf("--window-size=%d,%d", pc.cell.w, pc.cell.h),
		"--app="+d.rec.url(pc.name, pc.kind))
	label := fmt.Sprintf("chromium-%d", pc.instance)
	if pc.leader != nil {
		label += "-" + pc.name // the launch that hands the window over, and exits
	}
	// Chromium's crashpad handlers start a session of their own, out of
	// the browser's group, and outlive it for a moment. With the config
	// dir in the profile their --database is there too, which tells them
	// from any other Chromium's; Stop waits for them (process.strays). It
	// also keeps Chromium from writing to the user's ~/.config.
	env := []string{
		"XDG_CONFIG_HOME=" + filepath.Join(pc.userData, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(pc.userData, "cache"),
	}
	var strays func() []int
	if pc.leader == nil {
		mark := "--database=" + pc.userData + string(filepath.Separator)
		strays = func() []int { return procsWithArg(mark) }
	}
	p, err := d.spawnGroup(label, env, strays, argv...)
	if err != nil {
		return err
	}
	if pc.leader == nil {
		pc.proc = p
	}
	return nil
}

// placeChromium waits for a Chromium window's page to be ready, finds its
// X window and puts it in its grid cell. Every Chromium window is placed
// before any is probed (awaitChromium): until it is moved, a window may
// cover another's input (the second window of an instance opens over the
// first), and the probe's pointer would land on the wrong page.
func (d *Desktop) placeChromium(pc *pendingChromium) error {
	b := pc.browser()
	t0 := time.Now()
	var ready *pageReport
	err := b.poll(pc.name+" page ready", func() (bool, error) {
		select {
		case ready = <-pc.page.ready:
			return true, nil
		case msg := <-pc.page.failed:
			return false, fmt.Errorf("page error: %s", msg)
		default:
			return false, nil
		}
	})
	if err != nil {
		return err
	}
	if ready.Title != pc.name || ready.Kind != pc.kind {
		return b.failure(fmt.Errorf("%s: page is %q of kind %q", pc.name, ready.Title, ready.Kind))
	}

	t1 := time.Now()
	// The window: titled by the page, and belonging to this instance's
	// browser (Chromium sets _NET_WM_PID to the browser process's pid). A
	// window of a second browser on the same profile would fail here.
	pid := b.PID
	var wid uint32
	err = b.poll(pc.name+" window", func() (bool, error) {
		out, _ := d.x("xdotool", "search", "--onlyvisible", "--name", "^"+regexp.QuoteMeta(pc.name)+"$")
		for _, f := range strings.Fields(out) {
			id, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				continue
			}
			if got, err := d.xprop(fmt.Sprintf("%#x", id), "_NET_WM_PID"); err == nil && got == strconv.Itoa(pid) {
				wid = uint32(id)
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	hex := fmt.Sprintf("%#x", wid)
	if title, err := d.xprop(hex, "WM_NAME"); err != nil || title != strconv.Quote(pc.name) {
		return b.failure(fmt.Errorf("window %s has WM_NAME %s (err %v), want %q", hex, title, err, pc.name))
	}
	// The client window, as for Tk: the one the WM reparented into its frame.
	tree, err := d.x("xwininfo", "-tree", "-id", hex)
	if err != nil {
		return b.failure(err)
	}
	if strings.Contains(tree, "Parent window id: "+rootID(tree)) {
		return b.failure(fmt.Errorf("window %s is not managed by the WM (its parent is the root)", hex))
	}

	// A second window of an instance opens where the browser likes, not at
	// its --window-position, so every window is put in its cell by hand,
	// its frame where a Tk window's would be. Chromium asks for static
	// gravity, so a move places the client window, inside the frame.
	var left, top int
	err = b.poll(pc.name+" _NET_FRAME_EXTENTS", func() (bool, error) {
		ext, err := d.xprop(hex, "_NET_FRAME_EXTENTS")
		if err != nil {
			return false, nil
		}
		_, err = fmt.Sscanf(ext, "%d, %d, %d", &left, new(int), &top)
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	c := pc.cell
	want := rect{c.x + left, c.y + top, c.w, c.h}
	widStr := strconv.FormatUint(uint64(wid), 10)
	if _, err := d.x("xdotool", "windowsize", widStr, strconv.Itoa(c.w), strconv.Itoa(c.h),
		"windowmove", widStr, strconv.Itoa(want.x), strconv.Itoa(want.y)); err != nil {
		return b.failure(err)
	}
	var geo, last rect
	err = b.poll(pc.name+" window geometry to settle", func() (bool, error) {
		g, err := d.geometry(wid)
		if err != nil {
			return false, err
		}
		settled := g == last && g == want
		last, geo = g, g
		return settled, nil
	})
	if err != nil {
		return fmt.Errorf("%w (at %+v, want %+v)", err, geo, want)
	}

	pc.wid, pc.geo = wid, geo
	pc.waited, pc.placing = t1.Sub(t0), time.Since(t1)
	return nil
}

// awaitChromium measures where a placed Chromium window's input is.
func (d *Desktop) awaitChromium(pc *pendingChromium) (*AgentWindow, error) {
	t2 := time.Now()
	wid, geo, hex := pc.wid, pc.geo, fmt.Sprintf("%#x", pc.wid)
	x, y, err := d.probeInput(pc, geo)
	if err != nil {
		return nil, pc.browser().failure(err)
	}
	w := &AgentWindow{
		Name:     pc.name,
		Kind:     pc.kind,
		PID:      pc.browser().PID,
		WindowID: wid,
		Instance: pc.instance,
		X:        x,
		Y:        y,
		Inbox:    pc.page.inbox,
		Record:   pc.page.record,
	}
	d.mu.Lock()
	d.windows[w.Name] = w
	d.mu.Unlock()
	d.logf("desktoptest: %s %s instance %d pid %d window %s %dx%d+%d+%d input center (%d,%d); waited %v for the page, %v to place the window, %v to probe",
		w.Name, w.Kind, w.Instance, w.PID, hex, geo.w, geo.h, geo.x, geo.y, w.X, w.Y,
		pc.waited.Round(time.Millisecond), pc.placing.Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
	return w, nil
}

// probeTimeout bounds the wait for the page to report one pointer move.
const probeTimeout = 5 * time.Second

// probeInput finds the center of the page's input in root coordinates, and
// checks it, without a click: a click the harness made would count in
// Chromium's multi-click counter, which is shared by every window of an
// instance and is what the tests look at. It moves the pointer into the
// window and reads where the page saw it (clientX/Y): the difference is
// the viewport's origin on the screen, whatever title bar or frame Chromium
// or the WM draws. Then it moves the pointer to the input's center and
// checks the page saw it there, on the input. The pointer ends parked in
// the bottom-right corner of the screen, off every window.
func (d *Desktop) probeInput(pc *pendingChromium, win rect) (int, int, error) {
	park := func() error {
		_, err := d.x("xdotool", "mousemove", strconv.Itoa(d.width-1), strconv.Itoa(d.height-1))
		return err
	}
	p := pc.page
	// probe moves the pointer and returns the first report that ok accepts.
	// Reports of an earlier move may still come in after it (Chromium sends
	// a mouseover's move and the move itself, say).
	probe := func(x, y int, ok func(*pageReport) bool) (*pageReport, error) {
		for len(p.probes) > 0 {
			<-p.probes
		}
		if _, err := d.x("xdotool", "mousemove", strconv.Itoa(x), strconv.Itoa(y)); err != nil {
			return nil, err
		}
		timeout := time.After(probeTimeout)
		var last *pageReport
		for {
			select {
			case rep := <-p.probes:
				if ok(rep) {
					return rep, nil
				}
				last = rep
			case <-timeout:
				if last != nil {
					return nil, fmt.Errorf("%s: pointer at (%d,%d) is at (%d,%d) in the page (on the input: %t)",
						pc.name, x, y, last.X, last.Y, last.OnInput)
				}
				return nil, fmt.Errorf("%s: the page saw no pointer move to (%d,%d) in %v", pc.name, x, y, probeTimeout)
			}
		}
	}
	defer func() {
		p.mu.Lock()
		p.probing = false
		p.mu.Unlock()
	}()
	if err := park(); err != nil {
		return 0, 0, err
	}
	px, py := win.x+win.w/2, win.y+win.h/2
	// The pointer came from off every window, so any report is of this move.
	first, err := probe(px, py, func(*pageReport) bool { return true })
	if err != nil {
		return 0, 0, err
	}
	if first.DPR != 1 {
		return 0, 0, fmt.Errorf("%s: devicePixelRatio %v, want 1", pc.name, first.DPR)
	}
	ox, oy := px-first.X, py-first.Y
	if ox < win.x || oy < win.y || ox+first.InnerWidth > win.x+win.w || oy+first.InnerHeight > win.y+win.h {
		return 0, 0, fmt.Errorf("%s: viewport %dx%d at (%d,%d) is not inside its window %+v", pc.name, first.InnerWidth, first.InnerHeight, ox, oy, win)
	}
	r := first.Rect
	cx, cy := int(math.Round(r.X+r.W/2)), int(math.Round(r.Y+r.H/2))
	x, y := ox+cx, oy+cy
	_, err = probe(x, y, func(r *pageReport) bool { return r.OnInput && abs(r.X-cx) <= 1 && abs(r.Y-cy) <= 1 })
	if err != nil {
		return 0, 0, fmt.Errorf("%w, want (%d,%d) on the input", err, cx, cy)
	}
	if err := park(); err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

func abs(n int) int { return max(n, -n) }

// rootID returns the root window's id from xwininfo -tree output.
func rootID(tree string) string {
	_, rest, _ := strings.Cut(tree, "Root window id: ")
	id, _, _ := strings.Cut(rest, " ")
	return id
}

func isChromiumKind(kind string) bool { return slices.Contains(ChromiumKinds, kind) }
