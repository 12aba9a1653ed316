package deliver_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/deliver/fakedesktop"
)

func TestHarmfulKeys(t *testing.T) {
	for combo, want := range map[string]bool{
		"ctrl+c": true, "ctrl+z": true, "ctrl+d": true, "ctrl+backslash": true, "ctrl+4": true,
		"ctrl+shift+c": true, "ctrl+alt+z": true, "CTRL+C": false, // parsed combos are lower-case
		"ctrl+v": false, "ctrl+shift+v": false, "shift+insert": false, "enter": false,
		"ctrl+slash": false, "c": false, "shift+c": false, "alt+d": false,
	} {
		if got := deliver.Harmful(strings.Split(combo, "+")); got != want {
			t.Errorf("Harmful(%s) = %v, want %v", combo, got, want)
		}
	}
}

func TestInspectKnowsTerminalsAndCLIs(t *testing.T) {
	for _, tc := range []struct {
		procs []deliver.Process
		cli   string
	}{
		{[]deliver.Process{{PID: 10, PPID: 1, Name: "xterm"}, {PID: 11, PPID: 10, Name: "bash"},
			{PID: 12, PPID: 11, Name: "node", Args: []string{"node", "/usr/lib/node_modules/@google/gemini-cli/dist/index.js"}}}, deliver.CLIGemini},
		{[]deliver.Process{{PID: 10, PPID: 1}, {PID: 12, PPID: 10, Name: "claude", Args: []string{"claude", "--resume"}}}, deliver.CLIClaudeCode},
		{[]deliver.Process{{PID: 10, PPID: 1}, {PID: 12, PPID: 10, Name: "node", Args: []string{"node", "/x/bin/codex.js"}},
			{PID: 13, PPID: 12, Name: "codex", Args: []string{"/x/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/codex/codex"}}}, deliver.CLICodex},
		{[]deliver.Process{{PID: 10, PPID: 1}, {PID: 12, PPID: 10, Name: "node", Args: []string{"node", "/p/@qwen-code/qwen-code/cli.js"}}}, deliver.CLIQwenCode},
		// A shell only; and one terminal process serving two CLIs' windows.
		{[]deliver.Process{{PID: 10, PPID: 1}, {PID: 12, PPID: 10, Name: "bash", Args: []string{"-bash"}}}, ""},
		{[]deliver.Process{{PID: 10, PPID: 1}, {PID: 12, PPID: 10, Args: []string{"claude"}}, {PID: 13, PPID: 10, Args: []string{"gemini"}}}, ""},
		// Not under the window's process.
		{[]deliver.Process{{PID: 10, PPID: 1}, {PID: 12, PPID: 1, Args: []string{"claude"}}}, ""},
	} {
		if got, _ := deliver.FindCLIForTest(tc.procs, 10); got != tc.cli {
			t.Errorf("findCLI(%v) = %q, want %q", tc.procs, got, tc.cli)
		}
	}
	if p := deliver.Inspect(deliver.Window{Instance: "Editor", Class: "Code"}); p.IsTerminal() {
		t.Errorf("an editor's window taken for a terminal: %v", p)
	}
	if p := deliver.Inspect(deliver.Window{Instance: "agent-3", Class: "XTerm"}); p.Terminal != "xterm" {
		t.Errorf("an xterm named agent-3 not known: %v", p)
	}
	if p := deliver.Inspect(deliver.Window{Class: "CASCADIA_HOSTING_WINDOW_CLASS"}); p.Terminal != "windows-terminal" {
		t.Errorf("Windows Terminal not known: %v", p)
	}
}

// terminalDesk: Agent-1 is an xterm running Gemini CLI, Agent-2 a chat
// window; the config names no kind.
func terminalDesk(t *testing.T, cli string) (*fakedesktop.Desk, *deliver.Deliverer) {
	t.Helper()
	d := desk(t)
	w := d.WindowPtrForTest("Agent-1")
	w.Instance, w.Class, w.PasteKey = "xterm", "XTerm", "shift+insert"
	dl := deliverer(d)
	dl.Inspect = func(w deliver.Window) deliver.Program {
		p := deliver.Inspect(w) // the class: no process table for a fake window
		if p.IsTerminal() {
			p.CLI = cli
		}
		return p
	}
	return d, dl
}

