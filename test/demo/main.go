// Command demo is `make demo`: the agentspool daemon delivering a mix of
// messages to 8 agent windows on a throwaway virtual desktop (Xvfb +
// openbox + Tk chat windows), with live progress, the final `agentspool
// status`, and a screenshot of the windows with what they received.
//
//	go run ./test/demo -bin bin/agentspool -out demo-out
//
// It exits 0 only if every message was delivered and acked. Every process
// it starts is stopped by its pid on the way out.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agentspool/agentspool/spool"
	"github.com/agentspool/agentspool/test/desktoptest"
)

func main() {
	bin := flag.String("bin", "bin/agentspool", "the agentspool `binary` to run (make build)")
	out := flag.String("out", "demo-out", "the `dir` for the spool, logs and screenshot (emptied first)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(*bin, *out, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo: FAILED:", err)
		os.Exit(1)
	}
}

// sent is one message the demo queued, and what its window must show.
type sent struct {
	id, agent, how, text string
	from                 string
}

func run(binPath, outDir string, timeout time.Duration) error {
	bin, err := filepath.Abs(binPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("no agentspool binary at %s (run make build): %w", binPath, err)
	}
	out, err := filepath.Abs(outDir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	logs := filepath.Join(out, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	deskLog, err := os.Create(filepath.Join(logs, "desktop.log"))
	if err != nil {
		return err
	}
	defer deskLog.Close()

	fmt.Println("demo: starting a virtual desktop (Xvfb + openbox) with 8 agent windows ...")
	desk, err := desktoptest.Start(desktoptest.Options{
		Agents: 8, Dir: filepath.Join(out, "desktop"),
		Fixture: desktoptest.FixtureOptions{AckDelay: 150 * time.Millisecond},
		Log: func(format string, args ...any) {
			fmt.Fprintf(deskLog, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		},
	})
	if err != nil {
		return err
	}
	defer desk.Stop()
	// ^C stops everything we started, by pid, like the normal exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var daemon *exec.Cmd
	go func() {
		<-sigs
		if daemon != nil && daemon.Process != nil {
			daemon.Process.Signal(os.Interrupt)
		}
		desk.Stop()
		os.Exit(130)
	}()
	fmt.Printf("demo: display %s is up\n", desk.Display)

	spoolDir := filepath.Join(out, "spool")
	coords := filepath.Join(out, "coords.yaml")
	yaml := desk.CoordsYAML(spoolDir) + fmt.Sprintf(`lock_file: %q
defaults:
  ack_timeout: 10s
  backoff: 1s
  max_attempts: 3
`, filepath.Join(out, "desktop.lock"))
	if err := os.WriteFile(coords, []byte(yaml), 0o644); err != nil {
		return err
	}
	env := append(desk.Env(), "AGENTSPOOL_CONFIG="+coords)

	daemonLog, err := os.Create(filepath.Join(logs, "daemon.log"))
	if err != nil {
		return err
	}
	defer daemonLog.Close()
	daemon = exec.Command(bin, "run")
	daemon.Env, daemon.Stdout, daemon.Stderr = env, daemonLog, daemonLog
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	daemonDone := make(chan error, 1)
	go func() { daemonDone <- daemon.Wait() }()
	defer func() {
		// SIGINT: the daemon finishes the GUI step in progress and exits.
		daemon.Process.Signal(os.Interrupt)
		select {
		case <-daemonDone:
		case <-time.After(10 * time.Second):
			daemon.Process.Kill()
			<-daemonDone
		}
	}()
	fmt.Printf("demo: daemon running (pid %d), spool %s\n", daemon.Process.Pid, spoolDir)

	agentspool := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("agentspool %s: %v: %s", strings.Join(args[:min(3, len(args))], " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}

	// The mix.
	var msgs []sent
	tasks := []string{"review PR #%d", "run the tests of module %d", "summarise issue #%d", "rebase branch fix-%d", "answer question %d"}
	for i, a := range desk.Agents {
		name := a.Name
		// Normal, with agentspool send.
		body := fmt.Sprintf("Please "+tasks[i%len(tasks)]+" ✓", 40+i)
		id, err := agentspool("send", "--to", name, "--from", "lead", "-m", body)
		if err != nil {
			return err
		}
		msgs = append(msgs, sent{id: strings.TrimSpace(id), agent: name, how: "send", text: body, from: "lead"})

		// A plain mv from tmp/, the way any script can send.
		mvID := fmt.Sprintf("mv-%s", strings.ToLower(name))
		body = fmt.Sprintf("Written by a shell script for %s:\nlines — ünïcödé — and all", name)
		tmp := filepath.Join(spoolDir, "tmp", mvID+".md")
		cmd := exec.Command("sh", "-c", `cat > "$1" && mv "$1" "$2"/`, "sh", tmp, filepath.Join(spoolDir, "new", name))
		cmd.Stdin = strings.NewReader(body + "\n")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mv into new/%s: %v: %s", name, err, b)
		}
		msgs = append(msgs, sent{id: mvID, agent: name, how: "mv", text: body})

		// Every other agent also gets an urgent one.
		if i%2 == 0 {
			body = fmt.Sprintf("URGENT: stop the deploy on host-%d", i+1)
			id, err := agentspool("send", "--to", name, "--from", "oncall", "--priority", "urgent", "-m", body)
			if err != nil {
				return err
			}
			msgs = append(msgs, sent{id: strings.TrimSpace(id), agent: name, how: "send urgent", text: body, from: "oncall"})
		}
	}
	// One broadcast: every agent gets its own copy, id <ID>-<agent>.
	body := "Broadcast: standup in 5 minutes 🕘"
	ids, err := agentspool("send", "--broadcast", "--from", "lead", "-m", body)
	if err != nil {
		return err
	}
	for i, id := range strings.Fields(ids) {
		msgs = append(msgs, sent{id: id, agent: desk.Agents[i].Name, how: "broadcast", text: body, from: "lead"})
	}
	fmt.Printf("demo: queued %d messages (agentspool send, a plain mv, urgent, one broadcast)\n", len(msgs))

	// Live progress, from the spool's directories.
	count := func(state string) int {
		n := 0
		dirs, _ := os.ReadDir(filepath.Join(spoolDir, state))
		for _, d := range dirs {
			es, _ := os.ReadDir(filepath.Join(spoolDir, state, d.Name()))
			for _, e := range es {
				if !strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), ".reason") {
					n++
				}
			}
		}
		return n
	}
	tty := isTTY()
	start := time.Now()
	var line string
	var failure error
	lastPrint := time.Time{}
	for {
		c := map[string]int{}
		for _, st := range []string{"new", "cur", "done", "failed", "hold"} {
			c[st] = count(st)
		}
		line = fmt.Sprintf("demo: %5.1fs  new %3d  delivering/awaiting ack %2d  done %3d/%d  failed %d  hold %d",
			time.Since(start).Seconds(), c["new"], c["cur"], c["done"], len(msgs), c["failed"], c["hold"])
		if tty {
			fmt.Print("\r" + line)
		} else if time.Since(lastPrint) >= time.Second {
			fmt.Println(line)
			lastPrint = time.Now()
		}
		if c["done"] == len(msgs) {
			break
		}
		if c["failed"]+c["hold"] > 0 {
			failure = fmt.Errorf("%d failed, %d held (see agentspool status, %s)", c["failed"], c["hold"], filepath.Join(logs, "daemon.log"))
			break
		}
		select {
		case err := <-daemonDone:
			daemonDone <- err
			failure = fmt.Errorf("the daemon exited: %v (see %s)", err, filepath.Join(logs, "daemon.log"))
		default:
		}
		if failure != nil {
			break
		}
		if time.Since(start) > timeout {
			failure = fmt.Errorf("not all delivered after %v", timeout)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if tty {
		fmt.Println()
	} else {
		fmt.Println(line)
	}

	// Check: every message done, acked, and in its window exactly once.
	var problems []string
	// The daemon names what it claims: the ids come from the spool's own
	// scan, which keeps the sender's name (names/).
	doneIDs := map[string]bool{}
	if sp, err := spool.Open(spoolDir); err == nil {
		for _, a := range desk.Agents {
			es, _ := sp.Scan(spool.StateDone, a.Name)
			for _, e := range es {
				doneIDs[e.ID] = true
			}
		}
	}
	submits := map[string][]string{}
	for _, a := range desk.Agents {
		submits[a.Name], _ = desk.Submits(a.Name)
	}
	inbox := map[string]string{}
	for _, a := range desk.Agents {
		inbox[a.Name] = a.Inbox
	}
	for _, m := range msgs {
		from := m.from
		if from == "" {
			from = "-"
		}
		want := fmt.Sprintf("[agentspool id=%s from=%s to=%s]\n%s", m.id, from, m.agent, m.text)
		n := 0
		for _, s := range submits[m.agent] {
			if s == want {
				n++
			}
		}
		_, ackErr := os.Stat(filepath.Join(inbox[m.agent], m.id+".ack"))
		if n != 1 || !doneIDs[m.id] || ackErr != nil {
			problems = append(problems, fmt.Sprintf("%s (%s to %s): in its window %d times, done %v, acked %v", m.id, m.how, m.agent, n, doneIDs[m.id], ackErr == nil))
		}
	}
	total := 0
	for _, s := range submits {
		total += len(s)
	}
	if total != len(msgs) {
		problems = append(problems, fmt.Sprintf("the windows received %d submits for %d messages", total, len(msgs)))
	}

	// status.json is rewritten every 250 ms: let it catch up with the last ack.
	time.Sleep(600 * time.Millisecond)
	fmt.Println("\n$ agentspool status")
	st, err := agentspool("status")
	if err != nil {
		problems = append(problems, err.Error())
	}
	fmt.Print(st)

	shot := filepath.Join(out, "desktop.png")
	if err := desk.Screenshot(shot); err != nil {
		problems = append(problems, err.Error())
	}
	fmt.Printf(`
demo: screenshot  %s  (each window shows the last messages it received)
demo: logs        %s  (daemon.log; desktop.log; every X process under desktop/logs)
demo: spool       %s  (new/ cur/ done/ failed/ hold/, journal.jsonl, status.json)
demo: windows     %s  (what each agent received: <agent>/submits; its acks: <agent>/inbox)
`, shot, logs, spoolDir, filepath.Join(out, "desktop", "agents"))

	if failure != nil {
		problems = append([]string{failure.Error()}, problems...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("demo: PROBLEM:", p)
		}
		return errors.New(problems[0])
	}
	fmt.Printf("demo: OK: all %d messages delivered exactly once and acked, in %.1fs\n", len(msgs), time.Since(start).Seconds())
	return nil
}

func isTTY() bool {
	fi, err := os.Stdout.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
