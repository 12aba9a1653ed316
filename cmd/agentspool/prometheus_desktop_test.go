package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// A real Prometheus server (Debian package prometheus; scripts/deps.sh)
// scrapes the real daemon while it delivers on the test desktop, with
// contrib/prometheus/agentspool-rules.yml loaded: the figures it holds
// agree with journal.jsonl, and the failure and retry alerts become
// active.

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// promServer is a Prometheus started by the test, stopped by its pid.
type promServer struct {
	t    *testing.T
	base string // http://127.0.0.1:PORT
	log  string
}

func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (Debian package prometheus; run scripts/deps.sh): %v", err)
	}
	rules, err := filepath.Abs("../../contrib/prometheus/agentspool-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: agentspool
    static_configs:
      - targets: [%q]
`, rules, target)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &promServer{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), log: filepath.Join(dir, "prometheus.log")}
	lf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(p.base, "http://"))
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	t.Cleanup(func() {
		if err := stopProcess(cmd); err != nil {
			t.Logf("prometheus (pid %d): %v", cmd.Process.Pid, err)
		}
	})
	p.waitFor("ready", 30*time.Second, func() bool {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func (p *promServer) logText() string {
	b, _ := os.ReadFile(p.log)
	return tailString(string(b), 3000)
}

func (p *promServer) waitFor(what string, within time.Duration, ok func() bool) {
	p.t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("prometheus: %s: not within %v\nprometheus log:\n%s", what, within, p.logText())
		}
	}
}

// get decodes the data of an /api/v1 answer.
func (p *promServer) get(path string, data any) error {
	resp, err := http.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// query is an instant query's series: value by "agent" label (or by the
// label set written out when there is no agent label).
func (p *promServer) query(q string) map[string]float64 {
	p.t.Helper()
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		p.t.Fatalf("query %s: %v", q, err)
	}
	out := map[string]float64{}
	for _, r := range data.Result {
		v, _ := strconv.ParseFloat(r.Value[1].(string), 64)
		out[r.Metric["agent"]] = v
	}
	return out
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
	Value  string            `json:"value"`
}

func (p *promServer) alerts() []promAlert {
	p.t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := p.get("/api/v1/alerts", &data); err != nil {
		p.t.Fatal(err)
	}
	return data.Alerts
}

func (p *promServer) alertState(name, agent string) string {
	for _, a := range p.alerts() {
		if a.Labels["alertname"] == name && a.Labels["agent"] == agent {
			return a.State
		}
	}
	return ""
}

// journalCounts are the figures the test compares, from journal.jsonl.
type journalCounts map[string]map[string]float64 // figure → agent → value

func readJournalCounts(t *testing.T, path string) journalCounts {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := journalCounts{}
	add := func(fig, agent string) {
		if c[fig] == nil {
			c[fig] = map[string]float64{}
		}
		c[fig][agent]++
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Event, Agent, Why string
			OK                bool
			GUI               float64 `json:"gui_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("journal: %v: %s", err, sc.Text())
		}
		switch l.Event {
		case "attempt":
			add("attempts", l.Agent)
			if l.OK {
				add("submitted", l.Agent)
			}
			if l.GUI > 0 {
				add("gui", l.Agent)
			}
		case "done":
			add("done", l.Agent)
			if strings.Contains(l.Why, "acked") {
				add("acked", l.Agent)
			}
		case "failed", "retry":
			add(l.Event, l.Agent)
		}
	}
	return c
}

