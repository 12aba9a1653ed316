package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/internal/safeio"
	"github.com/agentspool/agentspool/service"
	"github.com/agentspool/agentspool/spool"
)

var statusCommand = &command{
	name:    "status",
	order:   20,
	summary: "show each agent's queue and what the daemon is doing",
	usage:   "status [--json] [--watch[=INTERVAL]]",
	help: `For every configured agent (and any other agent directory found in the
spool) prints how many messages are in new/, cur/, done/, failed/ and
hold/, and the age of the oldest message waiting in new/.

When the daemon is running (it writes <spool>/status.json and its pid is
alive) each agent's delivery state is shown too: delivering, waiting ack,
idle or held, and the daemon's alerts in force (the same conditions as
contrib/prometheus/agentspool-rules.yml). Otherwise the first line says
"daemon: not running".

Then the figures of the last hour and the last day, from
<spool>/journal.jsonl (running daemon or not): the share of finished
messages delivered (done / (done + failed)), the delivery time (drop to
submit) and the confirmation time (drop to ack), average and 95th
percentile, the retry rate (retries after no ack per submit), the share of
failed messages recovered (retried and done since), and the desktop-lock
wait of the attempts (contention with other processes driving the
desktop). --json gives them per agent ("figures").

--watch[=INTERVAL] (default 2s) shows it again every INTERVAL until
interrupted (Ctrl-C): redrawn in place on a terminal, like top; a dated
block after another otherwise.

Example:
  agentspool status
  agentspool status --watch
  agentspool status --json | jq '.[] | select(.failed > 0) | .agent'`,
	run: runStatus,
}

// agentStatus is one line of `status`, and one object of `status --json`.
type agentStatus struct {
	Agent        string     `json:"agent"`
	Configured   bool       `json:"configured"`
	New          int        `json:"new"`
	Cur          int        `json:"cur"`
	Done         int        `json:"done"`
	Failed       int        `json:"failed"`
	Hold         int        `json:"hold"`
	OldestQueued *time.Time `json:"oldest_queued,omitempty"`
	OldestAge    float64    `json:"oldest_age_seconds"`
	Daemon       string     `json:"daemon"` // "running" or "not running"
	State        string     `json:"state,omitempty"`
	Detail       string     `json:"detail,omitempty"`
	Hook         string     `json:"hook,omitempty"` // ready or busy, from the agent's hooks (setHookState)
	HookSince    *time.Time `json:"hook_since,omitempty"`
	// Figures: the last hour's and the last day's (figures.go).
	Figures []windowFigures `json:"figures"`
}

// defaultWatchEvery is --watch's interval.
const defaultWatchEvery = 2 * time.Second

// everyFlag is --watch[=INTERVAL].
type everyFlag struct {
	on bool
	d  time.Duration
}

