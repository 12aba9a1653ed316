//go:build linux

package deliver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentspool/agentspool/test/panetest"
)

// The tmux channel against Debian's tmux and a stand-in agent program
// (test/paneagent) with the hazards of the real CLIs, each switched on by
// a flag. (The four real CLIs in panes: test/terminal.)

// TestMain removes the stand-in agent program the tests built.
func TestMain(m *testing.M) { os.Exit(panetest.Main(m).Run()) }

// paneRig is a tmux server of the test's own running paneagent in one pane.
type paneRig struct {
	t    *testing.T
	srv  *panetest.Server
	pane Pane
	log  string
	ps   *Panes
}

func startPane(t *testing.T, flags ...string) *paneRig {
	t.Helper()
	log := filepath.Join(t.TempDir(), "log.jsonl")
	srv := panetest.Start(t, "agent", strings.Join(append([]string{panetest.PaneAgent(t), "-log", log}, flags...), " "), 100, 20)
	r := &paneRig{t: t, srv: srv, pane: Pane{Target: "agent:", Socket: srv.Socket}, log: log}
	r.ps = &Panes{LockDir: filepath.Join(t.TempDir(), "locks"), QuietFor: time.Second, QuietMaxWait: 10 * time.Second,
		Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	r.waitScreen("paneagent: ready")
	return r
}

func (r *paneRig) tmux(args ...string) (string, error) { return r.srv.Tmux(args...) }

func (r *paneRig) screen() string {
	out, err := r.tmux("capture-pane", "-p", "-t", "agent")
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *paneRig) waitScreen(want string) {
	r.t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(r.screen(), want) {
			return
		}
		if time.Now().After(end) {
			r.t.Fatalf("%q never on the pane's screen:\n%s", want, r.screen())
		}
	}
}

func (r *paneRig) target() Target {
	p := r.pane
	return Target{Agent: "Agent-1", Pane: &p, Submit: []string{"enter"}}
}

// records reads the program's log: what it submitted, and each key that
// was not what it seemed (an Enter taken for a newline, a harmful key).
func (r *paneRig) records() (prompts []string, other []map[string]any) {
	r.t.Helper()
	f, err := os.Open(r.log)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			r.t.Fatal(err)
		}
		if p, ok := m["prompt"].(string); ok {
			prompts = append(prompts, p)
		} else {
			other = append(other, m)
		}
	}
	return prompts, other
}

// wantPrompts waits for the program to have submitted exactly want.
func (r *paneRig) wantPrompts(want ...string) {
	r.t.Helper()
	var got []string
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, _ = r.records()
		if len(got) >= len(want) || time.Now().After(end) {
			break
		}
	}
	time.Sleep(100 * time.Millisecond) // nothing more comes
	got, other := r.records()
	if len(got) != len(want) {
		r.t.Fatalf("submitted %d prompts, want %d: %q (other records %v)", len(got), len(want), short(got), other)
	}
	for i := range want {
		if got[i] != want[i] {
			r.t.Errorf("prompt %d: %q, want %q", i, short([]string{got[i]}), short([]string{want[i]}))
		}
	}
}

func short(ss []string) []string {
	var out []string
	for _, s := range ss {
		if len(s) > 80 {
			s = s[:40] + fmt.Sprintf("…(%d bytes)…", len(s)) + s[len(s)-30:]
		}
		out = append(out, s)
	}
	return out
}

// One line, several lines and 100 KiB, each submitted alone and whole.
// tmux refuses a command over 16 KiB (send-keys with the text in argv):
// the text goes in through a buffer loaded from stdin.
func TestPaneDeliversOneLineManyLinesAndALongMessage(t *testing.T) {
	r := startPane(t)
	t2 := r.target()
	t2.PaneBracketed = true // paneagent asks for bracketed paste
	var sb strings.Builder
	for i := 0; sb.Len() < 100<<10; i++ {
		fmt.Fprintf(&sb, "word%05d ", i)
	}
	long := sb.String()
	want := []string{"[agentspool id=m1]\none line", "[agentspool id=m2]\nfirst line\n\tsecond line, tabbed\nthird", "[agentspool id=m3]\n" + long}
	for _, m := range want {
		rep, err := r.ps.Deliver(context.Background(), t2, m)
		if err != nil {
			t.Fatalf("deliver %q: %v", short([]string{m}), err)
		}
		if rep.Landing != "seen" {
			t.Errorf("landing %q, want seen", rep.Landing)
		}
	}
	r.wantPrompts(want...)
}

