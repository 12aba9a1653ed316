package desktoptest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed web/agent.html
var agentHTML []byte

//go:embed web/agent.js
var agentJS []byte

// WindowEvent is one thing a Chromium agent window saw, as its page
// reported it (web/agent.js), in the order the page saw them.
type WindowEvent struct {
	Seq      int       `json:"seq"`      // the page's event number, from 1
	Type     string    `json:"type"`     // mousedown, focus, blur, paste, editorpaste, beforeinput, input, submit
	PageTime float64   `json:"t"`        // performance.now() in the page, ms
	Received time.Time `json:"received"` // when the harness's server got the report

	Detail  int  `json:"detail,omitempty"`  // mousedown: event.detail, Chromium's click count
	Button  int  `json:"button,omitempty"`  // mousedown: event.button
	OnInput bool `json:"onInput,omitempty"` // mousedown, paste: the target was the input (or inside it)
	X       int  `json:"x,omitempty"`       // mousedown: clientX
	Y       int  `json:"y,omitempty"`       // mousedown: clientY

	Data string `json:"data,omitempty"` // paste: clipboardData.getData('text/plain')

	InputType string `json:"inputType,omitempty"` // beforeinput, input: the DOM inputType, or the editor's kind of change
	Source    string `json:"source,omitempty"`    // input: dom, monaco (onDidChangeModelContent) or lexical (update listener)
	Len       int    `json:"len"`                 // input: the input's text length after, in UTF-16 units; editorpaste: the pasted range's
	Landed    bool   `json:"landed,omitempty"`    // input: this change made the last paste's text appear in the input

	Text   string `json:"text,omitempty"`   // submit: the text submitted
	Submit int    `json:"submit,omitempty"` // submit: the page's submit number, from 1
}

// WindowStats sums up a Chromium window's events.
type WindowStats struct {
	Kind         string
	Events       int
	Submits      int
	EmptySubmits int // Enter on an empty input: the daemon submitted without a paste
	MouseDowns   int
	MultiClicks  int // mousedowns with detail > 1: a click Chromium took as a double or triple click
	Pastes       int // paste events
	EmptyPastes  int // paste events with no text/plain data: the clipboard held nothing Chromium could read
	// PastesInsertedNothing counts paste events with data after which that
	// data did not land in the input (no "input" event with landed=true)
	// before the next submit or paste event. A paste still open, with
	// neither after it yet, is not counted. "Landed" is the same test for
	// every kind (the count of the data's occurrences in the input's text
	// went up; see web/agent.js), so a Monaco paste, which lands some
	// milliseconds after its paste event, counts as landed if Enter came
	// after it and as nothing if Enter overtook it.
	PastesInsertedNothing int
}

// ackIDRE is fixture.tcl's envelope rule: `regexp -all -line {\[agentspool
// id=(\S+) }`, anywhere in a line. Tcl's \S is Unicode-aware, Go's is ASCII,
// hence the spelled-out class.
var ackIDRE = regexp.MustCompile(`\[agentspool id=([^\s\p{Z}\x{85}]+) `)

// recorder is the HTTP server of the Chromium windows: it serves their
// pages and editors, and takes their reports (POST /report?name=NAME).
// It writes submits and acks exactly as fixture.tcl does, so the rest of
// the package (Submits, the daemon's ack wait) cannot tell the kinds apart.
type recorder struct {
	srv  *http.Server
	ln   net.Listener
	logf func(format string, args ...any)

	mu      sync.Mutex
	pages   map[string]*page
	closed  bool
	pending sync.WaitGroup // ack timers
	timers  []*time.Timer
}

// page is the server's side of one Chromium window.
type page struct {
	name, kind    string
	record, inbox string
	events        string // events.jsonl
	ackDelay      time.Duration
	neverAckFirst bool

	mu       sync.Mutex
	next     int                 // the seq to write next
	held     map[int]*pageReport // reports that overtook an earlier one
	ready    chan *pageReport    // the page's ready report (buffered 1)
	probes   chan *pageReport    // pointer probes while probing
	probing  bool                // answer probes with probing:true
	failed   chan string         // a page error (buffered 1)
	lastSub  int                 // the last submit number written
	failures []string            // write errors, reported by Events
}

// pageReport is one POST from a page: an event to record, or one of the
// out-of-band reports (ready, probe, error) that are not events.
type pageReport struct {
	WindowEvent
	Kind        string  `json:"kind"`
	Title       string  `json:"title"`
	Rect        cssRect `json:"rect"`
	InnerWidth  int     `json:"innerWidth"`
	InnerHeight int     `json:"innerHeight"`
	DPR         float64 `json:"dpr"`
	Error       string  `json:"error"`
}

