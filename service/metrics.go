package service

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Version is the daemon's version in agentspool_build_info; main sets it
// from its -X main.version.
var Version = "dev"

// The results of one attempt (agentspool_attempts_total{result}) and the
// final outcomes of a message (agentspool_messages_total{outcome}): small
// fixed sets, so a dashboard can list them and no id ever becomes a label.
const (
	ResultSubmitted      = "submitted"       // the submit key went to the agent's window
	ResultFocusMismatch  = "focus_mismatch"  // another window had the focus: nothing pasted
	ResultClipboardTaken = "clipboard_taken" // another client took the clipboard (or its owner did not answer)
	ResultPerson         = "person"          // a person at the desk: deferred for a quiet desk
	ResultDraft          = "draft"           // the input held a person's draft: not pasted over it
	ResultAtWork         = "at_work"         // the agent's CLI was at work on a turn (its pane showed it): not pasted
	ResultNotFetched     = "not_fetched"     // the window never read the paste, or the look could not see it
	ResultError          = "error"           // anything else (no display, a refused key, a read error)
)

var (
	attemptResults  = []string{ResultSubmitted, ResultFocusMismatch, ResultClipboardTaken, ResultPerson, ResultDraft, ResultAtWork, ResultNotFetched, ResultError}
	messageOutcomes = []string{"done", "failed", "held"}
	// queueStates are the spool directories agentspool_queue_messages
	// counts: done/ is an archive that only grows, and its flow is
	// agentspool_messages_total{outcome="done"}.
	queueStates = []spool.State{spool.StateNew, spool.StateCur, spool.StateHold, spool.StateFailed}
)

// attemptResult maps a delivery error to its result label. deliver exports
// checks for focus, person, draft and display errors; the clipboard and
// paste failures are temporary errors told apart only by their text, so
// those strings are matched here (deliver/deliver.go: "took the clipboard",
// "kept taking the clipboard", "did not read the clipboard", "paste is not
// in the input", "paste could not be seen").
func attemptResult(err error) string {
	if err == nil {
		return ResultSubmitted
	}
	if _, ok := deliver.IsFocusMismatch(err); ok {
		return ResultFocusMismatch
	}
	switch {
	case deliver.IsNotQuiet(err), deliver.IsPersonActive(err):
		return ResultPerson
	case deliver.IsDraft(err):
		return ResultDraft
	case errors.Is(err, deliver.ErrAtWork):
		return ResultAtWork
	case errors.Is(err, deliver.ErrClipboardSilent), errors.Is(err, deliver.ErrClipboardTaken):
		return ResultClipboardTaken
	case errors.Is(err, deliver.ErrNotLanded):
		return ResultNotFetched
	}
	return ResultError
}

// metrics are the daemon's Prometheus figures. Every counter and histogram
// is fed from the journal's two writers (journal.Attempt, journal.Event), so
// each one agrees with journal.jsonl line for line; the queue figures are
// read from the spool at scrape time.
type metrics struct {
	reg *prometheus.Registry

	messages     *prometheus.CounterVec
	attempts     *prometheus.CounterVec
	retries      *prometheus.CounterVec
	recovered    *prometheus.CounterVec
	deferred     *prometheus.CounterVec
	bounces      *prometheus.CounterVec
	gui          *prometheus.HistogramVec
	lockWait     *prometheus.HistogramVec
	dropToSubmit *prometheus.HistogramVec
	dropToAck    *prometheus.HistogramVec
	start        prometheus.Gauge

	// own are the collectors of agentspool_ figures (for the rules test:
	// every name the rules use is one of them).
	own []prometheus.Collector

	// alerts hears of the same attempts and events, for the daemon's own
	// alert evaluation.
	alerts *alerts

	mu sync.Mutex
	// failedIDs are the ids that went to failed/ (seeded from failed/ at
	// start): one that later ends in done/ was recovered.
	failedIDs map[string]bool
}

