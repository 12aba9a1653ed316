package service

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
)

// alertLog collects what an alerts evaluator reports.
type alertLog struct {
	mu  sync.Mutex
	got []string
}

func (l *alertLog) changed(a AlertStatus, firing bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	state := "resolved"
	if firing {
		state = "firing"
	}
	l.got = append(l.got, fmt.Sprintf("%s %s %s %g", a.Name, a.Agent, state, a.Value))
}

func (l *alertLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.got
	l.got = nil
	return g
}

func wantAlerts(t *testing.T, l *alertLog, want ...string) {
	t.Helper()
	got := l.take()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Each alert fires just past its threshold, not at it, and clears.
func TestAlertsFireAndClearAtTheirThresholds(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	quiet := map[string]queueFacts{"A": {}}

	t.Run("failure rate", func(t *testing.T) {
		l := &alertLog{}
		al := newAlerts(l.changed)
		for i := 0; i < 99; i++ {
			al.record("A", "done", t0)
		}
		al.record("A", "failed", t0)
		al.evaluate(t0, quiet) // 1 of 100: 1 %, not more
		wantAlerts(t, l)
		al.record("A", "failed", t0)
		al.evaluate(t0.Add(time.Second), quiet)
		wantAlerts(t, l, fmt.Sprintf("%s A firing %g", AlertFailureRate, 2.0/101))
		al.evaluate(t0.Add(2*time.Second), quiet) // still: no second report
		wantAlerts(t, l)
		al.evaluate(t0.Add(alertWindow+time.Second), quiet) // the failures left the window
		wantAlerts(t, l, AlertFailureRate+" A resolved 0")
	})
	t.Run("retry rate", func(t *testing.T) {
		l := &alertLog{}
		al := newAlerts(l.changed)
		for i := 0; i < 100; i++ {
			al.record("A", "submitted", t0)
		}
		for i := 0; i < 5; i++ {
			al.record("A", "retry", t0)
		}
		al.evaluate(t0, quiet) // 5 %
		wantAlerts(t, l)
		al.record("A", "retry", t0)
		al.evaluate(t0, quiet)
		wantAlerts(t, l, AlertRetryRate+" A firing 0.06")
		al.evaluate(t0.Add(alertWindow+time.Second), quiet)
		wantAlerts(t, l, AlertRetryRate+" A resolved 0")
	})
	t.Run("failed messages for 5m", func(t *testing.T) {
		l := &alertLog{}
		al := newAlerts(l.changed)
		one := map[string]queueFacts{"A": {failed: 1}}
		al.evaluate(t0, one)
		al.evaluate(t0.Add(failedFor-time.Second), one)
		wantAlerts(t, l)
		al.evaluate(t0.Add(failedFor), one)
		wantAlerts(t, l, AlertFailedMessages+" A firing 1")
		al.evaluate(t0.Add(failedFor+time.Second), quiet)
		wantAlerts(t, l, AlertFailedMessages+" A resolved 0")
		// A failure that is retried within the 5 minutes never fires.
		al.evaluate(t0.Add(10*time.Minute), one)
		al.evaluate(t0.Add(14*time.Minute), quiet)
		al.evaluate(t0.Add(16*time.Minute), one)
		wantAlerts(t, l)
	})
	t.Run("held agent: one alert per hold", func(t *testing.T) {
		l := &alertLog{}
		al := newAlerts(l.changed)
		held := map[string]queueFacts{"A": {held: true, oldest: time.Hour}, "B": {}}
		al.evaluate(t0, held)
		for i := 1; i < 10; i++ { // more messages parked behind it
			al.evaluate(t0.Add(time.Duration(i)*time.Minute), held)
		}
		wantAlerts(t, l, AlertAgentHeld+" A firing 1") // and no AgentspoolQueueStuck: it is held
		al.evaluate(t0.Add(time.Hour), map[string]queueFacts{"A": {}, "B": {}})
		wantAlerts(t, l, AlertAgentHeld+" A resolved 0")
	})
	t.Run("queue stopped moving", func(t *testing.T) {
		l := &alertLog{}
		al := newAlerts(l.changed)
		at := func(age time.Duration) map[string]queueFacts { return map[string]queueFacts{"A": {oldest: age}} }
		al.evaluate(t0, at(stuckAge)) // 10 minutes: not more
		al.evaluate(t0.Add(time.Second), at(stuckAge+time.Second))
		al.evaluate(t0.Add(stuckFor), at(stuckAge+stuckFor-time.Second))
		wantAlerts(t, l)
		al.evaluate(t0.Add(stuckFor+time.Second), at(stuckAge+stuckFor))
		wantAlerts(t, l, fmt.Sprintf("%s A firing %g", AlertQueueStuck, (stuckAge+stuckFor).Seconds()))
		// An attempt: it moves again.
		al.record("A", "attempt", t0.Add(stuckFor+2*time.Second))
		al.evaluate(t0.Add(stuckFor+3*time.Second), at(stuckAge+stuckFor+time.Second))
		wantAlerts(t, l, fmt.Sprintf("%s A resolved %g", AlertQueueStuck, (stuckAge+stuckFor+time.Second).Seconds()))
	})
}

// TestHeldAgentRunsAlertCommandOnce: a scripted daemon whose Agent-1 is
// parked by focus mismatches runs alert_command once for the hold (with
// the alert in its environment), shows it in status.json, runs it again
// when the hold ends; a hanging alert_command never holds up delivery.
func TestHeldAgentRunsAlertCommandOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "alerts.txt")
	r := newRig(t, fmt.Sprintf("alert_command: 'echo \"$AGENTSPOOL_ALERT $AGENTSPOOL_ALERT_STATE $AGENTSPOOL_AGENT $AGENTSPOOL_VALUE $AGENTSPOOL_THRESHOLD\" >> %s; [ $AGENTSPOOL_ALERT_STATE = firing ] && sleep 600'\n", out))
	var steal atomic.Bool
	steal.Store(true)
	r.desk.AfterClick = func(d *fakedesktop.Desk, x, y int) {
		if x < 100 && steal.Load() {
			d.Focus("Editor")
		}
	}
	for i := 0; i < 3; i++ {
		r.send("Agent-1", fmt.Sprintf("held %d", i))
	}
	r.start()
	r.waitState(spool.StateHold, "Agent-1", 1)
	// The command hangs (sleep 600) for the firing: delivery goes on.
	for i := 0; i < 3; i++ {
		r.send("Agent-2", fmt.Sprintf("meanwhile %d", i))
	}
	r.waitState(spool.StateDone, "Agent-2", 3)
	waitFile := func(want string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			b, _ := os.ReadFile(out)
			if strings.Contains(string(b), want) {
				return string(b)
			}
		}
		b, _ := os.ReadFile(out)
		t.Fatalf("alert_command output lacks %q:\n%s\nlogs:\n%s", want, b, r.logs.String())
		return ""
	}
	waitFile(AlertAgentHeld + " firing Agent-1 1 0")
	var st Status
	for deadline := time.Now().Add(5 * time.Second); len(st.Alerts) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(r.sp.Root, "status.json"))
		json.Unmarshal(b, &st)
	}
	if len(st.Alerts) != 1 || st.Alerts[0].Name != AlertAgentHeld || st.Alerts[0].Agent != "Agent-1" {
		t.Fatalf("status.json alerts: %+v", st.Alerts)
	}
	if !strings.Contains(r.logs.String(), "level=ERROR msg=\"alert firing\" alert="+AlertAgentHeld) {
		t.Errorf("no ERROR for the alert:\n%s", r.logs.String())
	}
	steal.Store(false)
	if err := r.sp.ReleaseAgent("Agent-1"); err != nil {
		t.Fatal(err)
	}
	got := waitFile(AlertAgentHeld + " resolved Agent-1 0 0")
	// Only the held alert's firings: another alert may fire on its own
	// (a retry of Agent-2's under CI load made AgentspoolRetryRateHigh fire).
	if n := strings.Count(got, AlertAgentHeld+" firing"); n != 1 {
		t.Errorf("%d firings for one hold, want 1:\n%s", n, got)
	}
	start := time.Now()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the stop took %v: a hanging alert_command held it up", el)
	}
}

