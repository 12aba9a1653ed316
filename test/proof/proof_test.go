package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

// The proof of issue 4: 1000 messages to 8 agent windows on a real X
// server and (issue 18) to real agent CLIs in terminal windows beside
// them (clis_test.go), from 8 concurrent sender processes, while a focus
// stealer, a clipboard clobberer, a second delivering process, a slow
// acker, an agent that never acks its first message, CPU load on every
// core and a SIGKILL of the daemon do their worst. What each window
// received (the fixture's submit records) and what each CLI's model
// received (its mock's record) is compared with what was sent.
//
// Knobs (environment): AGENTSPOOL_PROOF_MESSAGES (default 1000),
// AGENTSPOOL_PROOF_SEED, AGENTSPOOL_PROOF_REPORT (the JSON report's path),
// AGENTSPOOL_PROOF_KEEP=1 (keep the work dir even on success; it is always
// kept on failure), AGENTSPOOL_PROOF_CLIS and AGENTSPOOL_PROOF_CLI_EVERY
// (clis_test.go).

var bin string // the agentspool binary TestMain builds

func TestMain(m *testing.M) {
	if os.Getenv("AGENTSPOOL_PROOF_ROLE") == "second" {
		os.Exit(runSecond())
	}
	desktoptest.MainWithAgentspool(m, &bin)
}

const (
	nAgents       = 8
	nSenders      = 8
	slowAgent     = "Agent-5"
	slowAckDelay  = 700 * time.Millisecond
	neverAckAgent = "Agent-2"
	ackTimeout    = 8 * time.Second
	secondCount   = 48
	// crashAt: a daemon asked to crash at a GUI step does so the crashAt-th
	// time that step ends.
	crashAt    = 4
	editorName = "Editor"
)