// chatTarget is a target as a config without kind: gives it: the chat
// defaults, a draft check and a verifying look with ctrl+a/ctrl+c, the
// undo ctrl+z.
func chatTarget(name string, x int) deliver.Target {
	tg := target(name, x)
	keys := &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"end"}}
	tg.Read, tg.Draft, tg.Verify = keys, keys, true
	return tg
}

func TestTerminalGetsNoHarmfulKeyNoClickAndItsOwnPasteKey(t *testing.T) {
	d, dl := terminalDesk(t, deliver.CLIGemini)
	rep, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), "hello terminal")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "hello terminal" {
		t.Fatalf("submits %q", got)
	}
	for _, k := range d.Keys() {
		if deliver.Harmful(k) || slices.Equal(k, []string{"ctrl", "a"}) {
			t.Errorf("tapped %v into a terminal", k)
		}
	}
	if !slices.ContainsFunc(d.Keys(), func(k []string) bool { return slices.Equal(k, []string{"shift", "insert"}) }) {
		t.Errorf("keys %v: want xterm's shift+insert as the paste", d.Keys())
	}
	if c := d.Window("Agent-1").ClickCounts; len(c) != 0 {
		t.Errorf("clicked into the terminal %d times: a click moves a TUI's caret", len(c))
	}
	if rep.Program.Terminal != "xterm" || rep.Program.CLI != deliver.CLIGemini {
		t.Errorf("report's program %v", rep.Program)
	}
	// Gemini turns an Enter within 40 ms of a paste into a newline.
	if rep.Settle < 200*time.Millisecond {
		t.Errorf("waited %v between Gemini's paste and the submit", rep.Settle)
	}
	// The chat window beside it still gets its look and its click.
	if _, err := dl.Deliver(context.Background(), chatTarget("Agent-2", 150), "hello chat"); err != nil {
		t.Fatal(err)
	}
	if c := d.Window("Agent-2").ClickCounts; len(c) == 0 {
		t.Errorf("the chat window was not clicked")
	}
}

func TestUndoInATerminalIsTheCLIsOwnOrNone(t *testing.T) {
	// Claude Code's undo is ctrl+_ (sent for ctrl+/): that, not ctrl+z,
	// which suspends it.
	d, dl := terminalDesk(t, deliver.CLIClaudeCode)
	if err := dl.Undo(context.Background(), chatTarget("Agent-1", 50)); err != nil {
		t.Fatal(err)
	}
	if k := d.Keys(); len(k) != 1 || !slices.Equal(k[0], []string{"ctrl", "slash"}) {
		t.Fatalf("keys %v, want only ctrl+slash", k)
	}
	// Gemini's undo is ctrl+z: never tapped into a terminal. No undo, and
	// the error says why.
	d, dl = terminalDesk(t, deliver.CLIGemini)
	err := dl.Undo(context.Background(), chatTarget("Agent-1", 50))
	if err == nil || !strings.Contains(err.Error(), "no undo that is safe") {
		t.Fatalf("err = %v", err)
	}
	if k := d.Keys(); len(k) != 0 {
		t.Fatalf("keys %v tapped", k)
	}
}

func TestAHarmfulKeyIsRefusedWhateverTheConfigSays(t *testing.T) {
	// kind: chat written, the window an xterm (found at the key, by its
	// class), and a submit key of ctrl+d: refused, and said.
	d, dl := terminalDesk(t, "")
	dl.Inspect = func(deliver.Window) deliver.Program { return deliver.Program{} } // not found before the lock
	tg := chatTarget("Agent-1", 50)
	tg.Kind = deliver.KindChat
	tg.Read, tg.Draft, tg.Verify = nil, nil, false
	tg.Submit = []string{"ctrl", "d"}
	tg.PasteKey = []string{"shift", "insert"}
	rep, err := dl.Deliver(context.Background(), tg, "x")
	if !deliver.IsUnsafeKey(err) {
		t.Fatalf("err = %v, want an unsafe key refused", err)
	}
	for _, k := range d.Keys() {
		if deliver.Harmful(k) {
			t.Errorf("tapped %v", k)
		}
	}
	if len(d.Window("Agent-1").Submits) != 0 {
		t.Errorf("submitted")
	}
	_ = rep
}

