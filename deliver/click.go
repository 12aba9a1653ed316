package deliver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"time"
)

// A click must never become a double or triple click. Every delivery
// clicks its agent's point, so back-to-back deliveries, a retry's second
// click, or a broadcast to windows laid out alike would click the same
// spot within an app's double-click time. Chromium counts such presses as
// one multi-click, and keeps one count for all windows of a browser
// process, comparing points in each window's own coordinates (clicks into
// Agent-3, Agent-2 and Agent-1, ~260 ms apart at the same place in each,
// counted 1, 2, 3). A triple click in an empty contenteditable leaves the
// caret outside it, and Lexical loses it on a double click: ctrl+v then
// inserts nothing and Enter submits an empty input.
//
// So the Deliverer remembers its recent clicks (and, beside the desktop
// lock, every agentspool process's), and clicks a few pixels aside from the
// agent's point when the point would be near a recent click, in root or
// window coordinates, whichever window and client it was in.
const (
	// multiClickTime: a press this soon after another can be part of a
	// multi-click. Chromium, Windows and Tk use 500 ms, GTK 400 ms.
	multiClickTime = 600 * time.Millisecond
	// multiClickSlop: presses this close (in x and y) count as the same
	// place. Chromium and Windows: 2 px; GTK and Tk: under 5.
	multiClickSlop = 5
	// clickStep is how far aside a click goes to avoid a recent one. The
	// agent's point should have 2 × clickStep of input left and right of it.
	clickStep = 6
)

// click is one click the Deliverer made, in root and window coordinates.
type click struct {
	at     time.Time
	x, y   int // root
	lx, ly int // in the window under the point (valid if local)
	local  bool
	client uint32 // the X client of that window (Window.Client)
}

// near: c is within multiClickSlop of the point p, in root coordinates, or
// in window coordinates of windows of one client (an app counts clicks in
// its own windows: windows of other apps laid out alike do not count).
func (c click) near(p click) bool {
	close := func(a, b int) bool { return a-b <= multiClickSlop && b-a <= multiClickSlop }
	if close(c.x, p.x) && close(c.y, p.y) {
		return true
	}
	return c.local && p.local && c.client == p.client && close(c.lx, p.lx) && close(c.ly, p.ly)
}

// clickPoint chooses where to click for t: the agent's point, or one
// clickStep or two aside of it, the first that no click of the last
// multiClickTime is near. If all are, it waits for the oldest to age.
func (d *Deliverer) clickPoint(ctx context.Context, t Target) (click, error) {
	w, err := d.Desktop.WindowAt(t.X, t.Y)
	for {
		recent := d.recentClicks()
		for _, dx := range []int{0, clickStep, -clickStep, 2 * clickStep, -2 * clickStep} {
			p := click{x: t.X + dx, y: t.Y}
			if err == nil && w.ID != 0 {
				p.local, p.lx, p.ly, p.client = true, p.x-w.Left, p.y-w.Top, w.Client
			}
			clear := true
			for _, c := range recent {
				if c.near(p) {
					clear = false
					break
				}
			}
			if clear {
				return p, nil
			}
		}
		oldest := recent[0].at
		for _, c := range recent {
			if c.at.Before(oldest) {
				oldest = c.at
			}
		}
		if err := sleep(ctx, time.Until(oldest.Add(multiClickTime))+time.Millisecond); err != nil {
			return click{}, err
		}
	}
}

// clicked notes a click made at p.
func (d *Deliverer) clicked(p click) {
	p.at = time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clicks = append(pruneClicks(d.clicks), p)
}

// recentClicks is every click of the last multiClickTime: ours, and those
// the last lock holder of another process noted beside the lock.
func (d *Deliverer) recentClicks() []click {
	d.mu.Lock()
	recent := append([]click(nil), pruneClicks(d.clicks)...)
	d.mu.Unlock()
	if d.Lock != nil {
		if b, err := os.ReadFile(d.Lock.Path() + ".clicks"); err == nil {
			recent = append(recent, pruneClicks(parseClicks(b))...)
		}
	}
	return recent
}

// pruneClicks drops the clicks older than multiClickTime (in place).
func pruneClicks(cs []click) []click {
	out := cs[:0]
	for _, c := range cs {
		if time.Since(c.at) < multiClickTime {
			out = append(out, c)
		}
	}
	return out
}

// noteClicks writes the recent clicks beside the lock (under it), for the
// next process's clickPoint: ours and the other processes' still there,
// since the next lock holder may be a third process, or this one again
// before the other's click has aged.
func (d *Deliverer) noteClicks() {
	cs := d.recentClicks()
	d.mu.Lock()
	d.clicks = pruneClicks(d.clicks)
	d.mu.Unlock()
	var b bytes.Buffer
	for _, c := range cs {
		local := 0
		if c.local {
			local = 1
		}
		fmt.Fprintf(&b, "%d %d %d %d %d %d %d\n", c.at.UnixNano(), c.x, c.y, local, c.lx, c.ly, c.client)
	}
	if len(cs) > 0 || d.wroteClicks {
		os.WriteFile(d.Lock.Path()+".clicks", b.Bytes(), 0o600)
		d.wroteClicks = len(cs) > 0
	}
}

func parseClicks(b []byte) []click {
	var cs []click
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var ns int64
		var c click
		var local int
		n, _ := fmt.Sscanf(sc.Text(), "%d %d %d %d %d %d %d", &ns, &c.x, &c.y, &local, &c.lx, &c.ly, &c.client)
		if n < 6 {
			continue
		}
		c.at, c.local = time.Unix(0, ns), local == 1
		cs = append(cs, c)
	}
	return cs
}
