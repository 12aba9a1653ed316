//go:build unix

package proof

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/service"
	"github.com/agentspool/agentspool/spool"
)

// Issue 11's hostile drops, for TestProof to call during its run (its
// owner wires it in; this file does not touch proof_test.go):
//
//	h := dropHostile(t, spoolDir, inboxRoot, agents)
//	... the run ...
//	report = append(report, h.check(t, submitsByAgent)...)
//
// dropHostile drops, each by a rename into new/<agent>/ (never written in
// place), for agents[0]:
//   - a symlink to a secret file whose content is a unique token,
//   - a FIFO,
//   - a directory,
//   - a regular message file owned by uid 65534 (only when run as root),
//   - a message with a 250-byte name (and a front-matter id: delivered),
//   - a message named with a newline (no front-matter id: failed, bad name),
//   - a stale <id>.ack in agents[0]'s inbox, then, 200 ms later (past
//     confirm.ClockSlack), a message file with that id in its front matter.
//
// agents[0] must be an agent that acks its messages (not the proof's
// never-ack agent), and every name in agents must be configured. check
// asserts that each entry ended where it must: the first four and the
// newline name in failed/ with a non-empty reason; the long name and the
// stale-ack message submitted exactly once and in done/; the secret token in
// no submit of any agent. It returns one report line per drop.

type hostileDrop struct {
	kind    string // symlink, fifo, dir, foreign-owner, long-name, newline-name, stale-ack
	agent   string
	name    string // as dropped into new/<agent>/
	token   string // for the delivered ones: a unique word of the body
	failed  bool   // must end in failed/ (else: delivered exactly once, done/)
	skipped string // why it was not dropped (e.g. not root)
	ack     string // stale-ack: the inbox file, and when the stale one was made
	at      time.Time
}