func TestATerminalWithoutUndoSubmitsThroughAPersonsTouch(t *testing.T) {
	// Codex has no undo: a person who moves the mouse after the paste
	// does not leave the paste in its input for the next message.
	d, dl := terminalDesk(t, deliver.CLICodex)
	dl.QuietFor, dl.QuietMaxWait = 50*time.Millisecond, time.Second
	d.AfterKey = func(d *fakedesktop.Desk, combo []string) {
		if slices.Equal(combo, []string{"shift", "insert"}) {
			d.PersonMovesMouse()
		}
	}
	rep, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), "one")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.KeptOn || len(d.Window("Agent-1").Submits) != 1 {
		t.Fatalf("kept on %v, submits %q", rep.KeptOn, d.Window("Agent-1").Submits)
	}
}

// A person copies after the terminal read the paste, in the gap before
// the Enter: the terminal inserted what it read, our message, so the
// submit goes on (it was refused, the paste left in Codex's input and the
// agent held, in the proof). A chat window is not taken on trust so:
// TestCopyBetweenReadsIsNotSubmitted.
func TestATerminalSubmitsThroughACopyAfterItsRead(t *testing.T) {
	d := submitsThroughACopy(t, func(d *fakedesktop.Desk) {
		d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
			if slices.Equal(combo, []string{"enter"}) {
				d.Clobber("the person's copy")
			}
		}
	})
	if clip, _ := d.Clipboard(); string(clip) != "the person's copy" {
		t.Fatalf("clipboard %q, want the person's copy", clip)
	}
}

// A person copies while the terminal reads the paste (after its read of
// our text): the terminal inserted our text, and the submit goes on.
func TestATerminalSubmitsThroughACopyDuringItsRead(t *testing.T) {
	submitsThroughACopy(t, func(d *fakedesktop.Desk) {
		d.AfterKey = func(d *fakedesktop.Desk, combo []string) {
			if slices.Equal(combo, []string{"shift", "insert"}) {
				d.Clobber("the person's copy")
			}
		}
	})
}

// A copy between the paste key and the terminal's read: the terminal
// pasted the person's copy, not the message, and Codex has no undo. What
// it pasted is erased with backspaces (it was held, the agent's queue
// stuck, in a clean-clone run of the proof), and the next try delivers
// the message alone.
func TestATerminalErasesAForeignPasteByBackspaces(t *testing.T) {
	d, dl := terminalDesk(t, deliver.CLICodex)
	d.FetchDelay = 20 * time.Millisecond // the terminal reads after the copy
	var once bool
	d.AfterKey = func(d *fakedesktop.Desk, combo []string) {
		if slices.Equal(combo, []string{"shift", "insert"}) && !once {
			once = true
			d.Clobber("their copy ✂ 42")
		}
	}
	rep, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), "one")
	if err == nil || rep.Pasted || !rep.Undone {
		t.Fatalf("err %v, pasted %v, undone %v: want an error, the foreign paste taken back", err, rep.Pasted, rep.Undone)
	}
	w := d.Window("Agent-1")
	if w.Input != "" || len(w.Submits) != 0 {
		t.Fatalf("input %q, submits %q: want the foreign paste erased, nothing submitted", w.Input, w.Submits)
	}
	if _, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), "one"); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"one"}) {
		t.Fatalf("submits %q, want the message alone", got)
	}
	if clip, _ := d.Clipboard(); string(clip) != "their copy ✂ 42" {
		t.Fatalf("clipboard %q, want the person's copy", clip)
	}
}

