//go:build unix

package terminal_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
	"github.com/agentspool/agentspool/test/panetest"
)

// TestTmuxProof is the tmux channel's proof (issue "Agents in tmux
// panes"): AGENTSPOOL_TMUX_PROOF_MESSAGES (default 1000) messages into 8
// tmux panes — the four real CLIs, each on a tmux server of its own (a
// fifth of the messages), and four shell agents (test/paneagent, which
// acks as a hook would) on one more — under chaos: panes switched to copy mode, a person typing in a
// client attached to the shells' session, the daemon SIGKILLed
// mid-delivery and restarted, a second daemon started on the same spool.
// Every message must reach its program exactly once and alone (the mock
// models' record; the shell agents' own), and be done by its ack. Beside
// them, in the same daemon and the same run, four Tk windows on Xvfb get
// AGENTSPOOL_TMUX_PROOF_DESKTOP (default 100) messages through the
// desktop: the two channels' throughput and drop→submit, measured alike.
//
// It runs in make test; -short skips it. It writes a JSON report (path in
// AGENTSPOOL_TMUX_PROOF_REPORT, default
// $TMPDIR/agentspool-tmux-proof-report.json) and prints its summary.
//
// A clean-clone run at df7604e found one message of a shell agent's
// submitted in two parts, its envelope line alone and then its body. The
// chaos had put the pane in copy mode between the look and the paste, and
// tmux pastes into a pane in a mode unbracketed; the paste now waits for
// no mode (deliver.Panes.typeIn,
// TestPaneCopyModeBegunAfterTheLookTakesNothing). One at 9fc42f9 found a
// message of Qwen Code's at its model twice: pasted and submitted while
// Qwen was still at work on the turn before (its Stop hook had said
// ready), the Enter steered it into that turn unseen by its hook, and
// after the ack timeout it was pasted again. A CLI at work is now waited
// for (deliver.ErrAtWork, TestPaneWaitsForTheCLIToFinishItsTurn), and a
// message that reaches a model twice is explained (rig.twiceExplained).
func TestTmuxProof(t *testing.T) {
	if testing.Short() {
		t.Skip("the tmux proof takes minutes (-short)")
	}
	total := envInt("AGENTSPOOL_TMUX_PROOF_MESSAGES", 1000)
	deskN := envInt("AGENTSPOOL_TMUX_PROOF_DESKTOP", 100)
	r := startPaneRig(t, theFour, 0)
	r.desk = desktoptest.StartT(t, desktoptest.Options{Dir: filepath.Join(r.dir, "desk"), Agents: 4, Log: t.Logf})

	// The shell agents: one tmux server, one session each, the first
	// session attached in a client a person types into.
	bin := panetest.PaneAgent(t)
	shells := []string{"Shell-1", "Shell-2", "Shell-3", "Shell-4"}
	shellLog := func(name string) string { return filepath.Join(r.dir, name+".jsonl") }
	var shellSrv *panetest.Server
	for _, name := range shells {
		ack := fmt.Sprintf("%s --config %s ack", agentspoolBin(), r.cfg)
		cmd := fmt.Sprintf("%s -log %s -ack %q", bin, shellLog(name), ack)
		if shellSrv == nil {
			shellSrv = panetest.Start(t, strings.ToLower(name), cmd, 120, 30)
		} else {
			shellSrv.NewSession(t, strings.ToLower(name), cmd, 120, 30)
		}
	}
	shellSock := shellSrv.Socket

	// coords.yaml: the CLIs (as startPaneRig wrote them), the shells, the
	// Tk windows.
	var b strings.Builder
	raw, _ := os.ReadFile(r.cfg)
	b.Write(raw)
	for _, name := range shells {
		fmt.Fprintf(&b, "  %s:\n    tmux: \"%s:\"\n    tmux_socket: %s\n    tmux_bracketed: true\n", name, strings.ToLower(name), shellSock)
	}
	for _, a := range r.desk.Agents {
		// As desktoptest.CoordsYAML writes them: Tk's text widget selects
		// all on ctrl+slash.
		fmt.Fprintf(&b, "  %s:\n    x: %d\n    y: %d\n    window: %q\n    pid: %d\n    inbox: %s\n    select_all: ctrl+slash\n", a.Name, a.X, a.Y, a.Name, a.PID, a.Inbox)
	}
	if err := os.WriteFile(r.cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// The person's client, attached to the first shell's session.
	typing := shellSrv.Attach(t, "=shell-1")

	r.run()
	// Messages: each pane agent in turn; the CLIs' bodies one-line,
	// multi-line and 2000 characters, the shells' too.
	panes := append(slices.Collect(func(yield func(string) bool) {
		for _, c := range theFour {
			if !yield(c.name) {
				return
			}
		}
	}), shells...)
	// The CLIs get a fifth of them (their models' turns take seconds
	// each); the shell agents, which answer at once, the rest.
	var msgs []message
	began := time.Now()
	perCLI := max(1, total/5/len(theFour))
	for i := 0; len(msgs) < total; i++ {
		for _, p := range panes {
			if len(msgs) < total && (strings.HasPrefix(p, "Shell-") || i < perCLI) {
				msgs = append(msgs, r.send(p, i))
			}
		}
	}
	var deskMsgs []message
	for i := 0; len(deskMsgs) < deskN; i++ {
		for _, a := range r.desk.Agents {
			if len(deskMsgs) < deskN {
				deskMsgs = append(deskMsgs, r.send(a.Name, i))
			}
		}
	}
	t.Logf("queued %d pane and %d desktop messages in %v", len(msgs), len(deskMsgs), time.Since(began).Round(time.Millisecond))

	// Chaos until everything is settled.
	var copyModes, typed, kills, seconds atomic.Int32
	stop := make(chan struct{})
	var chaos sync.WaitGroup
	chaos.Add(1)
	go func() {
		defer chaos.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(700+rng.IntN(600)) * time.Millisecond):
			}
			switch n % 4 {
			case 0, 2:
				// A pane in copy mode for a moment: a CLI's or a shell's.
				sock, target := shellSock, "="+strings.ToLower(shells[rng.IntN(len(shells))])+":"
				if n%4 == 2 {
					a := r.agents[theFour[rng.IntN(len(theFour))].name]
					sock, target = a.TmuxSocket, a.Pane
				}
				if exec.Command("tmux", "-S", sock, "copy-mode", "-t", target).Run() == nil {
					copyModes.Add(1)
					time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
					exec.Command("tmux", "-S", sock, "send-keys", "-t", target, "-X", "cancel").Run()
				}
			case 1:
				// A person types (and rubs it out) in the attached client.
				typing("x\x7f")
				typed.Add(1)
			case 3:
				if n%12 == 3 {
					// The daemon killed mid-delivery, and started again.
					r.kill()
					kills.Add(1)
					r.run()
				} else if n%12 == 7 {
					// A second daemon on the same spool: refused at once
					// (one that runs is killed after 5 s, and said).
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					cmd := exec.CommandContext(ctx, agentspoolBin(), "--config", r.cfg, "run")
					cmd.Env = r.env()
					out, err := cmd.CombinedOutput()
					cancel()
					if err == nil || !strings.Contains(string(out), "already running") {
						t.Errorf("a second daemon was not refused: %v\n%s", err, out)
					}
					seconds.Add(1)
				}
			}
		}
	}()
	// report is the run's figures so far, settled or not.
	report := func(took time.Duration, unsettled int) tmuxReport {
		return tmuxReport{
			PaneMessages: len(msgs), Panes: len(panes), DesktopMessages: len(deskMsgs),
			Seconds: took.Seconds(), Unsettled: unsettled,
			CopyModes: int(copyModes.Load()), TypingBursts: int(typed.Load()),
			Kills: int(kills.Load()), SecondDaemonsRefused: int(seconds.Load()),
			Channels: r.channelFigures(),
		}
	}
	all := append(slices.Clone(msgs), deskMsgs...)
	// Waited for here, not with waitSettled: the chaos restarts the
	// daemon meanwhile.
	deadline := time.Now().Add(time.Duration(total)*time.Second + 5*time.Minute)
	for {
		states, left := r.states(), 0
		for _, m := range all {
			if st := states[m.id].State; st != "done" && st != "failed" && st != "hold" {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			chaos.Wait()
			r.saveScreens()
			t.Errorf("%d of %d messages not settled\n%s", left, len(all), r.tail("daemon.log", 60))
			writeTmuxReport(t, report(time.Since(began), left))
			t.FailNow()
		}
		time.Sleep(time.Second)
	}
	close(stop)
	chaos.Wait()
	settled := time.Since(began)

	for _, c := range theFour {
		r.checkReceived(c.name, msgs)
		r.checkUnharmed(c.name)
	}
	for _, name := range shells {
		checkShell(t, name, shellLog(name), msgs)
	}
	for _, a := range r.desk.Agents {
		got, err := r.desk.Submits(a.Name)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, m := range deskMsgs {
			if m.agent == a.Name {
				want = append(want, m.pasted())
			}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%s (a Tk window) got %d submits, want %d, in order", a.Name, len(got), len(want))
		}
	}
	states := r.states()
	for _, m := range all {
		if st := states[m.id]; st.State != "done" {
			t.Errorf("%s is in %q, want done", m.id, st.State)
		}
	}
	r.checkAckedByHook(clisOnly(msgs))
	writeTmuxReport(t, report(settled, 0))
	if t.Failed() {
		t.Logf("daemon log:\n%s", r.tail("daemon.log", 80))
		r.logScreens()
		r.saveScreens()
	}
}