// An alert in force follows its value: status.json is rewritten with the
// new one, not left at the value it started with.
func TestAlertInForceFollowsItsValue(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	quiet := map[string]queueFacts{"A": {}}
	l := &alertLog{}
	al := newAlerts(l.changed)
	al.record("A", "done", t0)
	al.record("A", "failed", t0)
	if !al.evaluate(t0, quiet) {
		t.Fatal("a firing is a change")
	}
	wantAlerts(t, l, AlertFailureRate+" A firing 0.5")
	if al.evaluate(t0.Add(time.Second), quiet) {
		t.Error("nothing changed, and evaluate says it did")
	}
	al.record("A", "done", t0.Add(time.Second))
	if !al.evaluate(t0.Add(2*time.Second), quiet) {
		t.Error("the value changed, and evaluate says it did not")
	}
	wantAlerts(t, l) // still the one alert: no second report
	if got := al.list(); len(got) != 1 || got[0].Value != 1.0/3 || !got[0].Since.Equal(t0) {
		t.Errorf("in force: %+v", got)
	}
}

// The samples of an agent that is not evaluated (not in the config) leave
// with the window too.
func TestAlertSamplesOfAnUnknownAgentExpire(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	al := newAlerts((&alertLog{}).changed)
	al.record("Ghost", "failed", t0)
	al.evaluate(t0.Add(time.Minute), map[string]queueFacts{"A": {}})
	if len(al.samples["Ghost"]) != 1 {
		t.Fatalf("samples within the window: %v", al.samples["Ghost"])
	}
	al.evaluate(t0.Add(alertWindow+time.Second), map[string]queueFacts{"A": {}})
	if _, ok := al.samples["Ghost"]; ok {
		t.Fatalf("samples after the window: %v", al.samples["Ghost"])
	}
}
