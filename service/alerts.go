package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/agentspool/agentspool/spool"
)

// The daemon's own alerts, for users without Prometheus: the same
// conditions as contrib/prometheus/agentspool-rules.yml, evaluated over
// sliding windows in the process. When one starts or ends it is logged
// (ERROR / INFO), shown in status.json (`agentspool status`), and
// alert_command runs, if configured.

// Alert names, as in the Prometheus rules.
const (
	AlertFailureRate    = "AgentspoolDeliveryFailureRateHigh"
	AlertRetryRate      = "AgentspoolRetryRateHigh"
	AlertFailedMessages = "AgentspoolFailedMessages"
	AlertAgentHeld      = "AgentspoolAgentHeld"
	AlertQueueStuck     = "AgentspoolQueueStuck"
)

const (
	alertWindow        = 15 * time.Minute // the rate windows, as in the rules
	alertCommandLimit  = 30 * time.Second // a hanging alert_command is killed after this
	alertEvalGap       = time.Second      // the spool is read for alerts at most this often
	failureRateLimit   = 0.01
	retryRateLimit     = 0.05
	failedFor          = 5 * time.Minute
	stuckAge           = 10 * time.Minute
	stuckFor           = 5 * time.Minute
	heldFor            = 0 // at once: one alert per hold, never one per message
	alertSamplesMaxAge = alertWindow
)