type cssRect struct{ X, Y, W, H float64 }

// webFiles checks that scripts/web.sh has run for the lock file as it is.
func webFiles(web string) error {
	hint := "run scripts/deps.sh desktop (it runs scripts/web.sh)"
	for _, f := range []string{"node_modules/monaco-editor/min/vs/loader.js", "build/lexical.js"} {
		if _, err := os.Stat(filepath.Join(web, f)); err != nil {
			return fmt.Errorf("desktoptest: Chromium windows need the npm files in %s (%s is missing): %s", web, f, hint)
		}
	}
	h := sha256.New()
	for _, f := range []string{"package-lock.json", "lexical-entry.js"} {
		data, err := os.ReadFile(filepath.Join(web, f))
		if err != nil {
			return fmt.Errorf("desktoptest: %w", err)
		}
		h.Write(data)
	}
	stamp, _ := os.ReadFile(filepath.Join(web, "node_modules", ".web-sh-stamp"))
	if strings.TrimSpace(string(stamp)) != hex.EncodeToString(h.Sum(nil)) {
		return fmt.Errorf("desktoptest: the npm files in %s are not those of its package-lock.json: %s", web, hint)
	}
	return nil
}

// startRecorder serves web/agent.html and the editors from web (the npm
// files of scripts/web.sh) on a free port of 127.0.0.1.
func startRecorder(web string, logf func(string, ...any)) (*recorder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("desktoptest: recorder: %w", err)
	}
	r := &recorder{ln: ln, logf: logf, pages: map[string]*page{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /agent.html", serveBytes("text/html; charset=utf-8", agentHTML))
	mux.HandleFunc("GET /agent.js", serveBytes("text/javascript; charset=utf-8", agentJS))
	mux.HandleFunc("GET /lexical.js", func(w http.ResponseWriter, req *http.Request) {
		http.ServeFile(w, req, filepath.Join(web, "build", "lexical.js"))
	})
	mux.Handle("GET /monaco/", http.StripPrefix("/monaco/", http.FileServer(http.Dir(filepath.Join(web, "node_modules", "monaco-editor")))))
	mux.HandleFunc("POST /report", r.report)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("desktoptest: recorder: %v", err)
		}
	}()
	return r, nil
}

func serveBytes(ctype string, data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(data)
	}
}

// url is where a window's page is.
func (r *recorder) url(name, kind string) string {
	return fmt.Sprintf("http://%s/agent.html?name=%s&kind=%s", r.ln.Addr(), name, kind)
}

func (r *recorder) addPage(p *page) {
	p.next = 1
	p.held = map[int]*pageReport{}
	p.ready = make(chan *pageReport, 1)
	p.probes = make(chan *pageReport, 16)
	p.failed = make(chan string, 1)
	p.probing = true
	r.mu.Lock()
	r.pages[p.name] = p
	r.mu.Unlock()
}

func (r *recorder) page(name string) *page {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pages[name]
}