// TestPrometheusScrapesTheDaemon: 8 messages to two Tk agents; Agent-1
// never acks its first (one retry), Agent-2 never acks its first and has
// max_attempts 1 (one failure).
func TestPrometheusScrapesTheDaemon(t *testing.T) {
	r := newDesktopRig(t, 2, desktoptest.FixtureOptions{NeverAckFirst: map[string]bool{"Agent-1": true, "Agent-2": true}})
	yaml, err := os.ReadFile(r.config)
	if err != nil {
		t.Fatal(err)
	}
	inbox2 := "inbox: " + strconv.Quote(r.desk.Agents[1].Inbox)
	text := strings.Replace(string(yaml), inbox2, inbox2+"\n    max_attempts: 1", 1)
	text = strings.Replace(text, "ack_timeout: 5s", "ack_timeout: 2s", 1)
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	text += "metrics: " + metrics + "\n"
	if !strings.Contains(text, "max_attempts: 1") || !strings.Contains(text, "ack_timeout: 2s") {
		t.Fatalf("config not as meant:\n%s", text)
	}
	if err := os.WriteFile(r.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	p := startPrometheus(t, metrics)
	r.start()
	// A scrape before any delivery: a rate() sees the failure as an
	// increase from 0, not as the counter's first value.
	p.waitFor("a first scrape of the daemon", 30*time.Second, func() bool {
		_, ok := p.query(`agentspool_messages_total{outcome="failed"}`)["Agent-2"]
		return ok
	})

	const n = 8
	for i := 0; i < n; i++ {
		a := r.desk.Agents[i%2].Name
		if _, errs, code := r.cli("send", "--to", a, "-m", fmt.Sprintf("message %d for %s", i, a)); code != 0 {
			t.Fatalf("send: exit %d: %s", code, errs)
		}
	}
	deadline := time.Now().Add(40 * time.Second)
	for r.count(spool.StateDone)+r.count(spool.StateFailed) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d done, %d failed of %d\ndaemon log:\n%s", r.count(spool.StateDone), r.count(spool.StateFailed), n, tailString(r.logText(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	j := readJournalCounts(t, filepath.Join(r.spool, "journal.jsonl"))
	// The scenario went as planned.
	if j["done"]["Agent-1"] != 4 || j["done"]["Agent-2"] != 3 || j["failed"]["Agent-2"] != 1 || j["retry"]["Agent-1"] != 1 || j["failed"]["Agent-1"] != 0 {
		t.Fatalf("journal: %v\ndaemon log:\n%s", j, tailString(r.logText(), 4000))
	}

	// Prometheus's figures, once it has scraped the end, are the journal's.
	checks := []struct{ query, fig string }{
		{`agentspool_messages_total{outcome="done"}`, "done"},
		{`agentspool_messages_total{outcome="failed"}`, "failed"},
		{`agentspool_retries_total`, "retry"},
		{`sum by (agent) (agentspool_attempts_total)`, "attempts"},
		{`agentspool_attempts_total{result="submitted"}`, "submitted"},
		{`agentspool_gui_phase_seconds_count`, "gui"},
		{`agentspool_drop_to_ack_seconds_count`, "acked"},
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var differ []string
		for _, c := range checks {
			got := p.query(c.query)
			for _, a := range []string{"Agent-1", "Agent-2"} {
				if got[a] != j[c.fig][a] {
					differ = append(differ, fmt.Sprintf("%s{agent=%s} = %v, journal %v", c.query, a, got[a], j[c.fig][a]))
				}
			}
		}
		if len(differ) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus differs from the journal after 20s:\n%s", strings.Join(differ, "\n"))
		}
	}
	if resp, err := http.Get("http://" + metrics + "/metrics"); err == nil {
		var own []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "agentspool_") {
				own = append(own, sc.Text())
			}
		}
		resp.Body.Close()
		t.Logf("/metrics, agentspool_ lines:\n%s", strings.Join(own, "\n"))
	}
	if q := p.query(`agentspool_queue_messages{state="failed"}`); q["Agent-2"] != 1 || q["Agent-1"] != 0 {
		t.Errorf("failed/ gauge: %v", q)
	}
	if q := p.query(`agentspool_build_info`); len(q) != 1 {
		t.Errorf("build_info: %v", q)
	}

	// The rules: the failure rate of Agent-2 (1 of 4) and the retry rate
	// of Agent-1 (1 of 5 submits) fire at once (no for:); the failed
	// message is pending for its 5 minutes.
	p.waitFor("AgentspoolDeliveryFailureRateHigh firing for Agent-2", 20*time.Second, func() bool {
		return p.alertState("AgentspoolDeliveryFailureRateHigh", "Agent-2") == "firing"
	})
	p.waitFor("AgentspoolRetryRateHigh firing for Agent-1", 20*time.Second, func() bool {
		return p.alertState("AgentspoolRetryRateHigh", "Agent-1") == "firing"
	})
	p.waitFor("AgentspoolFailedMessages pending for Agent-2", 20*time.Second, func() bool {
		return p.alertState("AgentspoolFailedMessages", "Agent-2") == "pending"
	})
	for _, a := range p.alerts() {
		switch {
		case a.Labels["alertname"] == "AgentspoolDeliveryFailureRateHigh" && a.Labels["agent"] != "Agent-2",
			a.Labels["alertname"] == "AgentspoolRetryRateHigh" && a.Labels["agent"] != "Agent-1",
			a.Labels["alertname"] == "AgentspoolAgentHeld", a.Labels["alertname"] == "AgentspoolQueueStuck":
			t.Errorf("an alert that must not be: %+v", a)
		}
	}
	t.Logf("prometheus alerts: %+v", p.alerts())

	// The daemon's own evaluation of the same rules agrees (status shows
	// its alerts in force), and status's figures are the journal's too.
	var out string
	var code int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _, code = r.cli("status")
		if strings.Contains(out, "alert: AgentspoolDeliveryFailureRateHigh Agent-2: 0.25 > 0.01") &&
			strings.Contains(out, "alert: AgentspoolRetryRateHigh Agent-1: 0.2 > 0.05") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the daemon's own alerts are not in status:\n%s", out)
			break
		}
	}
	t.Logf("status:\n%s", out)
	row := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "last hour") {
			row = strings.Join(strings.Fields(l)[:6], " ")
		}
	}
	if code != 0 || row != "last hour 87.5% 7 1 0" { // 7 of 8 delivered, none held
		t.Errorf("status: exit %d, last hour %q\n%s", code, row, out)
	}
	var rows []agentStatus
	js, _, _ := r.cli("status", "--json")
	if err := json.Unmarshal([]byte(js), &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		h := row.Figures[0]
		if float64(h.Done) != j["done"][row.Agent] || float64(h.Failed) != j["failed"][row.Agent] ||
			float64(h.Retries) != j["retry"][row.Agent] || float64(h.Submitted) != j["submitted"][row.Agent] {
			t.Errorf("status --json %s: %+v, journal %v", row.Agent, h, j)
		}
	}
	if os.Getenv("PROM_DEBUG") != "" || t.Failed() {
		t.Logf("daemon log:\n%s", tailString(r.logText(), 8000))
	}
}
