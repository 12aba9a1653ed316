package service

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/prometheus/client_golang/prometheus"
)

// The Prometheus rules in contrib/prometheus are checked and unit-tested
// with promtool (Debian: apt-get install prometheus; scripts/deps.sh
// installs it). A missing promtool fails the test: a skip would let rules
// that no longer parse pass `make test`.

const rulesDir = "../contrib/prometheus"

// neverAcked is a confirm.Waiter that sees no ack.
type neverAcked struct{}

func (neverAcked) Wait(context.Context, confirm.Ack, time.Duration) (bool, error) {
	return false, nil
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus; run scripts/deps.sh): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = rulesDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestPrometheusRulesCheck(t *testing.T) {
	promtool(t, "check", "rules", "agentspool-rules.yml")
}

func TestPrometheusRulesUnitTests(t *testing.T) {
	promtool(t, "test", "rules", "agentspool-rules.test.yml")
}

// TestPrometheusRulesNameOurMetrics: every agentspool_ metric the rules
// read is one the daemon exports (a renamed metric would leave an alert
// that never fires, and promtool cannot know).
func TestPrometheusRulesNameOurMetrics(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join(rulesDir, "agentspool-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "")
	d, err := New(Options{Config: r.cfg, Spool: r.sp, Waiter: neverAcked{},
		Deliverer: &deliver.Deliverer{Desktop: r.desk, Timings: deliver.NewTimings(r.cfg.Timing.Min, r.cfg.Timing.Max)}})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	for _, c := range d.metrics.own {
		c.Describe(ch)
	}
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for desc := range ch {
		if m := fq.FindStringSubmatch(desc.String()); m != nil {
			have[m[1]] = true
		}
	}
	// Names in expressions only: not after "record:" (a recorded name
	// holds colons anyway) nor inside comments.
	var exprs []string
	for _, line := range strings.Split(string(rules), "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "summary:") && !strings.HasPrefix(l, "description:") {
			exprs = append(exprs, line)
		}
	}
	// Not after a colon: agent:agentspool_retry:ratio_rate15m is a
	// recorded name.
	var used []string
	for _, m := range regexp.MustCompile(`(?:^|[^:a-z_])(agentspool_[a-z_]+)`).FindAllStringSubmatch(strings.Join(exprs, "\n"), -1) {
		used = append(used, m[1])
	}
	if len(used) < 8 {
		t.Fatalf("only %d agentspool_ metrics found in the rules: %v", len(used), used)
	}
	for _, n := range used {
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && have[b] {
				base = b
			}
		}
		if !have[base] {
			t.Errorf("the rules use %s, which the daemon does not export", n)
		}
	}
}