// proofKinds are the agent windows: Tk, and a Chromium window of every
// input kind, two per browser (Agent-5+6, 7+8), as IDE windows share one
// Electron process. The slow acker is a textarea.
var proofKinds = []string{
	desktoptest.KindTk, desktoptest.KindTk, desktoptest.KindTk, desktoptest.KindTk,
	desktoptest.KindTextarea, desktoptest.KindContentEditable,
	desktoptest.KindMonaco, desktoptest.KindLexical,
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// msg is one message the proof sends through the daemon.
type msg struct {
	Index    int
	Token    string // P0042: in the body, unique
	Agent    string
	Sender   int
	Method   string // send-m | send-file | mv-fm | mv-plain
	From     string // front matter from; "" is rendered "-"
	Priority string
	Body     string
	ID       string // known once sent
	SentAt   time.Time
}

func (m *msg) expected() string {
	from := m.From
	if from == "" {
		from = "-"
	}
	return fmt.Sprintf("[agentspool id=%s from=%s to=%s]\n%s", m.ID, from, m.Agent, strings.TrimRight(m.Body, "\r\n"))
}

var words = []string{"review", "the", "patch", "naïve", "café", "日本語", "Ελληνικά", "✓", "→", "{braces}", "[brackets]",
	"$HOME", "`ticks`", `"quotes"`, "'single'", `back\slash`, "100%", "a&b", "<tag>", "tab\there", "ok", "ü", "ß", "Ω"}

func makeBody(rng *rand.Rand, m *msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "proof %s for %s from sender %d (%s)\n", m.Token, m.Agent, m.Sender, m.Method)
	lines := 1 + rng.IntN(4)
	for range lines {
		n := 3 + rng.IntN(14)
		for j := range n {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		b.WriteByte('\n')
	}
	if rng.IntN(25) == 0 { // now and then a long one
		b.WriteString(strings.Repeat("long line of text, ", 120) + "\n")
	}
	fmt.Fprintf(&b, "end of %s", m.Token)
	b.WriteString(strings.Repeat("\n", rng.IntN(3))) // trailing newlines are trimmed
	return b.String()
}

// child is a long-running process the test started and ends by pid.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

type children struct {
	mu   sync.Mutex
	list []*child
}

func (cs *children) start(t *testing.T, name string, cmd *exec.Cmd, logPath string) *child {
	t.Helper()
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	return c
}

// stop ends c: sig, then SIGKILL after grace.
func (c *child) stop(sig syscall.Signal, grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (cs *children) stopAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.list {
		c.stop(syscall.SIGKILL, 5*time.Second)
	}
}

func TestProof(t *testing.T) {
	begin := time.Now()
	n := envInt("AGENTSPOOL_PROOF_MESSAGES", 1000)
	seed := uint64(envInt("AGENTSPOOL_PROOF_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("proof: %d messages, seed %d (AGENTSPOOL_PROOF_SEED to repeat)", n, seed)

	work, err := os.MkdirTemp("", "agentspool-proof-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("AGENTSPOOL_PROOF_KEEP") != "" {
			t.Logf("proof: work dir kept: %s (logs/, spool/, desktop/agents/*/submits)", work)
			return
		}
		os.RemoveAll(work)
	})
	var procs children
	t.Cleanup(procs.stopAll) // runs before the desktop's Stop (cleanups are LIFO)

	clis, err := wantedCLIs()
	if err != nil {
		t.Fatal(err)
	}
	opts := desktoptest.Options{
		Agents: nAgents, Dir: filepath.Join(work, "desktop"), Kinds: proofKinds,
		// Every clobber starts an xclip: keep those out of the test log.
		Log: func(format string, args ...any) {
			if line := fmt.Sprintf(format, args...); !strings.Contains(line, "started xclip") {
				t.Log(line)
			}
		},
		Fixture: desktoptest.FixtureOptions{
			AckDelays:     map[string]time.Duration{slowAgent: slowAckDelay},
			NeverAckFirst: map[string]bool{neverAckAgent: true},
		},
	}
	if len(clis) > 0 { // their terminals stand right of the grid
		opts.Width, opts.Height, opts.GridWidth, opts.GridHeight = screenW, screenH, gridW, gridH
	}
	desk := desktoptest.StartT(t, opts)
	// A window of another app, for the focus stealer to activate too:
	// anything pasted into it is a misroute.
	if _, err := desk.StartEditor(editorName); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(work, "logs")
	os.MkdirAll(logs, 0o755)
	sp := filepath.Join(work, "spool")
	lockFile := filepath.Join(work, "desktop.lock")
	coords := filepath.Join(work, "coords.yaml")
	yaml := desk.CoordsYAML(sp) + cliYAML(clis) + fmt.Sprintf(`lock_file: %q
scan_interval: 1s
timing:
  min: 5ms
  max: 5s
defaults:
  ack_timeout: %s
  backoff: 500ms
  max_attempts: 5
`, lockFile, ackTimeout)
	if err := os.WriteFile(coords, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(desk.Env(), "AGENTSPOOL_CONFIG="+coords)
	agentNames := make([]string, nAgents)
	for i, a := range desk.Agents {
		agentNames[i] = a.Name
	}
	// Every agent: the grid's windows, then the CLIs.
	allNames := slices.Clone(agentNames)
	isCLI := map[string]*proofCLI{}
	for _, c := range clis {
		allNames = append(allNames, c.name)
		isCLI[c.name] = c
	}
	if len(clis) > 0 {
		startCLIs(t, desk, work, env, clis)
	}
	cliEvery := envInt("AGENTSPOOL_PROOF_CLI_EVERY", 10)

	// The person's clipboard before the run.
	if err := desk.SetClipboard("the person's own clipboard ✓ before the run"); err != nil {
		t.Fatal(err)
	}

	var daemonRuns int
	// crashAfter: the GUI step at which the daemon kills itself (a
	// SIGKILL of its own, AGENTSPOOL_CRASH_AFTER) the crashAt-th time it
	// ends; "" for none.
	startDaemon := func(crashAfter string) *child {
		daemonRuns++
		cmd := exec.Command(bin, "run", "--log-level", "debug")
		cmd.Env = env
		if crashAfter != "" {
			cmd.Env = append(slices.Clone(env), fmt.Sprintf("AGENTSPOOL_CRASH_AFTER=%s:%d", crashAfter, crashAt))
		}
		return procs.start(t, "daemon", cmd, filepath.Join(logs, fmt.Sprintf("daemon.%d.log", daemonRuns)))
	}
	daemon := startDaemon("")

	rng := rand.New(rand.NewPCG(seed, 1))
	var runErrs errList

	// Warm-up: the never-ack agent's first message, submitted before the
	// chaos starts so it is that window's first submit (the one it never
	// acks): the daemon must retry it, and the retry is its second submit.
	msgs := make([]*msg, n)
	for i := range msgs {
		agent := agentNames[i%nAgents]
		switch {
		case i == 0:
			agent = neverAckAgent
		case len(clis) > 0 && i%cliEvery == cliEvery/2:
			agent = clis[(i/cliEvery)%len(clis)].name
		}
		m := &msg{Index: i, Token: fmt.Sprintf("P%04d", i), Agent: agent, Sender: (i / nAgents) % nSenders}
		switch {
		case m.Sender < nSenders/2 && i%2 == 0:
			m.Method = "send-m"
		case m.Sender < nSenders/2:
			m.Method = "send-file"
		case i%2 == 0:
			m.Method = "mv-fm"
		default:
			m.Method = "mv-plain"
		}
		if m.Method != "mv-plain" && rng.IntN(3) == 0 {
			m.From = fmt.Sprintf("sender-%d", m.Sender)
		}
		if m.Method != "mv-plain" {
			m.Priority = []string{"", "", "", "high", "urgent"}[rng.IntN(5)]
		}
		m.Body = makeBody(rng, m)
		msgs[i] = m
	}
	stage := filepath.Join(work, "stage")
	os.MkdirAll(stage, 0o755)
	send := func(m *msg) error {
		m.SentAt = time.Now()
		switch m.Method {
		case "send-m", "send-file":
			args := []string{"send", "--to", m.Agent}
			if m.From != "" {
				args = append(args, "--from", m.From)
			}
			if m.Priority != "" {
				args = append(args, "--priority", m.Priority)
			}
			if m.Method == "send-m" {
				args = append(args, "-m", m.Body)
			} else {
				f := filepath.Join(stage, m.Token+".md")
				if err := os.WriteFile(f, []byte(m.Body), 0o644); err != nil {
					return err
				}
				args = append(args, f)
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: agentspool %s: %v: %s", m.Token, args[:3], err, stderr.String())
			}
			m.ID = strings.TrimSpace(stdout.String())
		default:
			name := "proof-" + m.Token + ".md"
			data := m.Body
			if m.Method == "mv-fm" {
				m.ID = "mvfm-" + m.Token
				hdr := "---\nid: " + m.ID + "\n"
				if m.From != "" {
					hdr += "from: " + m.From + "\n"
				}
				if m.Priority != "" {
					hdr += "priority: " + m.Priority + "\n"
				}
				data = hdr + "---\n" + m.Body
			} else {
				m.ID = "proof-" + m.Token
			}
			// A real shell writer: write into tmp/, then mv into new/<agent>/.
			cmd := exec.Command("sh", "-c", `cat > "$1" && mv "$1" "$2"`, "sh",
				filepath.Join(sp, "tmp", name), filepath.Join(sp, "new", m.Agent)+"/")
			cmd.Stdin = strings.NewReader(data)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: sh mv: %v: %s", m.Token, err, out)
			}
		}
		return nil
	}
	if err := send(msgs[0]); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the warm-up message's first submit", func() bool {
		s, _ := desk.Submits(neverAckAgent)
		return len(s) >= 1
	})

	// Messages built to fail.
	badDir := filepath.Join(work, "bad")
	os.MkdirAll(badDir, 0o755)
	type bad struct{ what, agent, name, want string }
	bads := []bad{
		{"unknown agent dir", "Agent-99", "bad-unknown-agent.txt", "unknown agent"},
		{"invalid UTF-8", "Agent-3", "bad-utf8.txt", "UTF-8"},
		{"empty file", "Agent-6", "bad-empty.txt", "empty"},
	}
	badData := map[string]string{
		"bad-unknown-agent.txt": "for nobody: BADTOKEN-1\n",
		"bad-utf8.txt":          "BADTOKEN-2 \xff\xfe\xfd not utf-8\n",
		"bad-empty.txt":         "",
	}
	for _, b := range bads {
		cmd := exec.Command("sh", "-c", `printf '%s' "$3" > "$1" && mkdir -p "$2" && mv "$1" "$2"/`, "sh",
			filepath.Join(sp, "tmp", b.name), filepath.Join(sp, "new", b.agent), badData[b.name])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", b.what, err, out)
		}
	}

	// Chaos.
	stop := make(chan struct{})
	var chaos sync.WaitGroup
	var steals, clobbers atomic.Int64
	var lastClip atomic.Value
	lastClip.Store("the person's own clipboard ✓ before the run")
	burners := runtime.NumCPU()
	for i := range burners {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		procs.start(t, fmt.Sprintf("burner-%d", i), cmd, "")
	}
	chaos.Add(2)
	go func() { // focus stealer
		defer chaos.Done()
		r := rand.New(rand.NewPCG(seed, 3))
		targets := append(slices.Clone(allNames), editorName)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(100+r.IntN(600)) * time.Millisecond):
			}
			target := targets[r.IntN(len(targets))]
			activate := func() error { return desk.Activate(target) }
			if c := isCLI[target]; c != nil {
				activate = c.agent.Focus
			}
			if activate() == nil {
				steals.Add(1)
			}
		}
	}()
	go func() { // clipboard clobberer: the person copying things
		defer chaos.Done()
		r := rand.New(rand.NewPCG(seed, 4))
		for k := 1; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(150+r.IntN(800)) * time.Millisecond):
			}
			text := fmt.Sprintf("person's copy #%d ✂ %d", k, r.IntN(1e6))
			// SetClipboard returns once the clipboard reads back as text;
			// an error means a deliverer's offer took it back first. The
			// person copied it all the same: the deliverer owes it back.
			lastClip.Store(text)
			if desk.SetClipboard(text) == nil {
				clobbers.Add(1)
			}
		}
	}()

	// The second delivering process.
	var plan secondPlan
	plan.Lock, plan.Out, plan.Seed = lockFile, filepath.Join(logs, "second.jsonl"), seed
	for _, a := range desk.Agents {
		selectAll := []string{"ctrl", "a"}
		if a.Kind == desktoptest.KindTk {
			selectAll = []string{"ctrl", "slash"}
		}
		plan.Targets = append(plan.Targets, secondTarget{Agent: a.Name, X: a.X, Y: a.Y, PID: a.PID, SelectAll: selectAll})
	}
	for k := range secondCount {
		agent := agentNames[k%nAgents]
		id := fmt.Sprintf("S%04d", k)
		plan.Messages = append(plan.Messages, secondMsg{ID: id, Agent: agent, Text: secondText(id, agent, secondBody(k, agent))})
	}
	planPath := filepath.Join(work, "second-plan.json")
	pj, _ := json.Marshal(plan)
	os.WriteFile(planPath, pj, 0o644)
	secondCmd := exec.Command(os.Args[0], "-test.run=^$")
	secondCmd.Env = append(desk.Env(), "AGENTSPOOL_PROOF_ROLE=second", "AGENTSPOOL_PROOF_PLAN="+planPath)
	secondIn, err := secondCmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	second := procs.start(t, "second", secondCmd, filepath.Join(logs, "second.log"))

	// Senders: 8 concurrent streams, each message its own process.
	var senders sync.WaitGroup
	for s := range nSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			r := rand.New(rand.NewPCG(seed, uint64(10+s)))
			for _, m := range msgs[1:] {
				if m.Sender != s {
					continue
				}
				time.Sleep(time.Duration(r.IntN(30)) * time.Millisecond)
				if err := send(m); err != nil {
					runErrs.add(err)
				}
			}
		}()
	}
	sendersDone := make(chan struct{})
	go func() { senders.Wait(); close(sendersDone) }()

	// Hostile spool entries, mid-run, into an agent that acks: a symlink
	// to a secret, a FIFO, a directory, another user's file, a 250-byte
	// name, a name with a newline, and a message whose id has a stale ack.
	hostileAgents := slices.DeleteFunc(slices.Clone(agentNames), func(a string) bool { return a == neverAckAgent })
	hostileSet := dropHostile(t, sp, filepath.Join(work, "desktop", "agents"), hostileAgents)
	hostileDelivered := 0
	for _, d := range hostileSet.drops {
		if !d.failed && d.skipped == "" {
			hostileDelivered++
		}
	}

	// Watch: SIGKILL the daemon once, mid-run, and wait for the end.
	countDir := func(state, agent string) int {
		es, _ := os.ReadDir(filepath.Join(sp, state, agent))
		c := 0
		for _, e := range es {
			if !strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), ".reason") {
				c++
			}
		}
		return c
	}
	total := func(state string) int {
		c := 0
		for _, a := range allNames {
			c += countDir(state, a)
		}
		return c
	}
	kills := 0
	// After the kill outside the GUI phase, the daemon is killed inside
	// it (issue 19), once at each step: each next daemon kills itself
	// there, and the one after it recovers.
	var guiKills []string
	crashing := ""
	deadline := time.Now().Add(time.Duration(envInt("AGENTSPOOL_PROOF_TIMEOUT_S", 900)) * time.Second)
	lastLog := time.Now()
	for {
		done := total("done")
		if kills == 0 && done >= n/5 {
			// Killed while the test holds the desktop lock: mid-run, with
			// messages claimed and awaiting acks, but never inside a GUI
			// phase. A daemon killed while a Chromium window reads the
			// clipboard from it wedges that browser for good: its read
			// waits for an answer the dead owner can never send (Tk
			// times such a read out). That hazard is the browser's, and
			// is not what this kill tests: the spool's crash recovery.
			lock, err := deliver.NewDesktopLock(lockFile)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lock.Lock(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("proof: SIGKILL the daemon (pid %d) with %d done, outside its GUI phase", daemon.cmd.Process.Pid, done)
			daemon.stop(syscall.SIGKILL, time.Second)
			lock.Unlock()
			kills++
			crashing = crashSteps[0]
			daemon = startDaemon(crashing)
		}
		select {
		case <-daemon.done:
			if crashing == "" || !killed(daemon.err) {
				t.Fatalf("the daemon exited: %v (log %s)", daemon.err, filepath.Join(logs, fmt.Sprintf("daemon.%d.log", daemonRuns)))
			}
			t.Logf("proof: the daemon (pid %d) killed itself in its GUI phase, after %q, with %d done", daemon.cmd.Process.Pid, crashing, done)
			guiKills = append(guiKills, crashing)
			crashing = ""
			if len(guiKills) < len(crashSteps) {
				crashing = crashSteps[len(guiKills)]
			}
			daemon = startDaemon(crashing)
		default:
		}
		secondEnded := false
		if data, err := os.ReadFile(plan.Out); err == nil && bytes.Contains(data, []byte(`"id":"END"`)) {
			secondEnded = true
		}
		select {
		case <-second.done:
			if !secondEnded {
				t.Fatalf("the second deliverer exited early: %v (log %s)", second.err, filepath.Join(logs, "second.log"))
			}
		default:
		}
		sendersFinished := false
		select {
		case <-sendersDone:
			sendersFinished = true
		default:
		}
		if sendersFinished && secondEnded && done == n+hostileDelivered && total("new")+total("cur") == 0 {
			break
		}
		if time.Now().After(deadline) {
			runErrs.add(fmt.Errorf("timed out: %d of %d done, new %d, cur %d, hold %d, failed %d, senders done %v, second done %v",
				done, n, total("new"), total("cur"), total("hold"), total("failed"), sendersFinished, secondEnded))
			break
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			t.Logf("proof: %5.1fs done %d/%d, new %d, cur %d, hold %d, failed %d", time.Since(begin).Seconds(), done, n, total("new"), total("cur"), total("hold"), total("failed"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-sendersDone
	close(stop)
	chaos.Wait()
	for _, c := range procs.list {
		if strings.HasPrefix(c.name, "burner-") {
			c.stop(syscall.SIGKILL, time.Second)
		}
	}

	// The person's clipboard: read while both deliverers still run (each
	// serves the clipboard it restored for as long as it lives).
	clip, clipErr := desk.Clipboard()
	wantClip := lastClip.Load().(string)

	rep := &Report{Started: begin.UTC().Format(time.RFC3339), Agents: len(allNames), Messages: n}
	rep.Chaos.FocusSteals, rep.Chaos.Clobbers = int(steals.Load()), int(clobbers.Load())
	rep.Chaos.CPUBurners, rep.Chaos.DaemonKills = burners, kills
	rep.Chaos.GUIKills = guiKills
	rep.Chaos.SlowAckAgent, rep.Chaos.NeverAckFirst = slowAgent, neverAckAgent
	rep.Chaos.ClipboardKept = clipErr == nil && clip == wantClip
	problem := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
	}
	for _, e := range runErrs.list() {
		problem("%v", e)
	}
	if len(guiKills) != len(crashSteps) {
		problem("the daemon was killed inside its GUI phase after %v, want after each of %v", guiKills, crashSteps)
	}
	if !rep.Chaos.ClipboardKept {
		problem("clipboard at the end is %q (err %v), want the person's last copy %q", clip, clipErr, wantClip)
	}

	// Ground truth: every submit of every window.
	byID := map[string]*msg{}
	byToken := map[string]*msg{}
	for _, m := range msgs {
		if m.Method == "send-m" || m.Method == "send-file" {
			rep.SentBy.Send++
		} else {
			rep.SentBy.Mv++
		}
		if m.ID == "" {
			continue // its send failed; already a problem
		}
		byID[m.ID] = m
		byToken[m.Token] = m
	}
	secondByID := map[string]secondMsg{}
	for _, s := range plan.Messages {
		secondByID[s.ID] = s
	}
	hits := map[string]int{}
	secondHits := map[string]int{}
	envRE := regexp.MustCompile(`^\[agentspool id=(\S+) from=\S+ to=\S+\]\n`)
	hostileRE := regexp.MustCompile(`^\[agentspool id=hostile-`)
	submitsByAgent := map[string][]string{}
	secRE := regexp.MustCompile(`^\[second id=(\S+) to=\S+\]\n`)
	tokRE := regexp.MustCompile(`\b([PS]\d{4})\b|BADTOKEN-\d`)
	for _, agent := range append(slices.Clone(agentNames), editorName) {
		subs, err := desk.Submits(agent)
		if err != nil {
			t.Fatal(err)
		}
		submitsByAgent[agent] = subs
		for i, s := range subs {
			where := fmt.Sprintf("%s submit %d", agent, i+1)
			if hostileRE.MatchString(s) {
				continue // the hostile set's own, checked by it
			}
			if agent == editorName {
				rep.ForeignSubmits++
				problem("%s: a submit into the non-agent window: %.120q", where, s)
				continue
			}
			if m := envRE.FindStringSubmatch(s); m != nil {
				if msg, ok := byID[m[1]]; ok && msg.Agent == agent && s == msg.expected() {
					hits[m[1]]++
					continue
				}
			}
			if m := secRE.FindStringSubmatch(s); m != nil {
				if sm, ok := secondByID[m[1]]; ok && sm.Agent == agent && s == sm.Text {
					secondHits[m[1]]++
					continue
				}
			}
			// Not exactly one message for this window: say what it is.
			toks := tokRE.FindAllString(s, -1)
			misrouted := false
			for _, tok := range toks {
				if m, ok := byToken[tok]; ok && m.Agent != agent {
					misrouted = true
				}
				if k, err := strconv.Atoi(tok[1:]); err == nil && tok[0] == 'S' && k < len(plan.Messages) && plan.Messages[k].Agent != agent {
					misrouted = true
				}
			}
			switch {
			case misrouted:
				rep.Misrouted++
				problem("%s: MISROUTED (tokens %v): %.200q", where, toks, s)
			default:
				rep.Garbled++
				problem("%s: GARBLED or extra (tokens %v): %.300q", where, toks, s)
			}
		}
	}
	rep.Hostile = hostileSet.check(t, submitsByAgent)

	// What each CLI's model received: its messages' hits, and any prompt
	// that was not one message alone.
	if len(clis) > 0 {
		var cliHits map[string]int
		rep.CLIs, cliHits = checkCLIs(clis, msgs, filepath.Join(desk.Dir, "agents"), problem)
		for id, h := range cliHits {
			hits[id] = h
		}
		for _, st := range rep.CLIs {
			rep.Misrouted += st.Misrouted
			rep.Garbled += st.Garbled + st.Merged + st.Empty
		}
	}

	// What the windows saw, by kind.
	rep.Kinds = map[string]*KindStats{}
	for _, a := range desk.Agents {
		ks := rep.Kinds[a.Kind]
		if ks == nil {
			ks = &KindStats{}
			rep.Kinds[a.Kind] = ks
		}
		ks.Windows++
		subs, _ := desk.Submits(a.Name)
		ks.Submits += len(subs)
		for i, s := range subs {
			if strings.TrimSpace(s) == "" {
				ks.EmptySubmits++
				problem("%s (%s) submit %d: EMPTY", a.Name, a.Kind, i+1)
			}
		}
		if a.Kind == desktoptest.KindTk {
			continue
		}
		st, err := desk.Stats(a.Name)
		if err != nil {
			problem("%s: window events: %v", a.Name, err)
			continue
		}
		ks.Pastes += st.Pastes
		ks.PastesInsertedNothing += st.PastesInsertedNothing
		ks.MultiClicks += st.MultiClicks
		if st.MultiClicks > 0 {
			problem("%s (%s): %d clicks the window counted as double or triple clicks", a.Name, a.Kind, st.MultiClicks)
		}
	}
	warm := msgs[0]
	for _, m := range msgs {
		if m.ID == "" {
			rep.Lost++
			continue
		}
		h := hits[m.ID]
		want := 1
		if m == warm {
			want = 2 // first submit never acked, so submitted again
		}
		switch {
		case h == want:
			rep.Delivered++
			if m == warm {
				rep.RetriedAsExpected++
			}
		case h == 0:
			rep.Lost++
			problem("%s (%s, id %s, to %s): LOST: never submitted intact", m.Token, m.Method, m.ID, m.Agent)
		case h > want:
			rep.Duplicated++
			problem("%s (%s, id %s, to %s): DUPLICATED: submitted %d times, want %d", m.Token, m.Method, m.ID, m.Agent, h, want)
		default:
			rep.Lost++
			problem("%s (id %s, to %s): submitted %d times, want %d (its retry never came)", m.Token, m.ID, m.Agent, h, want)
		}
	}
	rep.Second.Sent = len(plan.Messages)
	for _, s := range plan.Messages {
		switch h := secondHits[s.ID]; {
		case h == 1:
			rep.Second.Delivered++
		case h == 0:
			rep.Second.Lost++
			problem("second %s to %s: LOST", s.ID, s.Agent)
		default:
			rep.Second.Duplicated++
			problem("second %s to %s: DUPLICATED %d times", s.ID, s.Agent, h)
		}
	}
	if data, err := os.ReadFile(plan.Out); err == nil {
		for line := range strings.Lines(string(data)) {
			var ev secondEvent
			if json.Unmarshal([]byte(line), &ev) == nil && !ev.OK {
				rep.Second.Errors++
			}
		}
	}

	// The spool: every message done, and acked.
	// The daemon names what it claims: a message without an id: in its
	// front matter takes its id from the sender's name, which the spool
	// keeps (names/), so the ids come from the spool's own scan.
	doneIDs := map[string]bool{}
	if s, err := spool.Open(sp); err == nil {
		for _, a := range allNames {
			es, _ := s.Scan(spool.StateDone, a)
			for _, e := range es {
				doneIDs[e.ID] = true
			}
		}
	}
	inbox := map[string]string{}
	for _, a := range desk.Agents {
		inbox[a.Name] = a.Inbox
	}
	for _, c := range clis {
		inbox[c.name] = filepath.Join(desk.Dir, "agents", c.name, "inbox")
	}
	for _, m := range msgs {
		if m.ID == "" {
			continue
		}
		_, ackErr := os.Stat(filepath.Join(inbox[m.Agent], m.ID+".ack"))
		if doneIDs[m.ID] && ackErr == nil {
			rep.DoneAndAcked++
			continue
		}
		problem("%s (id %s, to %s): in done/ %v, acked %v", m.Token, m.ID, m.Agent, doneIDs[m.ID], ackErr == nil)
	}
	for _, st := range []string{"new", "cur", "hold"} {
		if c := total(st); c > 0 {
			problem("%d messages left in %s/", c, st)
		}
	}

	// Built to fail: in failed/, with a reason a person can read.
	for _, b := range bads {
		f := Failed{What: b.what, State: "missing"}
		// The daemon names what it claims; the sender's name is OrigName.
		found := ""
		if s, err := spool.Open(sp); err == nil {
			for _, st := range spool.States {
				es, _ := s.Scan(st, b.agent)
				for _, e := range es {
					if e.OrigName == b.name || e.OrigName == "" && e.Name == b.name {
						f.State, found = string(st), e.Name
					}
				}
			}
		}
		reason, _ := os.ReadFile(filepath.Join(sp, "failed", b.agent, found+".reason"))
		f.Reason = strings.TrimSpace(string(reason))
		if f.State != "failed" || !strings.Contains(strings.ToLower(f.Reason), strings.ToLower(b.want)) {
			problem("built to fail (%s): in %s/ with reason %q, want failed/ with a reason naming %q", b.what, f.State, f.Reason, b.want)
		}
		show := exec.Command(bin, "show", strings.TrimSuffix(b.name, ".txt"))
		show.Env = env
		out, err := show.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "failed") {
			problem("agentspool show %s: %v:\n%s", b.name, err, out)
		}
		rep.BuiltToFail = append(rep.BuiltToFail, f)
	}

	// The daemon's journal.
	lines, jerr := ReadJournal(filepath.Join(sp, "journal.jsonl"))
	if jerr != nil {
		t.Logf("proof: journal: %v", jerr) // a line cut by the SIGKILL is expected
	}
	rep.Journal = Stats(lines)
	doneAt := map[string]time.Time{}
	attempts := map[string]int{}
	for _, l := range lines {
		if l.Event == "done" {
			doneAt[l.ID] = l.Time
		}
		if l.Event == "attempt" && l.OK {
			attempts[l.ID] = max(attempts[l.ID], l.Attempt)
		}
	}
	var e2e []float64
	for _, m := range msgs {
		if at, ok := doneAt[m.ID]; ok {
			e2e = append(e2e, float64(at.Sub(m.SentAt).Microseconds())/1000)
		}
	}
	rep.EndToEnd = QuantilesOf(e2e)
	if attempts[warm.ID] < 2 {
		problem("the never-acked first message %s was delivered %d times per the journal, want a retry", warm.ID, attempts[warm.ID])
	}

	// Stop: the second deliverer (stdin closed), the daemon (SIGINT).
	secondIn.Close()
	second.stop(syscall.SIGTERM, 10*time.Second)
	daemon.stop(syscall.SIGINT, 10*time.Second)
	if daemon.err != nil {
		problem("daemon exit after SIGINT: %v", daemon.err)
	}

	rep.Seconds = time.Since(begin).Seconds()
	rep.Pass = len(rep.Problems) == 0
	writeReport(t, rep)
	if !rep.Pass {
		t.Errorf("proof failed: %d problems (see the report)", len(rep.Problems))
	}
}

func writeReport(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.Problems) > 200 {
		rep.Problems = append(rep.Problems[:200], fmt.Sprintf("... and %d more", len(rep.Problems)-200))
	}
	path, err := desktoptest.WriteReport("AGENTSPOOL_PROOF_REPORT", "agentspool-proof-report.json", rep)
	if err != nil {
		t.Errorf("report: %v", err)
	}
	sum := rep.Summary() + "  report: " + path + "\n"
	t.Log("\n" + sum)
	fmt.Print(sum)
}

// crashSteps are the GUI steps the proof kills the daemon after (deliver's
// Report.Steps): the click (the focus is the agent's), the clipboard
// offer, the paste key (its read served), the submit key.
var crashSteps = []string{"focused", "offered", "pasted", "submitted"}

// killed says whether a child's Wait error is its death by SIGKILL.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := desktoptest.WaitFor(timeout, 50*time.Millisecond, what, func() (bool, error) { return cond(), nil }); err != nil {
		t.Fatal(err)
	}
}

type errList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errList) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errList) list() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}