func (w *everyFlag) IsBoolFlag() bool { return true }
func (w *everyFlag) String() string {
	if w == nil || !w.on {
		return ""
	}
	return w.d.String()
}
func (w *everyFlag) Set(s string) error {
	switch s {
	case "true":
		w.on, w.d = true, defaultWatchEvery
		return nil
	case "false":
		w.on = false
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 100*time.Millisecond {
		return errors.New("want an interval of at least 100ms, such as 1s or 5s (or no value: " + defaultWatchEvery.String() + ")")
	}
	w.on, w.d = true, d
	return nil
}

func runStatus(e *env, args []string) error {
	fs := e.flagSet()
	asJSON := fs.Bool("json", false, "print a JSON array, one object per agent")
	var watch everyFlag
	fs.Var(&watch, "watch", "show it again every `INTERVAL` (default 2s) until interrupted")
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if !watch.on {
		return writeStatus(e, e.stdout, *asJSON)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := e.stdout
	tty := terminal(out) != nil
	if tty {
		fmt.Fprint(out, "\x1b[H\x1b[2J") // a clear screen to draw on
	}
	for {
		var b bytes.Buffer
		err := writeStatus(e, &b, *asJSON)
		switch {
		case tty:
			// Home, the block, then clear what the last one left below.
			fmt.Fprint(out, "\x1b[H"+strings.ReplaceAll(b.String(), "\n", "\x1b[K\n")+"\x1b[J")
		case !*asJSON:
			fmt.Fprintf(out, "--- %s\n%s", e.now().Format(time.DateTime), b.Bytes())
		default:
			out.Write(b.Bytes())
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watch.d):
		}
	}
}

// writeStatus writes one status to w.
func writeStatus(e *env, w io.Writer, asJSON bool) error {
	sp, cfg, err := e.openSpool(true)
	if err != nil {
		return err
	}
	now := e.now()

	names := cfg.Names()
	configured := map[string]bool{}
	for _, n := range names {
		configured[n] = true
	}
	inSpool, err := sp.Agents()
	if err != nil {
		return err
	}
	for _, n := range inSpool {
		if !configured[n] {
			names = append(names, n)
		}
	}
	rows := make(map[string]*agentStatus, len(names))
	for _, n := range names {
		rows[n] = &agentStatus{Agent: n, Configured: configured[n], Daemon: "not running"}
	}
	for _, st := range spool.States {
		es, err := sp.Scan(st, "")
		if err != nil {
			return err
		}
		for _, en := range es {
			r := rows[en.Agent]
			if r == nil { // appeared since Agents(): count it anyway
				r = &agentStatus{Agent: en.Agent, Daemon: "not running"}
				rows[en.Agent] = r
				names = append(names, en.Agent)
			}
			switch st {
			case spool.StateNew:
				r.New++
				if r.OldestQueued == nil || en.Queued.Before(*r.OldestQueued) {
					q := en.Queued
					r.OldestQueued = &q
				}
			case spool.StateCur:
				r.Cur++
			case spool.StateDone:
				r.Done++
			case spool.StateFailed:
				r.Failed++
			case spool.StateHold:
				r.Hold++
			}
		}
	}

	longest := figureWindows[len(figureWindows)-1].d
	evs, jErr := readJournal(filepath.Join(sp.Root, "journal.jsonl"), now.Add(-longest))
	ds, dsErr := readDaemonStatus(sp.Root)
	running := dsErr == nil && ds != nil && ds.Running && pidAlive(ds.PID)
	out := make([]*agentStatus, 0, len(names))
	for _, n := range names {
		r := rows[n]
		if r.OldestQueued != nil {
			r.OldestAge = now.Sub(*r.OldestQueued).Round(time.Millisecond).Seconds()
		}
		if running {
			r.Daemon = "running"
			if v, ok := ds.Agents[n]; ok {
				r.State, r.Detail = v.State, v.Detail
			} else {
				r.State = "unknown"
			}
		}
		setHookState(r, sp.Root)
		r.Figures = []windowFigures{}
		for _, fw := range figureWindows {
			r.Figures = append(r.Figures, computeFigures(evs, fw.name, fw.d, now, n))
		}
		out = append(out, r)
	}

	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}

	switch {
	case running:
		fmt.Fprintf(w, "daemon: running (pid %d, started %s, updated %s ago)\n",
			ds.PID, ds.Started.Local().Format(time.DateTime), fmtAge(now.Sub(ds.Updated)))
		if len(ds.Degraded) > 0 {
			keys := make([]string, 0, len(ds.Degraded))
			for k := range ds.Degraded {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "daemon: DEGRADED: %s: %s\n", k, ds.Degraded[k])
			}
		}
		for _, a := range ds.Alerts {
			fmt.Fprintf(w, "alert: %s %s: %g > %g since %s\n", a.Name, a.Agent, a.Value, a.Threshold, a.Since.Local().Format(time.DateTime))
		}
		if len(ds.Alerts) == 0 {
			fmt.Fprintln(w, "alerts: none in force")
		}
	case dsErr != nil:
		fmt.Fprintf(w, "daemon: not running (%v)\n", dsErr)
	case ds != nil && !ds.Running:
		fmt.Fprintf(w, "daemon: not running (pid %d stopped at %s)\n", ds.PID, ds.Updated.Local().Format(time.DateTime))
	case ds != nil:
		fmt.Fprintf(w, "daemon: not running (status.json names pid %d, which is gone)\n", ds.PID)
	default:
		fmt.Fprintln(w, "daemon: not running")
	}
	if len(out) == 0 {
		fmt.Fprintf(w, "no agents: %s configures none and the spool %s has none\n", cfgName(cfg), sp.Root)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hooks := anyHookState(out)
	fmt.Fprint(tw, "AGENT\tNEW\tCUR\tDONE\tFAILED\tHOLD\tOLDEST")
	if hooks {
		fmt.Fprint(tw, "\tAGENT IS")
	}
	if running {
		fmt.Fprint(tw, "\tSTATE\tDETAIL")
	}
	fmt.Fprintln(tw)
	extra := false
	for _, r := range out {
		name := r.Agent
		if !r.Configured {
			name += " *"
			extra = true
		}
		oldest := "-"
		if r.OldestQueued != nil {
			oldest = fmtAge(now.Sub(*r.OldestQueued))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s", name, r.New, r.Cur, r.Done, r.Failed, r.Hold, oldest)
		if hooks {
			fmt.Fprintf(tw, "\t%s", hookColumn(r, now))
		}
		if running {
			fmt.Fprintf(tw, "\t%s\t%s", r.State, r.Detail)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if extra {
		fmt.Fprintf(w, "* not in %s: the daemon fails its messages\n", cfgName(cfg))
	}
	if jErr != nil {
		fmt.Fprintf(w, "figures: journal unreadable: %v\n", jErr)
		return nil
	}
	var all []windowFigures
	for _, fw := range figureWindows {
		all = append(all, computeFigures(evs, fw.name, fw.d, now, ""))
	}
	return writeFigures(w, all)
}

// readDaemonStatus reads <root>/status.json: nil, nil when there is none.
// A file that does not say whether the daemon runs is taken to say it
// does: the pid then tells.
func readDaemonStatus(root string) (*service.Status, error) {
	b, err := safeio.ReadFile(filepath.Join(root, "status.json"), safeio.OpenOptions{MaxBytes: 16 << 20})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status.json: %w", err)
	}
	ds := service.Status{Running: true}
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("status.json unreadable: %w", err)
	}
	return &ds, nil
}

// setHookState fills r's hook fields from the agent's state file, if any.
func setHookState(r *agentStatus, root string) {
	if !spool.ValidAgentName(r.Agent) {
		return
	}
	s, err := confirm.ReadState(root, r.Agent)
	switch {
	case err != nil:
		r.Hook = "unreadable"
	case s != nil:
		since := s.Since
		r.Hook, r.HookSince = s.State, &since
	}
}

func anyHookState(rows []*agentStatus) bool {
	for _, r := range rows {
		if r.Hook != "" {
			return true
		}
	}
	return false
}

// hookColumn is `status`'s AGENT IS column: "busy 3m05s", "ready 12s", "-"
// for an agent without hooks.
func hookColumn(r *agentStatus, now time.Time) string {
	switch {
	case r.Hook == "":
		return "-"
	case r.HookSince == nil:
		return r.Hook
	}
	return r.Hook + " " + fmtAge(now.Sub(*r.HookSince))
}