type hostile struct {
	spoolDir, inboxRoot string
	secret              string // the token in the secret file
	drops               []hostileDrop
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func dropHostile(t *testing.T, spoolDir, inboxRoot string, agents []string) *hostile {
	t.Helper()
	if len(agents) == 0 {
		t.Fatal("dropHostile: no agents")
	}
	agent := agents[0]
	tag := randHex(4)
	h := &hostile{spoolDir: spoolDir, inboxRoot: inboxRoot, secret: "SECRET-" + randHex(8)}
	tmp := filepath.Join(spoolDir, "tmp")
	newDir := filepath.Join(spoolDir, "new", agent)
	if err := os.MkdirAll(newDir, 0o700); err != nil {
		t.Fatal(err)
	}
	secretDir := t.TempDir()
	secretFile := filepath.Join(secretDir, "secret.txt")
	if err := os.WriteFile(secretFile, []byte(h.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// stage makes an entry in tmp/ with make, then renames it into new/.
	stage := func(d hostileDrop, make func(p string) error) {
		t.Helper()
		d.agent = agent
		p := filepath.Join(tmp, "hostile-"+tag+"-"+d.kind)
		if err := make(p); err != nil {
			t.Fatalf("dropHostile %s: %v", d.kind, err)
		}
		if err := os.Rename(p, filepath.Join(newDir, d.name)); err != nil {
			t.Fatalf("dropHostile %s: %v", d.kind, err)
		}
		h.drops = append(h.drops, d)
	}
	stage(hostileDrop{kind: "symlink", name: "hostile-" + tag + "-link.md", failed: true}, func(p string) error { return os.Symlink(secretFile, p) })
	stage(hostileDrop{kind: "fifo", name: "hostile-" + tag + "-fifo.md", failed: true}, func(p string) error { return syscall.Mkfifo(p, 0o600) })
	stage(hostileDrop{kind: "dir", name: "hostile-" + tag + "-dir.md", failed: true}, func(p string) error { return os.Mkdir(p, 0o700) })
	if os.Getuid() == 0 {
		stage(hostileDrop{kind: "foreign-owner", name: "hostile-" + tag + "-theirs.md", failed: true}, func(p string) error {
			if err := os.WriteFile(p, []byte("typed into your window by uid 65534 "+tag+"\n"), 0o644); err != nil {
				return err
			}
			return os.Chown(p, 65534, 65534)
		})
	} else {
		h.drops = append(h.drops, hostileDrop{kind: "foreign-owner", agent: agent, skipped: "not root: cannot make a file of another uid"})
	}
	longTok := "long" + tag
	longName := "hostile-" + tag + "-" + strings.Repeat("L", 250-len("hostile--.md")-len(tag)) + ".md"
	stage(hostileDrop{kind: "long-name", name: longName, token: longTok}, func(p string) error {
		return os.WriteFile(p, []byte("---\nid: hostile-"+tag+"-long\n---\n"+longTok+" has a 250-byte file name\n"), 0o600)
	})
	stage(hostileDrop{kind: "newline-name", name: "hostile-" + tag + "\nnewline.md", failed: true}, func(p string) error {
		return os.WriteFile(p, []byte("a name with a newline "+tag+"\n"), 0o600)
	})
	// The stale ack: written first, aged well past the clock slack.
	staleID := "hostile-" + tag + "-stale"
	inbox := filepath.Join(inboxRoot, agent, "inbox")
	os.MkdirAll(inbox, 0o700)
	ack := confirm.AckPath(inbox, staleID)
	if err := os.WriteFile(ack, []byte("stale ack from an earlier message\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(ack, old, old)
	time.Sleep(200 * time.Millisecond)
	staleTok := "stale" + tag
	stage(hostileDrop{kind: "stale-ack", name: staleID + ".md", token: staleTok, ack: ack, at: time.Now()}, func(p string) error {
		return os.WriteFile(p, []byte("---\nid: "+staleID+"\n---\n"+staleTok+" was sent after an old ack of its id\n"), 0o600)
	})
	return h
}

// find returns the entries in state whose base name (info suffix removed)
// is name.
// find lists the files in state/agent/ of the message sent as name: the
// daemon names what it claims, and keeps the sender's name (OrigName).
func (h *hostile) find(state spool.State, agent, name string) []string {
	sp, err := spool.Open(h.spoolDir)
	if err != nil {
		return nil
	}
	es, _ := sp.Scan(state, agent)
	var out []string
	for _, e := range es {
		if e.OrigName == name || e.OrigName == "" && e.Name == name {
			out = append(out, e.Name)
		}
	}
	return out
}

func (h *hostile) check(t *testing.T, submitsByAgent map[string][]string) []string {
	t.Helper()
	var lines []string
	for agent, subs := range submitsByAgent {
		for _, s := range subs {
			if strings.Contains(s, h.secret) {
				t.Errorf("hostile: the secret token was pasted into %s", agent)
				lines = append(lines, "hostile: SECRET PASTED into "+agent)
			}
		}
	}
	for _, d := range h.drops {
		if d.skipped != "" {
			lines = append(lines, fmt.Sprintf("hostile %-13s skipped: %s", d.kind, d.skipped))
			continue
		}
		if d.failed {
			names := h.find(spool.StateFailed, d.agent, d.name)
			if len(names) != 1 {
				t.Errorf("hostile %s (%q): %d entries in failed/%s, want 1", d.kind, d.name, len(names), d.agent)
				lines = append(lines, fmt.Sprintf("hostile %-13s NOT in failed/", d.kind))
				continue
			}
			reason, _ := os.ReadFile(filepath.Join(h.spoolDir, "failed", d.agent, names[0]+".reason"))
			first, _, _ := strings.Cut(strings.TrimPrefix(string(reason), "reason: "), "\n")
			if strings.TrimSpace(first) == "" {
				t.Errorf("hostile %s: failed/ without a reason", d.kind)
			}
			for _, st := range []spool.State{spool.StateNew, spool.StateCur, spool.StateDone} {
				if n := len(h.find(st, d.agent, d.name)); n != 0 {
					t.Errorf("hostile %s: also in %s/", d.kind, st)
				}
			}
			lines = append(lines, fmt.Sprintf("hostile %-13s → failed/: %s", d.kind, first))
			continue
		}
		n := 0
		for _, s := range submitsByAgent[d.agent] {
			n += strings.Count(s, d.token)
		}
		if n != 1 {
			t.Errorf("hostile %s: submitted %d times to %s, want exactly once", d.kind, n, d.agent)
		}
		extra := ""
		if d.kind == "stale-ack" {
			// Done only by a fresh ack: the stale file was replaced by the
			// recipient's ack after the message was sent.
			if len(h.find(spool.StateDone, d.agent, d.name)) != 1 {
				t.Errorf("hostile stale-ack: not in done/%s", d.agent)
			}
			fi, err := os.Stat(d.ack)
			if err != nil || fi.ModTime().Before(d.at) {
				t.Errorf("hostile stale-ack: done, but the only ack is the stale one (%v)", err)
			} else {
				extra = ", done by a fresh ack"
			}
		}
		lines = append(lines, fmt.Sprintf("hostile %-13s → submitted %d time(s) to %s%s", d.kind, n, d.agent, extra))
	}
	return lines
}

var hostileEnvelope = regexp.MustCompile(`\[agentspool id=(\S+) `)

// TestHostileDrops runs dropHostile and check against the real daemon
// (service.Daemon, the code `agentspool run` runs) on a real spool, with
// the fake desktop in place of X11, so it needs no display and takes about
// a second. The recipient acks every message it is pasted.
func TestHostileDrops(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`spool: %s/spool
inbox_root: %s/inboxes
scan_interval: 50ms
timing: {min: 1ms, max: 100ms}
defaults: {ack_timeout: 2s, backoff: 50ms, max_attempts: 2}
agents:
  Agent-1: {x: 50, y: 50, window: "=Agent-1"}
  Agent-2: {x: 150, y: 50, window: "=Agent-2"}
`, dir, dir)), filepath.Join(dir, "coords.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(cfg.Spool)
	if err != nil {
		t.Fatal(err)
	}
	desk := fakedesktop.New()
	desk.AddWindow("Agent-1", 101, 0, 0, 100, 100)
	desk.AddWindow("Agent-2", 102, 100, 0, 100, 100)
	desk.OnSubmit = func(w *fakedesktop.Win, text string) {
		a, ok := cfg.Agent(w.Title)
		if !ok {
			return
		}
		for _, m := range hostileEnvelope.FindAllStringSubmatch(text, -1) {
			id := m[1]
			time.AfterFunc(20*time.Millisecond, func() { confirm.WriteAck(a.Inbox, id) })
		}
	}
	w, err := confirm.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d, err := service.New(service.Options{Config: cfg, Spool: sp, Waiter: w,
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Deliverer: &deliver.Deliverer{Desktop: desk, Timings: deliver.NewTimings(cfg.Timing.Min, cfg.Timing.Max)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(100 * time.Millisecond) // the run is under way
	h := dropHostile(t, cfg.Spool, cfg.InboxRoot, []string{"Agent-1", "Agent-2"})
	fine, err := sp.Enqueue("Agent-1", []byte("an ordinary message after them all"))
	if err != nil {
		t.Fatal(err)
	}
	// Wait until every drop has settled: the failures in failed/, and the
	// delivered ones and the ordinary one in done/.
	wantFailed, wantDone := 0, 1
	for _, dr := range h.drops {
		switch {
		case dr.skipped != "":
		case dr.failed:
			wantFailed++
		default:
			wantDone++
		}
	}
	waitUntil(t, 20*time.Second, "the hostile drops to settle", func() bool {
		f, _ := sp.Scan(spool.StateFailed, "Agent-1")
		dn, _ := sp.Scan(spool.StateDone, "Agent-1")
		return len(f) >= wantFailed && len(dn) >= wantDone
	})
	subs := map[string][]string{"Agent-1": desk.Window("Agent-1").Submits, "Agent-2": desk.Window("Agent-2").Submits}
	for _, l := range h.check(t, subs) {
		t.Log(l)
	}
	if n := strings.Count(strings.Join(subs["Agent-1"], "\n"), "id="+fine.ID+" "); n != 1 {
		t.Errorf("the ordinary message after the hostile ones was submitted %d times", n)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