// tmuxReport is what the tmux proof writes and prints: its size, its
// chaos, and each channel's figures (channelFigures). Pass is the test's
// own verdict: every check above is a t.Errorf.
type tmuxReport struct {
	Pass                 bool              `json:"pass"`
	PaneMessages         int               `json:"pane_messages"`
	Panes                int               `json:"panes"`
	DesktopMessages      int               `json:"desktop_messages"`
	Seconds              float64           `json:"seconds"`
	Unsettled            int               `json:"unsettled,omitempty"`
	CopyModes            int               `json:"copy_modes"`
	TypingBursts         int               `json:"typing_bursts"`
	Kills                int               `json:"daemon_kills"`
	SecondDaemonsRefused int               `json:"second_daemons_refused"`
	Channels             map[string]string `json:"channels"`
}

// writeTmuxReport writes rep as JSON and prints its summary (go test
// shows it with -v, or when the package fails).
func writeTmuxReport(t *testing.T, rep tmuxReport) {
	t.Helper()
	rep.Pass = !t.Failed()
	path, err := desktoptest.WriteReport("AGENTSPOOL_TMUX_PROOF_REPORT", "agentspool-tmux-proof-report.json", rep)
	if err != nil {
		t.Errorf("report: %v", err)
	}
	verdict := "PASS"
	if !rep.Pass {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tmux proof %s: %d pane messages into %d panes, %d desktop messages into 4 Tk windows, settled in %.0fs\n",
		verdict, rep.PaneMessages, rep.Panes, rep.DesktopMessages, rep.Seconds)
	if rep.Unsettled > 0 {
		fmt.Fprintf(&b, "  %d messages not settled\n", rep.Unsettled)
	}
	fmt.Fprintf(&b, "  chaos: %d copy modes, %d typing bursts, %d daemon kills, %d second daemons refused\n",
		rep.CopyModes, rep.TypingBursts, rep.Kills, rep.SecondDaemonsRefused)
	for _, k := range slices.Sorted(maps.Keys(rep.Channels)) {
		fmt.Fprintf(&b, "  %-20s %s\n", k+":", rep.Channels[k])
	}
	fmt.Fprintf(&b, "  report: %s\n", path)
	t.Log("\n" + b.String())
	fmt.Print(b.String())
}