func (r *recorder) report(w http.ResponseWriter, req *http.Request) {
	p := r.page(req.URL.Query().Get("name"))
	if p == nil {
		http.Error(w, "no such window", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var rep pageReport
	if err := json.Unmarshal(body, &rep); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep.Received = time.Now()
	w.Header().Set("Content-Type", "application/json")
	switch rep.Type {
	case "ready":
		select {
		case p.ready <- &rep:
		default:
		}
	case "error":
		r.logf("desktoptest: %s page error: %s", p.name, rep.Error)
		select {
		case p.failed <- rep.Error:
		default:
		}
	case "probe":
		p.mu.Lock()
		probing := p.probing
		p.mu.Unlock()
		if probing {
			select {
			case p.probes <- &rep:
			default:
			}
		}
		fmt.Fprintf(w, `{"probing":%t}`, probing)
		return
	default:
		r.take(p, &rep)
	}
	_, _ = io.WriteString(w, "{}")
}

// take writes the page's events in the page's order: a report that
// overtook an earlier one waits for it. A repeated one (the page retries a
// POST whose answer it lost) is dropped.
func (r *recorder) take(p *page, rep *pageReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rep.Seq < p.next {
		return
	}
	p.held[rep.Seq] = rep
	for {
		next, ok := p.held[p.next]
		if !ok {
			return
		}
		delete(p.held, p.next)
		p.next++
		if err := r.write(p, next); err != nil {
			r.logf("desktoptest: %s: %v", p.name, err)
			p.failures = append(p.failures, err.Error())
		}
	}
}

// write records one event; called in seq order with p.mu held.
func (r *recorder) write(p *page, rep *pageReport) error {
	line, err := json.Marshal(&rep.WindowEvent)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p.events, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || rep.Type != "submit" {
		return err
	}
	if rep.Submit != p.lastSub+1 {
		r.logf("desktoptest: %s: submit %d after %d", p.name, rep.Submit, p.lastSub)
	}
	p.lastSub = rep.Submit
	// As fixture.tcl: the text exactly as the input had it, no newline added.
	if err := writeAtomic(filepath.Join(p.record, fmt.Sprintf("%06d.txt", rep.Submit)), []byte(rep.Text)); err != nil {
		return err
	}
	if rep.Submit == 1 && p.neverAckFirst {
		return nil
	}
	for _, m := range ackIDRE.FindAllStringSubmatch(rep.Text, -1) {
		r.ackLater(p, m[1])
	}
	return nil
}

// ackLater writes <inbox>/ID.ack after the window's ack delay, as the Tk
// fixture's "after". An id that would put the file elsewhere is not acked
// (Tcl would fail the same write with an error on stderr).
func (r *recorder) ackLater(p *page, id string) {
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		r.logf("desktoptest: %s: not acking id %q", p.name, id)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.pending.Add(1)
	t := time.AfterFunc(p.ackDelay, func() {
		defer r.pending.Done()
		if err := writeAtomic(filepath.Join(p.inbox, id+".ack"), []byte(id+"\n")); err != nil {
			r.logf("desktoptest: %s: ack %s: %v", p.name, id, err)
		}
	})
	r.timers = append(r.timers, t)
}

// close stops the server and the acks not yet written: a stopped Tk
// fixture writes none either.
func (r *recorder) close() {
	_ = r.srv.Close()
	r.mu.Lock()
	r.closed = true
	for _, t := range r.timers {
		if t.Stop() {
			r.pending.Done()
		}
	}
	r.mu.Unlock()
	r.pending.Wait()
}

// writeAtomic writes path as fixture.tcl does: a dot-named .tmp beside it,
// then a rename, so a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Events returns what a Chromium window (not a Tk one) has reported so far,
// oldest first.
func (d *Desktop) Events(name string) ([]WindowEvent, error) {
	w, err := d.window(name)
	if err != nil {
		return nil, err
	}
	if d.rec == nil || d.rec.page(name) == nil {
		return nil, fmt.Errorf("desktoptest: %s is a %s window, which reports no events", name, w.Kind)
	}
	p := d.rec.page(name)
	p.mu.Lock()
	data, err := os.ReadFile(p.events)
	failures := slices.Clone(p.failures)
	p.mu.Unlock()
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("desktoptest: %w", err)
	}
	if len(failures) > 0 {
		return nil, fmt.Errorf("desktoptest: %s: recording failed: %s", name, strings.Join(failures, "; "))
	}
	var evs []WindowEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev WindowEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("desktoptest: %s: %w", p.events, err)
		}
		evs = append(evs, ev)
	}
	return evs, sc.Err()
}

// Stats sums up Events(name); see WindowStats for what counts as what.
func (d *Desktop) Stats(name string) (WindowStats, error) {
	evs, err := d.Events(name)
	if err != nil {
		return WindowStats{}, err
	}
	w, _ := d.window(name)
	return statsOf(w.Kind, evs), nil
}

func statsOf(kind string, evs []WindowEvent) WindowStats {
	s := WindowStats{Kind: kind, Events: len(evs)}
	open := false // a paste with data that has not landed yet
	closePaste := func() {
		if open {
			s.PastesInsertedNothing++
		}
		open = false
	}
	for _, ev := range evs {
		switch ev.Type {
		case "mousedown":
			s.MouseDowns++
			if ev.Detail > 1 {
				s.MultiClicks++
			}
		case "paste":
			closePaste()
			s.Pastes++
			if ev.Data == "" {
				s.EmptyPastes++
			} else {
				open = true
			}
		case "input":
			if ev.Landed {
				open = false
			}
		case "submit":
			closePaste()
			s.Submits++
			if ev.Text == "" {
				s.EmptySubmits++
			}
		}
	}
	return s
}