// AlertStatus is one alert in force, in status.json.
type AlertStatus struct {
	Name      string    `json:"name"`
	Agent     string    `json:"agent"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Since     time.Time `json:"since"`
}

type alertSample struct {
	at   time.Time
	kind string // done, failed, submitted, retry, attempt
}

// queueFacts are what the spool says of one agent at an evaluation.
type queueFacts struct {
	failed int
	held   bool
	oldest time.Duration // of new/; 0 when empty
}

// alerts is the evaluator: samples per agent, the conditions pending
// (true, waiting out their for-duration) and the alerts in force.
type alerts struct {
	mu      sync.Mutex
	samples map[string][]alertSample
	pending map[string]time.Time
	active  map[string]AlertStatus
	// changed hears of every alert that starts (firing) or ends.
	changed func(a AlertStatus, firing bool)
}

func newAlerts(changed func(AlertStatus, bool)) *alerts {
	return &alerts{samples: map[string][]alertSample{}, pending: map[string]time.Time{}, active: map[string]AlertStatus{}, changed: changed}
}

func (al *alerts) record(agent, kind string, at time.Time) {
	al.mu.Lock()
	defer al.mu.Unlock()
	al.samples[agent] = append(al.samples[agent], alertSample{at: at, kind: kind})
}

// evaluate checks every condition for every agent in facts at now. It
// reports whether the alerts in force changed, their values included (so
// status.json does not show a value from when an alert started).
func (al *alerts) evaluate(now time.Time, facts map[string]queueFacts) (changed bool) {
	type cond struct {
		name      string
		value     float64
		threshold float64
		on        bool
		wait      time.Duration
	}
	var fired, ended []AlertStatus
	al.mu.Lock()
	for agent, q := range facts {
		s := al.samples[agent]
		// Drop what left the window.
		i := 0
		for i < len(s) && now.Sub(s[i].at) > alertSamplesMaxAge {
			i++
		}
		s = s[i:]
		al.samples[agent] = s
		n := map[string]int{}
		for _, x := range s {
			n[x.kind]++
		}
		ratio := func(a, b int) float64 {
			if b == 0 {
				return 0
			}
			return float64(a) / float64(b)
		}
		held := 0.0
		if q.held {
			held = 1
		}
		conds := []cond{
			{AlertFailureRate, ratio(n["failed"], n["done"]+n["failed"]), failureRateLimit, false, 0},
			{AlertRetryRate, ratio(n["retry"], n["submitted"]), retryRateLimit, false, 0},
			{AlertFailedMessages, float64(q.failed), 0, false, failedFor},
			{AlertAgentHeld, held, 0, false, heldFor},
			{AlertQueueStuck, q.oldest.Seconds(), stuckAge.Seconds(), false, stuckFor},
		}
		for i := range conds {
			conds[i].on = conds[i].value > conds[i].threshold
		}
		// Stuck: nothing tried in the window, and not held (that is
		// AgentspoolAgentHeld).
		conds[4].on = conds[4].on && n["attempt"] == 0 && !q.held
		for _, c := range conds {
			key := c.name + "/" + agent
			a, firing := al.active[key]
			switch {
			case c.on && firing:
				if a.Value != c.value {
					a.Value = c.value
					al.active[key] = a
					changed = true
				}
			case c.on:
				since, ok := al.pending[key]
				if !ok {
					since = now
					al.pending[key] = now
				}
				if now.Sub(since) >= c.wait {
					delete(al.pending, key)
					a = AlertStatus{Name: c.name, Agent: agent, Value: c.value, Threshold: c.threshold, Since: now}
					al.active[key] = a
					fired = append(fired, a)
				}
			default:
				delete(al.pending, key)
				if firing {
					delete(al.active, key)
					a.Value = c.value
					ended = append(ended, a)
				}
			}
		}
	}
	// Agents without facts (not in the config: their messages fail at
	// once) are not evaluated, but their samples must not pile up.
	for agent, s := range al.samples {
		if _, ok := facts[agent]; ok {
			continue
		}
		i := 0
		for i < len(s) && now.Sub(s[i].at) > alertSamplesMaxAge {
			i++
		}
		if i == len(s) {
			delete(al.samples, agent)
		} else {
			al.samples[agent] = s[i:]
		}
	}
	al.mu.Unlock()
	for _, a := range fired {
		al.changed(a, true)
	}
	for _, a := range ended {
		al.changed(a, false)
	}
	return changed || len(fired) > 0 || len(ended) > 0
}

// list is the alerts in force, by name then agent.
func (al *alerts) list() []AlertStatus {
	al.mu.Lock()
	defer al.mu.Unlock()
	out := make([]AlertStatus, 0, len(al.active))
	for _, a := range al.active {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Agent < out[j].Agent
	})
	return out
}

// evaluateAlerts reads the spool (at most every alertEvalGap) and
// evaluates the alerts.
func (d *Daemon) evaluateAlerts(force bool) {
	now := d.now()
	d.mu.Lock()
	if !force && now.Sub(d.alertsAt) < alertEvalGap {
		d.mu.Unlock()
		return
	}
	d.alertsAt = now
	d.mu.Unlock()
	facts := map[string]queueFacts{}
	for _, a := range d.cfg.Agents {
		var q queueFacts
		if es, err := d.sp.Scan(spool.StateFailed, a.Name); err == nil {
			q.failed = len(es)
			d.pruneCounts(es)
		}
		if es, err := d.sp.Scan(spool.StateHold, a.Name); err == nil {
			d.pruneCounts(es)
		}
		if es, err := d.sp.Scan(spool.StateNew, a.Name); err == nil {
			for _, e := range es {
				if t := e.EnteredAt(); !t.IsZero() {
					q.oldest = max(q.oldest, now.Sub(t))
				}
			}
		}
		_, q.held = d.sp.AgentHeld(a.Name)
		facts[a.Name] = q
	}
	if d.alerts.evaluate(now, facts) {
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
	}
}

// alertChanged logs an alert that starts or ends, marks the status file
// for rewriting, and runs alert_command in the background.
func (d *Daemon) alertChanged(a AlertStatus, firing bool) {
	state := "resolved"
	if firing {
		state = "firing"
		d.log.Error("alert firing", "alert", a.Name, "agent", a.Agent, "value", a.Value, "threshold", a.Threshold)
	} else {
		d.log.Info("alert resolved", "alert", a.Name, "agent", a.Agent, "value", a.Value, "threshold", a.Threshold)
	}
	d.mu.Lock()
	d.dirty = true
	d.mu.Unlock()
	if d.notifier != nil {
		select {
		case d.notes <- alertNote{a, firing}:
		default:
			d.log.Warn("desktop notification dropped: too many at once", "alert", a.Name, "agent", a.Agent, "state", state)
		}
	}
	if d.cfg.AlertCommand == "" {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.runAlertCommand(a, state)
	}()
}

// alertNote is one alert start or end for the desktop notifier.
type alertNote struct {
	a      AlertStatus
	firing bool
}

// notifyWorker shows the alerts' notifications one at a time, in order (an
// end replaces its start's notification, so it must come after it), off
// the delivery path: a notification service that hangs delays only the
// next notification.
func (d *Daemon) notifyWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-d.notes:
			d.notifier.Notify(n.a, n.firing)
		}
	}
}

// runAlertCommand runs alert_command with the alert in its environment.
// It never blocks delivery: it runs in its own goroutine, and one that
// hangs is killed after alertCommandLimit; either failure is logged.
func (d *Daemon) runAlertCommand(a AlertStatus, state string) {
	// A stop of the daemon kills it too: it must not hold up the stop.
	ctx, cancel := context.WithTimeout(d.ctx, alertCommandLimit)
	defer cancel()
	cmd := shellCommand(ctx, d.cfg.AlertCommand)
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(),
		"AGENTSPOOL_ALERT="+a.Name,
		"AGENTSPOOL_ALERT_STATE="+state,
		"AGENTSPOOL_AGENT="+a.Agent,
		"AGENTSPOOL_VALUE="+strconv.FormatFloat(a.Value, 'g', -1, 64),
		"AGENTSPOOL_THRESHOLD="+strconv.FormatFloat(a.Threshold, 'g', -1, 64),
		"AGENTSPOOL_SINCE="+a.Since.UTC().Format(time.RFC3339),
	)
	out, err := cmd.CombinedOutput()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("killed after %v", alertCommandLimit)
	case ctx.Err() != nil:
		err = errors.New("killed: the daemon is stopping")
	}
	if err != nil {
		d.log.Error("alert_command failed", "alert", a.Name, "agent", a.Agent, "state", state, "err", err, "output", string(out))
	}
}