// saveScreens keeps each CLI's screen, escapes and all, in the work dir.
func (r *rig) saveScreens() {
	for name, a := range r.agents {
		out, _ := exec.Command("tmux", "-S", a.TmuxSocket, "capture-pane", "-p", "-e", "-J", "-t", a.Pane).Output()
		os.WriteFile(filepath.Join(r.dir, name+".screen"), out, 0o644)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func agentspoolBin() string { return bin }

func clisOnly(msgs []message) []message {
	return slices.DeleteFunc(slices.Clone(msgs), func(m message) bool { return strings.HasPrefix(m.agent, "Shell-") })
}

// kill SIGKILLs the daemon by its pid (mid-delivery, as likely as not).
func (r *rig) kill() {
	if r.daemon == nil {
		return
	}
	_ = r.daemon.Process.Kill()
	<-r.done
	r.daemon = nil
}

// checkShell asserts a shell agent submitted each of its messages exactly
// once, alone, and nothing else.
func checkShell(t *testing.T, name, log string, msgs []message) {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	defer f.Close()
	want := map[string]message{}
	for _, m := range msgs {
		if m.agent == name {
			want[m.pasted()] = m
		}
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if failed, ok := l["ack_failed"]; ok {
			t.Errorf("%s: its ack failed: %v", name, failed)
		}
		p, ok := l["prompt"].(string)
		if !ok {
			continue
		}
		m, ok := want[p]
		if !ok {
			t.Errorf("%s: a submit that is not one message alone: %.200q", name, p)
			continue
		}
		seen[m.id]++
	}
	for _, m := range want {
		if seen[m.id] != 1 {
			t.Errorf("%s: message %s submitted %d times, want exactly once", name, m.id, seen[m.id])
		}
	}
}

// channelFigures reads the journal's successful attempts: for each
// channel and kind of agent (the shell agents and the CLIs in panes, the
// Tk windows on the desktop), the messages submitted, their rate over
// that kind's own span (first drop to last submit), and drop→submit p50
// and p95. The shell agents and the Tk windows answer at once: they are
// the channels' own speed; the CLIs wait for their model's turns.
func (r *rig) channelFigures() map[string]string {
	type figs struct {
		n           int
		first, last time.Time
		sinceDrop   []float64
	}
	all := map[string]*figs{}
	for _, l := range r.journal("attempt") {
		if ok, _ := l["ok"].(bool); !ok {
			continue
		}
		kind := "desktop, Tk windows"
		switch {
		case l["terminal"] == "tmux" && l["cli"] != nil:
			kind = "tmux, agent CLIs"
		case l["terminal"] == "tmux":
			kind = "tmux, shell agents"
		}
		f := all[kind]
		if f == nil {
			f = &figs{}
			all[kind] = f
		}
		at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
		ms, _ := l["since_drop_ms"].(float64)
		f.n++
		f.sinceDrop = append(f.sinceDrop, ms)
		drop := at.Add(-time.Duration(ms * float64(time.Millisecond)))
		if f.first.IsZero() || drop.Before(f.first) {
			f.first = drop
		}
		if at.After(f.last) {
			f.last = at
		}
	}
	out := map[string]string{}
	for kind, f := range all {
		slices.Sort(f.sinceDrop)
		q := func(x float64) float64 { return f.sinceDrop[int(x*float64(len(f.sinceDrop)-1))] }
		span := f.last.Sub(f.first).Seconds()
		out[kind] = fmt.Sprintf("%d submitted in %.1fs: %.2f messages/s; drop→submit p50 %.0f ms, p95 %.0f ms", f.n, span, float64(f.n)/span, q(0.5), q(0.95))
	}
	return out
}