// Buckets: the GUI phase is tens of milliseconds to seconds; drop→submit
// and drop→ack include queueing, quiet-desk waits and retry backoffs.
var (
	guiBuckets  = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	lockBuckets = []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	dropBuckets = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}
)

func newMetrics(d *Daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), failedIDs: map[string]bool{}}
	agent := []string{"agent"}
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentspool_messages_total",
		Help: "Messages that reached a final or parking state, by agent and outcome (done, failed, held)."}, []string{"agent", "outcome"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentspool_attempts_total",
		Help: "Delivery attempts by agent and result (submitted, focus_mismatch, clipboard_taken, person, draft, not_fetched, error)."}, []string{"agent", "result"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentspool_retries_total",
		Help: "Submitted messages put back in new/ for another attempt because no ack came in time."}, agent)
	m.recovered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentspool_recovered_total",
		Help: "Messages that had gone to failed/, were retried, and then ended in done/."}, agent)
	m.deferred = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentspool_deferred_for_person_total",
		Help: "Deliveries deferred because a person was using the desktop (the same count as attempts_total{result=\"person\"})."}, agent)
	m.bounces = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentspool_bounces_total",
		Help: "Non-delivery reports queued for senders, by the agent the undelivered message was for."}, agent)
	m.gui = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentspool_gui_phase_seconds",
		Help: "The GUI phase of an attempt: desktop lock taken to submit settled.", Buckets: guiBuckets}, agent)
	m.lockWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentspool_desktop_lock_wait_seconds",
		Help: "Time an attempt waited for the desktop lock (contention with other processes driving this desktop).", Buckets: lockBuckets}, agent)
	m.dropToSubmit = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentspool_drop_to_submit_seconds",
		Help: "From the message entering the spool to its submit, per submitted attempt.", Buckets: dropBuckets}, agent)
	m.dropToAck = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentspool_drop_to_ack_seconds",
		Help: "From the message entering the spool to its ack being seen (acked messages only).", Buckets: dropBuckets}, agent)
	m.start = prometheus.NewGauge(prometheus.GaugeOpts{Name: "agentspool_start_time_seconds",
		Help: "When the daemon started, in seconds since the Unix epoch."})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentspool_build_info",
		Help: "The daemon's version and Go version; the value is always 1."}, []string{"version", "goversion"})
	build.WithLabelValues(Version, runtime.Version()).Set(1)
	m.own = []prometheus.Collector{m.messages, m.attempts, m.retries, m.recovered, m.deferred, m.bounces, m.gui, m.lockWait,
		m.dropToSubmit, m.dropToAck, m.start, build, &queueCollector{d: d}}
	m.reg.MustRegister(m.own...)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every configured agent's series exist from the start at 0, so a
	// rate() or an "== 0 for 10m" rule sees the first failure.
	for _, a := range d.cfg.Agents {
		for _, o := range messageOutcomes {
			m.messages.WithLabelValues(a.Name, o)
		}
		for _, r := range attemptResults {
			m.attempts.WithLabelValues(a.Name, r)
		}
		m.retries.WithLabelValues(a.Name)
		m.recovered.WithLabelValues(a.Name)
		m.deferred.WithLabelValues(a.Name)
		m.bounces.WithLabelValues(a.Name)
	}
	return m
}

// attempt counts one journal attempt line of result res; sinceDrop is 0
// when unknown.
func (m *metrics) attempt(agent string, r deliver.Report, res string, sinceDrop time.Duration) {
	m.attempts.WithLabelValues(agent, res).Inc()
	if m.alerts != nil {
		now := time.Now()
		m.alerts.record(agent, "attempt", now)
		if res == ResultSubmitted {
			m.alerts.record(agent, "submitted", now)
		}
	}
	if res == ResultPerson {
		m.deferred.WithLabelValues(agent).Inc()
	}
	// Only an attempt that took the lock has a GUI phase and a lock wait;
	// one refused before (a person at the desk) would dilute both.
	if r.GUI > 0 {
		m.gui.WithLabelValues(agent).Observe(r.GUI.Seconds())
		m.lockWait.WithLabelValues(agent).Observe(r.LockWait.Seconds())
	}
	if res == ResultSubmitted && sinceDrop > 0 {
		m.dropToSubmit.WithLabelValues(agent).Observe(sinceDrop.Seconds())
	}
}