// A message written on Windows (CRLF line ends) reaches the program as
// its lines: tmux turns each LF of a paste into a CR, so a CRLF would be
// two line ends, every line of the message followed by a blank one.
func TestPaneCRLFLineEndsArriveAsLines(t *testing.T) {
	r := startPane(t)
	tg := r.target()
	tg.PaneBracketed = true
	if _, err := r.ps.Deliver(context.Background(), tg, "[agentspool id=w1]\r\nfirst line\r\nsecond line"); err != nil {
		t.Fatal(err)
	}
	r.wantPrompts("[agentspool id=w1]\nfirst line\nsecond line")
}

// Gemini CLI's rule: an Enter within N ms of a paste is a newline. A
// tmux send-keys wrapper's Enter right after its paste merges messages
// (the premise, shown first); the channel waits the CLI's gap after it
// saw the paste land, and when the Enter still became a newline, takes it
// out and submits once more, as the input shows it.
func TestPaneEnterSoonAfterAPasteIsANewline(t *testing.T) {
	r := startPane(t, "-newline-within", "600ms")
	if _, err := r.tmux("set-buffer", "-b", "naive", "the naive way"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tmux("paste-buffer", "-p", "-d", "-b", "naive", "-t", "agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tmux("send-keys", "-t", "agent", "Enter"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if prompts, other := r.records(); len(prompts) != 0 || len(other) != 1 || other[0]["newline_for_enter"] == nil {
		t.Fatalf("premise: the naive Enter gave prompts %q, records %v; want it taken for a newline", prompts, other)
	}
	r.tmux("send-keys", "-t", "agent", "C-u") // paneagent's own clear
	r.ps.Inspect = func(int) Program { return Program{Terminal: "tmux", CLI: CLIGemini} }
	// Until it has learned how soon a submit shows, the channel waits up
	// to the timings' most before it taps again.
	r.ps.Timings = NewTimings(5*time.Millisecond, time.Second)
	for i := range 2 {
		rep, err := r.ps.Deliver(context.Background(), r.target(), fmt.Sprintf("message %d", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("message %d: steps %v", i, rep.Steps)
	}
	r.wantPrompts("message 0", "message 1")
}

// A draft in the input (what a person typed) is never pasted into: the
// delivery fails as a draft and the input keeps the draft alone.
func TestPaneDraftIsNeverPastedInto(t *testing.T) {
	r := startPane(t)
	if _, err := r.tmux("send-keys", "-t", "agent", "-l", "half-typed thought"); err != nil {
		t.Fatal(err)
	}
	r.waitScreen("> half-typed thought")
	_, err := r.ps.Deliver(context.Background(), r.target(), "the message")
	if !IsDraft(err) {
		t.Fatalf("err = %v, want a draft", err)
	}
	time.Sleep(100 * time.Millisecond)
	if s := r.screen(); strings.Contains(s, "the message") || !strings.Contains(s, "> half-typed thought\n") {
		t.Fatalf("the screen after: %q", s)
	}
	r.wantPrompts()
}

// A pane in copy mode (a person reading back) is waited out, never typed
// into: keys there would move the copy cursor, and Enter would copy.
func TestPaneInCopyModeIsWaitedOut(t *testing.T) {
	r := startPane(t)
	if _, err := r.tmux("copy-mode", "-t", "agent"); err != nil {
		t.Fatal(err)
	}
	r.ps.QuietMaxWait = time.Second
	if _, err := r.ps.Deliver(context.Background(), r.target(), "not now"); !IsNotQuiet(err) {
		t.Fatalf("err = %v, want a wait for a quiet pane", err)
	}
	r.wantPrompts()
	r.ps.QuietMaxWait = 10 * time.Second
	go func() {
		time.Sleep(700 * time.Millisecond)
		r.tmux("send-keys", "-t", "agent", "-X", "cancel")
	}()
	rep, err := r.ps.Deliver(context.Background(), r.target(), "once out of copy mode")
	if err != nil {
		t.Fatal(err)
	}
	if rep.QuietWait < 500*time.Millisecond {
		t.Errorf("waited %v for copy mode to end", rep.QuietWait)
	}
	r.wantPrompts("once out of copy mode")
}

// bashReader writes a bash script into dir that reads prompts with bash's
// own line editor (readline, asking for bracketed paste), each ended by
// Enter, into log (NUL after each), and returns the command that runs it.
func bashReader(t *testing.T, dir string) (command, log string) {
	t.Helper()
	log = filepath.Join(dir, "log")
	script := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(script, []byte(`bind 'set enable-bracketed-paste on'
while IFS= read -e -r -d $'\r' -p '> ' line; do printf '%s\0' "$line" >>`+log+`; done
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return "env -i HOME=" + dir + " TERM=screen PATH=/usr/bin:/bin bash --norc --noprofile " + script, log
}

// waitPrompt waits until session's pane shows bash's "> " prompt.
func waitPrompt(t *testing.T, srv *panetest.Server, session string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out, _ := srv.Tmux("capture-pane", "-p", "-t", "="+session+":"); strings.HasPrefix(strings.TrimSpace(lastLine(out)), ">") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: bash showed no prompt", session)
		}
	}
}

// A plain shell program: bash's own line editor (readline, which asks for
// bracketed paste) reading prompts, each ended by Enter, into a log. A
// message of several lines, a long one, one quoting in markdown and one
// with a table are submitted each whole and alone; a draft typed at its
// prompt is left alone.
func TestPaneDeliversIntoBash(t *testing.T) {
	dir := t.TempDir()
	reader, log := bashReader(t, dir)
	srv := panetest.Start(t, "bash", reader, 100, 20)
	ps := &Panes{LockDir: filepath.Join(dir, "locks"), QuietFor: time.Second, QuietMaxWait: 10 * time.Second,
		Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	tg := Target{Agent: "Shell-1", Pane: &Pane{Target: "bash:", Socket: srv.Socket}, Submit: []string{"enter"}, PaneBracketed: true}
	prompts := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	msgs := []string{
		"[agentspool from Agent-2 id=bash-1]\nthe body, on a line of its own\nand a third",
		"[agentspool from Agent-2 id=bash-2]\n" + strings.Repeat("a long body, ", 250),
		// Lines that look like a prompt (a quote in markdown) inside the
		// message: the input is still the one that begins at the prompt.
		"[agentspool from Agent-2 id=bash-3]\nyou wrote:\n> the quoted line\n> and another\nmy answer",
		// A table in markdown: its bars are the message's, not a box's.
		"[agentspool from Agent-2 id=bash-4]\n| a | b |\n|---|---|\n| 1 | 2 |",
	}
	for i, m := range msgs {
		waitPrompt(t, srv, "bash")
		if _, err := ps.Deliver(context.Background(), tg, m); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		for end := time.Now().Add(5 * time.Second); len(prompts()) < i+1 && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		}
	}
	if got := prompts(); !slices.Equal(got, msgs) {
		t.Fatalf("bash read %q, want %q", short(got), short(msgs))
	}
	srv.Tmux("send-keys", "-t", "=bash:", "-l", "echo my own")
	if _, err := ps.Deliver(context.Background(), tg, "[agentspool from Agent-2 id=bash-5]\nnot into a draft"); !IsDraft(err) {
		t.Fatalf("into a draft: err = %v, want a draft", err)
	}
	if got := prompts(); len(got) != len(msgs) {
		t.Fatalf("bash read %q after the draft", short(got))
	}
}

// lastLine is the last line of s with text.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return lines[len(lines)-1]
}

// A copy mode begun after the look, just before the paste or the submit
// key, takes neither: tmux would give the paste, unbracketed, to the
// program behind the mode (each line of the message a submit: seen in
// the tmux proof, a message's envelope line submitted alone) and the
// keys to the mode. The paste and the keys wait for the mode to end.
func TestPaneCopyModeBegunAfterTheLookTakesNothing(t *testing.T) {
	for step, hold := range map[string]time.Duration{"quiet": 700 * time.Millisecond, "pasted": 3 * time.Second} {
		t.Run("after "+step, func(t *testing.T) {
			r := startPane(t)
			// Waits shorter than the mode: a key into it is not waited out by chance.
			r.ps.Timings = NewTimings(5*time.Millisecond, 500*time.Millisecond)
			tg := r.target()
			tg.PaneBracketed = true
			done := false
			r.ps.AfterStep = func(s string) {
				if s != step || done {
					return
				}
				done = true
				if _, err := r.tmux("copy-mode", "-t", "agent"); err != nil {
					t.Error(err)
				}
				go func() {
					time.Sleep(hold)
					r.tmux("send-keys", "-t", "agent", "-X", "cancel")
				}()
			}
			msg := "[agentspool from Shell-2 id=copy-1]\nthe body, on a line of its own"
			rep, err := r.ps.Deliver(context.Background(), tg, msg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.SubmitUncertain {
				t.Error("the submit key was not seen to take")
			}
			if !done {
				t.Fatalf("no step %q", step)
			}
			r.wantPrompts(msg)
		})
	}
}

// A person typing in a client attached to the pane's session makes the
// delivery wait until they stop.
func TestPanePersonTypingInAnAttachedClientIsWaitedFor(t *testing.T) {
	r := startPane(t)
	typeKeys := r.srv.Attach(t, "agent")
	// The person types and rubs out, for 3 s.
	typing := make(chan struct{})
	go func() {
		defer close(typing)
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
			typeKeys("x\x7f")
		}
	}()
	time.Sleep(200 * time.Millisecond)
	began := time.Now()
	rep, err := r.ps.Deliver(context.Background(), r.target(), "after the person")
	if err != nil {
		t.Fatal(err)
	}
	<-typing
	t.Logf("waited %v (quiet wait %v)", time.Since(began), rep.QuietWait)
	if rep.QuietWait < 2500*time.Millisecond {
		t.Errorf("quiet wait %v: the delivery went while the person typed", rep.QuietWait)
	}
	r.wantPrompts("after the person")
}

// A key a person types in an attached client after the quiet check, just
// before the paste, stops the paste: it would land after the key, and
// erasing the paste that did not land whole would take the key too. The
// key stays, a draft, and nothing is pasted.
func TestPanePersonsKeyAfterTheLookStopsThePaste(t *testing.T) {
	r := startPane(t)
	typeKeys := r.srv.Attach(t, "agent")
	time.Sleep(2100 * time.Millisecond) // the attach is activity too
	r.ps.AfterStep = func(step string) {
		if step == "looked" {
			r.ps.AfterStep = nil
			typeKeys("q")
			r.waitScreen("> q")
		}
	}
	_, err := r.ps.Deliver(context.Background(), r.target(), "not after the person's key")
	if !IsDraft(err) {
		t.Fatalf("err = %v, want the person's key taken for a draft", err)
	}
	if in, err := r.ps.capture(context.Background(), r.pane, "agent:", 0); err != nil || in.Text != "q" {
		t.Fatalf("the input after: %+v, %v; want the person's key alone", in, err)
	}
	r.wantPrompts()
}

// A pane that closes mid-delivery: the delivery says the pane is gone,
// and so does AgentAbsent.
func TestPaneClosedMidDeliveryIsGone(t *testing.T) {
	r := startPane(t)
	r.ps.AfterStep = func(step string) {
		if step == "pasted" {
			r.tmux("kill-pane", "-t", "agent")
		}
	}
	_, err := r.ps.Deliver(context.Background(), r.target(), "into a closing pane")
	if !errors.Is(err, ErrPaneGone) {
		t.Fatalf("err = %v, want the pane gone", err)
	}
	if _, absent, err := r.ps.AgentAbsent(r.target()); !absent || err != nil {
		t.Fatalf("AgentAbsent = %v, %v", absent, err)
	}
}

// A key that would interrupt, suspend or end the program is never sent,
// whatever the config says; a multi-line message into a program not known
// to take a bracketed paste is refused (its lines would be submitted one
// by one).
func TestPaneRefusesHarmfulKeysAndUnbracketedLines(t *testing.T) {
	r := startPane(t)
	tg := r.target()
	tg.Submit = []string{"ctrl", "c"}
	if _, err := r.ps.Deliver(context.Background(), tg, "one"); err == nil {
		t.Fatal("a ctrl+c submit was taken")
	}
	if _, err := r.ps.Deliver(context.Background(), r.target(), "two\nlines"); err == nil || !strings.Contains(err.Error(), "tmux_bracketed") {
		t.Fatalf("multi-line into an unknown program: %v", err)
	}
	if _, other := r.records(); len(other) != 0 {
		t.Fatalf("the program was harmed: %v", other)
	}
	if _, err := r.tmux("send-keys", "-t", "agent", "C-u"); err != nil {
		t.Fatal(err)
	}
}

// tmux takes a name for the first session or window it prefixes: a
// target "pa" found the window "pandas" of session pb, and Pane-A's
// messages were pasted into Pane-B's pane (seen in the daemon's test with
// two panes). Targets are matched exactly; a session that is gone is gone,
// not another's.
func TestPaneTargetsAreMatchedExactly(t *testing.T) {
	r := startPane(t) // session "agent", its window named after the program
	if _, err := r.tmux("new-session", "-d", "-s", "ag", "sleep 600"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tmux("kill-session", "-t", "=ag"); err != nil {
		t.Fatal(err)
	}
	// "ag:" would be "agent:" by prefix.
	gone := Target{Agent: "A", Pane: &Pane{Target: "ag:", Socket: r.pane.Socket}, Submit: []string{"enter"}}
	if _, err := r.ps.Deliver(context.Background(), gone, "for the session that is gone"); !errors.Is(err, ErrPaneGone) {
		t.Fatalf("err = %v, want the pane gone", err)
	}
	bare := Target{Agent: "A", Pane: &Pane{Target: "agent", Socket: r.pane.Socket}, Submit: []string{"enter"}}
	if _, err := r.ps.Deliver(context.Background(), bare, "by a bare name"); err == nil || !strings.Contains(err.Error(), "names no session") {
		t.Fatalf("a bare name: %v", err)
	}
	r.wantPrompts()
	for in, want := range map[string]string{"work:": "=work:", "work:2.1": "=work:2.1", "work:editor.0": "=work:=editor.0",
		"=work:@3": "=work:@3", "%12": "%12", "$1:0": "$1:0"} {
		if got, err := ExactPaneTarget(in); got != want || err != nil {
			t.Errorf("ExactPaneTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// A paste that did not land whole (the program kept a part of it) is
// erased, one backspace per character, seen gone, and the next attempt
// lands whole: the message is never submitted cut.
func TestPaneAPasteThatDidNotLandWholeIsErased(t *testing.T) {
	r := startPane(t, "-cut-first-paste", "10")
	_, err := r.ps.Deliver(context.Background(), r.target(), "a message that loses its end")
	if !errors.Is(err, ErrNotLanded) || !IsTemporary(err) {
		t.Fatalf("err = %v, want a temporary not landed", err)
	}
	if in, err := r.ps.capture(context.Background(), r.pane, "agent:", 0); err != nil || !in.Found || in.Text != "" {
		t.Fatalf("the input after: %+v, %v; want it erased", in, err)
	}
	if _, err := r.ps.Deliver(context.Background(), r.target(), "a message that loses its end"); err != nil {
		t.Fatal(err)
	}
	r.wantPrompts("a message that loses its end")
}

// A daemon killed between a paste and its showing in the input (a CLI
// busy rendering): the next daemon's attempt gives the paste the time to
// show, finds it whole and submits it, rather than take the input for
// empty and paste the message again beside itself (seen in the tmux proof:
// Qwen Code's model got one message twice in one prompt).
func TestPaneALeftoverPasteStillOnItsWayIsSubmittedNotPastedAgain(t *testing.T) {
	r := startPane(t, "-slow-first-paste", "2s")
	msg := "[agentspool id=m1 from=a to=b]\nleft by a killed daemon"
	if _, err := r.tmux("set-buffer", "-b", "killed", msg); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tmux("paste-buffer", "-p", "-d", "-b", "killed", "-t", "agent:"); err != nil {
		t.Fatal(err)
	}
	tg := r.target()
	tg.PaneBracketed, tg.Resubmit = true, true
	rep, err := r.ps.Deliver(context.Background(), tg, msg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("steps %v", rep.Steps)
	r.wantPrompts(msg)
}

// A delivery after a crash (Resubmit) waits once for a leftover paste to
// show; a person typing (and rubbing out) meanwhile, every 3 s, does not
// make it refuse its paste for ever: it waits for quiet and looks afresh,
// and the paste is checked against what tmux said just before that look
// (seen in the tmux proof: the pane a person typed into got nothing for
// minutes, each paste refused for a key typed during the leftover wait).
func TestPaneLeftoverWaitThenAPersonTypingStillDelivers(t *testing.T) {
	r := startPane(t)
	r.ps.QuietFor = 500 * time.Millisecond
	typeKeys := r.srv.Attach(t, "agent")
	stop := make(chan struct{})
	typing := make(chan struct{})
	go func() {
		defer close(typing)
		for {
			typeKeys("x\x7f")
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Second):
			}
		}
	}()
	defer func() { close(stop); <-typing }()
	time.Sleep(500 * time.Millisecond)
	tg := r.target()
	tg.PaneBracketed, tg.Resubmit = true, true
	msg := "[agentspool id=m2 from=a to=b]\nafter a crash, beside a person"
	rep, err := r.ps.Deliver(context.Background(), tg, msg)
	if err != nil {
		t.Fatalf("%v (steps %v)", err, rep.Steps)
	}
	r.wantPrompts(msg)
}

// A control character in a message is a key in a terminal: a 0x03 pasted
// into bash's line editor is ctrl+c, and the terminal's line discipline
// interrupts the program (the premise, shown first: the pane's program
// dies). Such a message is refused whole, nothing typed, and the program
// takes the next message.
func TestPaneRefusesAMessageWithControlCharacters(t *testing.T) {
	dir := t.TempDir()
	reader, log := bashReader(t, dir)
	srv := panetest.Start(t, "premise", reader, 100, 20)
	if _, err := srv.Tmux("set-option", "-g", "remain-on-exit", "on"); err != nil {
		t.Fatal(err)
	}
	srv.NewSession(t, "bash", reader, 100, 20)
	waitPrompt(t, srv, "premise")
	waitPrompt(t, srv, "bash")
	msg := "[agentspool from Agent-2 id=ctl-1]\nplease stop\x03 here"
	dead := func(s string) string {
		out, _ := srv.Tmux("display-message", "-p", "-t", "="+s+":", "#{pane_dead}")
		return strings.TrimSpace(out)
	}
	// The premise: the same text pasted as tmux pastes, bracketed.
	buf := filepath.Join(dir, "buf")
	if err := os.WriteFile(buf, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Tmux("load-buffer", "-b", "premise", buf); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Tmux("paste-buffer", "-p", "-d", "-b", "premise", "-t", "=premise:"); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); dead("premise") != "1"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("premise: the pasted ctrl+c did not end bash; the test shows nothing")
		}
	}

	ps := &Panes{LockDir: filepath.Join(dir, "locks"), QuietFor: time.Second, QuietMaxWait: 10 * time.Second,
		Timings: NewTimings(5*time.Millisecond, 5*time.Second)}
	tg := Target{Agent: "Shell-1", Pane: &Pane{Target: "bash:", Socket: srv.Socket}, Submit: []string{"enter"}, PaneBracketed: true}
	rep, err := ps.Deliver(context.Background(), tg, msg)
	if !IsUnsafeText(err) || rep.Pasted || !strings.Contains(err.Error(), "U+0003 at byte 46") {
		t.Fatalf("err %v, pasted %v: want the message refused for its control character, nothing pasted", err, rep.Pasted)
	}
	if _, err := ps.Deliver(context.Background(), tg, "[agentspool from Agent-2 id=ctl-2]\nthe next one"); err != nil {
		t.Fatalf("the next message: %v", err)
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(log)
		if string(b) == "[agentspool from Agent-2 id=ctl-2]\nthe next one\x00" && dead("bash") == "0" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("bash read %q (pane dead %q), want the next message alone", b, dead("bash"))
		}
	}
}

// enteredWhileBusy is the program's record of an Enter that came while it
// was at work (a CLI steers or queues it, its hook unaware).
func (r *paneRig) enteredWhileBusy() bool {
	_, other := r.records()
	for _, m := range other {
		if m["enter_while_busy"] != nil {
			return true
		}
	}
	return false
}

// A program at work on a turn ("esc to interrupt", as the agent CLIs say
// it) is not pasted into: ErrAtWork, nothing in its input, no key; once
// the turn is done the message goes in.
func TestPaneProgramAtWorkIsNotPastedInto(t *testing.T) {
	r := startPane(t, "-busy", "3s")
	if _, err := r.ps.Deliver(context.Background(), r.target(), "the first"); err != nil {
		t.Fatal(err)
	}
	r.waitScreen("esc to interrupt")
	rep, err := r.ps.Deliver(context.Background(), r.target(), "the second")
	if !errors.Is(err, ErrAtWork) || !IsTemporary(err) || rep.Pasted || rep.Submitted {
		t.Fatalf("err %v, pasted %v, submitted %v: want a temporary ErrAtWork, nothing pasted", err, rep.Pasted, rep.Submitted)
	}
	if in, err := r.ps.capture(context.Background(), r.pane, "agent:", 0); err != nil || !in.Found || in.Text != "" || !in.AtWork {
		t.Fatalf("the input: %+v, %v; want it empty, the program at work", in, err)
	}
	r.waitScreen("paneagent: ready")
	if _, err := r.ps.Deliver(context.Background(), r.target(), "the second"); err != nil {
		t.Fatal(err)
	}
	r.wantPrompts("the first", "the second")
	if r.enteredWhileBusy() {
		t.Error("an Enter came while the program was at work")
	}
}

// A program that begins a turn between the look and the submit key: the
// submit waits for the turn to end (within atWorkWait), then goes.
func TestPaneSubmitWaitsForATurnBegunAfterThePaste(t *testing.T) {
	r := startPane(t, "-work-after-paste", "2s")
	rep, err := r.ps.Deliver(context.Background(), r.target(), "after its turn")
	if err != nil || !rep.Submitted {
		t.Fatalf("err %v, submitted %v", err, rep.Submitted)
	}
	r.wantPrompts("after its turn")
	if r.enteredWhileBusy() {
		t.Error("the Enter came while the program was at work")
	}
}

// A turn begun after the paste that outlasts atWorkWait: the paste is
// erased, nothing submitted, ErrAtWork (the message waits and comes
// again).
func TestPaneTurnThatOutlastsTheSubmitWaitErasesThePaste(t *testing.T) {
	r := startPane(t, "-work-after-paste", "30s")
	rep, err := r.ps.Deliver(context.Background(), r.target(), "not now")
	if !errors.Is(err, ErrAtWork) || !IsTemporary(err) || rep.Pasted || rep.Submitted || !rep.Undone {
		t.Fatalf("err %v, pasted %v, submitted %v, undone %v: want ErrAtWork, the paste erased", err, rep.Pasted, rep.Submitted, rep.Undone)
	}
	if in, err := r.ps.capture(context.Background(), r.pane, "agent:", 0); err != nil || !in.Found || in.Text != "" {
		t.Fatalf("the input after: %+v, %v; want it erased", in, err)
	}
	r.wantPrompts()
	if r.enteredWhileBusy() {
		t.Error("an Enter came while the program was at work")
	}
}

// A paste that shows only after its attempt stopped waiting for it (a CLI
// on a loaded desk, its long paste drawn as Qwen Code's "[Pasted Content N
// chars]") is its own message's: another message is not pasted into the
// pane while it may still show, nor takes its placeholder, which tells
// only a length, for its own paste of the same length and submits it (the
// tmux proof at 9b94da5: Qwen's model got one message twice, once
// submitted as another's). The message's next attempt submits it.
func TestPanePasteThatShowsLateIsItsOwnMessagesAlone(t *testing.T) {
	r := startPane(t, "-slow-first-paste", "7s", "-placeholder-over", "20")
	tg := r.target()
	tg.PaneBracketed = true
	first := "[agentspool id=m1 from=a to=b]\nshown late, as a placeholder"
	second := "[agentspool id=m2 from=a to=b]\nthe same length, another one"
	if utf8.RuneCountInString(first) != utf8.RuneCountInString(second) {
		t.Fatal("the two messages must have one length")
	}
	if _, err := r.ps.Deliver(context.Background(), tg, first); !errors.Is(err, ErrNotLanded) || !IsTemporary(err) {
		t.Fatalf("first: err = %v, want a temporary not landed (nothing showed yet)", err)
	}
	// Not yet shown: the other message is not pasted beside it.
	if _, err := r.ps.Deliver(context.Background(), tg, second); !IsDraft(err) || !IsUnseenPaste(err) {
		t.Fatalf("second, before the first showed: err = %v, want it to wait as for a draft, for an unseen paste", err)
	}
	r.waitScreen("[Pasted Content ")
	// Shown: not the other message's to submit.
	if _, err := r.ps.Deliver(context.Background(), tg, second); !IsDraft(err) || !IsUnseenPaste(err) {
		t.Fatalf("second, beside the first's placeholder: err = %v, want it to wait as for a draft, for an unseen paste", err)
	}
	if got, _ := r.records(); len(got) != 0 {
		t.Fatalf("submitted %q before the first message's own attempt", short(got))
	}
	rep, err := r.ps.Deliver(context.Background(), tg, first)
	if err != nil || rep.Landing != "seen" {
		t.Fatalf("first, again: %v (landing %q, steps %v); want its shown paste submitted", err, rep.Landing, rep.Steps)
	}
	if _, err := r.ps.Deliver(context.Background(), tg, second); err != nil {
		t.Fatalf("second, after: %v", err)
	}
	r.wantPrompts(first, second)
}

// Without a record of a late paste (a person's paste, or a record lost),
// a placeholder in the input is nobody's to submit: a message that was
// never pasted waits as for a draft, even at the placeholder's length.
func TestPanePlaceholderIsNotAFreshMessagesOwn(t *testing.T) {
	r := startPane(t, "-placeholder-over", "20")
	msg := "[agentspool id=m3 from=a to=b]\nnever pasted by agentspool"
	other := strings.Repeat("x", utf8.RuneCountInString(msg))
	if _, err := r.tmux("set-buffer", "-b", "person", other); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tmux("paste-buffer", "-p", "-d", "-b", "person", "-t", "agent:"); err != nil {
		t.Fatal(err)
	}
	r.waitScreen("[Pasted Content ")
	tg := r.target()
	tg.PaneBracketed = true
	if _, err := r.ps.Deliver(context.Background(), tg, msg); !IsDraft(err) || IsUnseenPaste(err) {
		t.Fatalf("err = %v, want it to wait as for a person's draft", err)
	}
	if got, _ := r.records(); len(got) != 0 {
		t.Fatalf("submitted %q", short(got))
	}
}