// submitsThroughACopy delivers "one" into Codex CLI in an xterm, with the
// person's copy that script sets up, and wants it submitted once.
func submitsThroughACopy(t *testing.T, script func(d *fakedesktop.Desk)) *fakedesktop.Desk {
	t.Helper()
	d, dl := terminalDesk(t, deliver.CLICodex)
	script(d)
	rep, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), "one")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 || got[0] != "one" || !rep.Submitted {
		t.Fatalf("submits %q, report submitted %v", got, rep.Submitted)
	}
	return d
}

// The focus moves to another agent's terminal before a key that would
// harm a terminal (the chat window's ctrl+c of its verifying look): the
// key is not tapped there, and the focus is moved back, as for any
// window; it is not an unsafe key of the agent's (which holds the agent:
// the proof saw a Tk agent held so, its queue stuck).
func TestAnotherTerminalTakingTheFocusIsAFocusMoved(t *testing.T) {
	d, dl := terminalDesk(t, "")
	w := d.WindowPtrForTest("Agent-1")
	w.Instance, w.Class, w.PasteKey = "agent-1", "Tk", ""
	other := d.WindowPtrForTest("Agent-2")
	other.Instance, other.Class = "xterm", "XTerm"
	dl.Inspect = deliver.Inspect
	var once bool
	d.BeforeKey = func(d *fakedesktop.Desk, combo []string) {
		if slices.Equal(combo, []string{"ctrl", "c"}) && !once {
			once = true
			d.Focus("Agent-2")
		}
	}
	_, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), "one")
	if deliver.IsUnsafeKey(err) {
		t.Fatalf("err = %v: another window's terminal taken for the agent's", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; len(got) != 1 {
		t.Fatalf("submits %q", got)
	}
	if !once {
		t.Fatal("no ctrl+c: the test did not test it")
	}
}

func TestBindingForPrefersWhatLasts(t *testing.T) {
	term := deliver.Program{Terminal: "xterm", CLI: deliver.CLIClaudeCode}
	own := deliver.Window{ID: 1, Title: "✳ Claude Code", Instance: "agent-3", Class: "XTerm", PID: 30}
	others := []deliver.ProbedWindow{
		{Window: deliver.Window{ID: 2, Title: "✳ Claude Code", Instance: "xterm", Class: "XTerm", PID: 31}},
		{Window: deliver.Window{ID: 3, Title: "Qwen - work", Instance: "xterm", Class: "XTerm", PID: 32}},
	}
	if b := deliver.BindingFor(own, term, others); b.Class != "agent-3" || b.Window != "" || b.PID != 0 {
		t.Errorf("own class: %+v", b)
	}
	// Two plain xterms: the class and the process, never the title.
	if b := deliver.BindingFor(others[0].Window, term, append(others, deliver.ProbedWindow{Window: own})); b.Class != "xterm" || b.PID != 31 || b.Window != "" {
		t.Errorf("shared class: %+v", b)
	}
	// One terminal process serving every window: only the title is left.
	shared := []deliver.ProbedWindow{{Window: deliver.Window{ID: 5, Title: "Codex", Instance: "gnome-terminal-server", PID: 7}}}
	w := deliver.Window{ID: 4, Title: "work", Instance: "gnome-terminal-server", PID: 7}
	if b := deliver.BindingFor(w, deliver.Program{Terminal: "gnome-terminal"}, shared); b.Window != "work" || b.Class != "" {
		t.Errorf("shared process: %+v", b)
	}
	// A chat window keeps its title.
	if b := deliver.BindingFor(deliver.Window{Title: "Agent-1 — Cursor"}, deliver.Program{}, nil); b.Window != "Agent-1 — Cursor" {
		t.Errorf("chat: %+v", b)
	}
}

func TestSubmitAgainTakesGeminisNewlineOutAndLearnsTheGap(t *testing.T) {
	d, dl := terminalDesk(t, deliver.CLIGemini)
	tg := chatTarget("Agent-1", 50)
	if _, err := dl.SubmitAgain(context.Background(), tg, true); err != nil {
		t.Fatal(err)
	}
	if k := d.Keys(); len(k) != 2 || !slices.Equal(k[0], []string{"backspace"}) || !slices.Equal(k[1], []string{"enter"}) {
		t.Fatalf("keys %v, want backspace, enter", k)
	}
	// The next paste waits twice Gemini's gap before its submit.
	rep, err := dl.Deliver(context.Background(), tg, "next")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Settle < 800*time.Millisecond {
		t.Errorf("settle %v after a submit that had to be tapped again, want the gap doubled", rep.Settle)
	}
	// After a restart (no Enter yet), no backspace: the paste is whole.
	d, dl = terminalDesk(t, deliver.CLIGemini)
	if _, err := dl.SubmitAgain(context.Background(), tg, false); err != nil {
		t.Fatal(err)
	}
	if k := d.Keys(); len(k) != 1 || !slices.Equal(k[0], []string{"enter"}) {
		t.Fatalf("keys %v, want only enter", k)
	}
	// Never into a program not known to ignore an empty Enter.
	d, dl = terminalDesk(t, "")
	if _, err := dl.SubmitAgain(context.Background(), tg, true); err == nil || len(d.Keys()) != 0 {
		t.Fatalf("err %v, keys %v", err, d.Keys())
	}
}

// A control character is a key in a terminal window too (a terminal gives
// a paste to its program as input; an ESC [201~ ends a bracketed paste and
// the 0x03 after it is ctrl+c): the message is refused before any click,
// key or offer. A chat panel, no terminal, takes the same text as text.
func TestATerminalWindowRefusesAMessageWithControlCharacters(t *testing.T) {
	const msg = "stop\x1b[201~\x03 now"
	d, dl := terminalDesk(t, deliver.CLIClaudeCode)
	rep, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), msg)
	if !deliver.IsUnsafeText(err) || rep.Pasted || rep.Submitted || !strings.Contains(err.Error(), "U+001B at byte 4") {
		t.Fatalf("err %v, pasted %v, submitted %v: want the message refused for its ESC", err, rep.Pasted, rep.Submitted)
	}
	clip, _ := d.Clipboard()
	if w := d.Window("Agent-1"); len(d.Keys()) != 0 || w.Input != "" || len(w.Submits) != 0 || len(clip) != 0 {
		t.Fatalf("keys %q, input %q, submits %q, clipboard %q: want nothing done", d.Keys(), w.Input, w.Submits, clip)
	}
	d2 := desk(t)
	dl2 := deliverer(d2)
	if _, err := dl2.Deliver(context.Background(), target("Agent-1", 50), msg); err != nil {
		t.Fatalf("into a chat panel: %v", err)
	}
	if got := d2.Window("Agent-1").Submits; !slices.Equal(got, []string{msg}) {
		t.Fatalf("chat panel submits %q, want the text as it is", got)
	}
}

// A terminal pastes each LF as a CR (xterm does so: a CRLF message reached
// a bash reader in an xterm with a blank line after each line), so a
// message written with CRLF line ends is offered with LF ones; a chat
// panel gets it as it is.
func TestATerminalWindowGetsCRLFAsOneLineEnd(t *testing.T) {
	const msg = "[agentspool id=w1]\r\nfirst line\r\nsecond"
	d, dl := terminalDesk(t, deliver.CLICodex)
	if _, err := dl.Deliver(context.Background(), chatTarget("Agent-1", 50), msg); err != nil {
		t.Fatal(err)
	}
	if got := d.Window("Agent-1").Submits; !slices.Equal(got, []string{"[agentspool id=w1]\nfirst line\nsecond"}) {
		t.Fatalf("terminal submits %q, want LF line ends", got)
	}
	d2 := desk(t)
	if _, err := deliverer(d2).Deliver(context.Background(), target("Agent-1", 50), msg); err != nil {
		t.Fatal(err)
	}
	if got := d2.Window("Agent-1").Submits; !slices.Equal(got, []string{msg}) {
		t.Fatalf("chat panel submits %q, want the text as it is", got)
	}
}