// event counts one journal event line: done, failed, held, retry, bounced.
func (m *metrics) event(e spool.Entry, event string, acked bool, sinceDrop time.Duration) {
	if m.alerts != nil && (event == "done" || event == "failed" || event == "retry") {
		m.alerts.record(e.Agent, event, time.Now())
	}
	switch event {
	case "done":
		m.messages.WithLabelValues(e.Agent, event).Inc()
		if acked && sinceDrop > 0 {
			m.dropToAck.WithLabelValues(e.Agent).Observe(sinceDrop.Seconds())
		}
		m.mu.Lock()
		was := m.failedIDs[e.ID]
		delete(m.failedIDs, e.ID)
		m.mu.Unlock()
		if was {
			m.recovered.WithLabelValues(e.Agent).Inc()
		}
	case "failed":
		m.messages.WithLabelValues(e.Agent, event).Inc()
		m.mu.Lock()
		m.failedIDs[e.ID] = true
		m.mu.Unlock()
	case "held":
		m.messages.WithLabelValues(e.Agent, event).Inc()
	case "retry":
		m.retries.WithLabelValues(e.Agent).Inc()
	case "bounced":
		m.bounces.WithLabelValues(e.Agent).Inc()
	}
}

// seedFailed remembers the ids in failed/ at start, so a message that
// failed before a restart and is retried after it counts as recovered.
func (m *metrics) seedFailed(sp *spool.Spool) {
	es, err := sp.Scan(spool.StateFailed, "")
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range es {
		m.failedIDs[e.ID] = true
	}
}

// queueCollector reads the spool at scrape time: the depth of each queue
// directory per agent, the age of the oldest queued message, and whether
// the agent is held.
type queueCollector struct{ d *Daemon }

var (
	queueDesc = prometheus.NewDesc("agentspool_queue_messages",
		"Messages in the spool by agent and state (new, cur, hold, failed), read at scrape time.", []string{"agent", "state"}, nil)
	oldestDesc = prometheus.NewDesc("agentspool_queue_oldest_age_seconds",
		"Age of the oldest message in new/ per agent (since it entered the spool); 0 when none is queued.", []string{"agent"}, nil)
	heldDesc = prometheus.NewDesc("agentspool_agent_held",
		"1 when the agent's whole queue is parked in hold/ (released with agentspool release), else 0.", []string{"agent"}, nil)
)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- oldestDesc
	ch <- heldDesc
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	sp := q.d.sp
	names, err := sp.Agents()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
		return
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, a := range q.d.cfg.Agents {
		if !seen[a.Name] {
			names = append(names, a.Name)
		}
	}
	now := q.d.now()
	for _, agent := range names {
		for _, st := range queueStates {
			es, err := sp.Scan(st, agent)
			if err != nil {
				continue // the agent's directory may not exist yet
			}
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(len(es)), agent, string(st))
			if st == spool.StateNew {
				age := 0.0
				for _, e := range es {
					if t := e.EnteredAt(); !t.IsZero() {
						age = max(age, now.Sub(t).Seconds())
					}
				}
				ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, agent)
			}
		}
		held := 0.0
		if _, ok := sp.AgentHeld(agent); ok {
			held = 1
		}
		ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, held, agent)
	}
}

// serveMetrics serves /metrics on addr until ctx ends. A failure to listen
// is logged and shown in status as degraded, never a stop of delivery.
func (d *Daemon) serveMetrics(ctx context.Context, addr string) (stop func()) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		d.degrade("metrics", err)
		return func() {}
	}
	d.mu.Lock()
	d.metricsAddr = ln.Addr().String()
	d.mu.Unlock()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{ErrorLog: nil}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.log.Info("metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}
}

// MetricsAddr is where /metrics listens ("" when off or not yet started).
func (d *Daemon) MetricsAddr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.metricsAddr
}
