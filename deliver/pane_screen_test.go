package deliver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readInput on screens shaped as the agent CLIs draw their input (with
// the escapes capture-pane -e keeps): the text, a faint placeholder taken
// for an empty input, a box's borders and continuation lines.
func TestReadInput(t *testing.T) {
	for _, c := range []struct {
		name, screen string
		found        bool
		text         string
	}{
		{"paneagent, empty", "paneagent: ready\n>\n\n", true, ""},
		{"paneagent, two lines", "paneagent: ready\nsent: x\n> first\n  second line\n", true, "first\nsecond line"},
		{"a box with a faint placeholder", "╭────╮\n│ > \x1b[2mType your message or @path/to/file\x1b[0m   │\n╰────╯\n", true, ""},
		{"a grey placeholder (256 colours)", "│ > \x1b[38;5;244mTry \"fix lint errors\"\x1b[39m │\n", true, ""},
		{"a box with text", "╭────╮\n│ > \x1b[1mhello\x1b[0m there   │\n│   next   │\n╰────╯\n", true, "hello there\nnext"},
		{"placeholder then typed text is text", "│ > \x1b[2m\x1b[0mdraft │\n", true, "draft"},
		{"Codex's mark", "› \x1b[2mAsk Codex to do anything\x1b[22m\n\n  ? for shortcuts\n", true, ""},
		{"Codex with a draft", "› fix the tests\n\n  ? for shortcuts\n", true, "fix the tests"},
		{"a dialog's choice reads as a draft: nothing is pasted", "Do you want to proceed?\n ❯ 1. Yes\n   2. No\n", true, "1. Yes\n2. No"},
		{"no prompt at all", "Compiling…\n", false, ""},
		{"the last prompt counts", "> old\nsent: old\n> new\n", true, "new"},
	} {
		got := readInput(c.screen)
		if got.Found != c.found || got.Text != c.text {
			t.Errorf("%s: readInput = %+v, want found %v text %q", c.name, got, c.found, c.text)
		}
	}
}

func TestLanded(t *testing.T) {
	msg := "[agentspool id=m1 from=a to=b]\nline one\n\n\tline two, after a blank line"
	// A message with lines that look like a prompt (markdown quotes): its
	// input begins at the prompt above them.
	quoting := "[agentspool id=m2 from=a to=b]\nyou wrote:\n> the quoted line\n> and another\nmy answer"
	// A table in markdown: its "|" are the message's own, not a box's
	// border, unless the prompt line is in a box.
	table := "[agentspool id=m3 from=a to=b]\nthe table:\n| a | b |\n|---|---|\n| 1 | 2 |\nend"
	for _, c := range []struct {
		name, msg, screen string
		want              bool
	}{
		{"whole, wrapped, tab as spaces, a footer below", msg, "> [agentspool id=m1 from=a\n  to=b]\n  line one\n\n      line two, after a blank\n  line\n\n  model · /work\n", true},
		{"a part", msg, "> [agentspool id=m1 from=a to=b]\n  line one\n\n  model · /work\n", false},
		{"with a draft before", msg, "> draft [agentspool id=m1 from=a to=b]\n  line one\n\n\tline two, after a blank line\n", false},
		{"Claude Code's placeholder", msg, "❯\u00a0[Pasted text #1 +3 lines]\n", true},
		{"Qwen Code's placeholder", msg, "> [Pasted Content 70 chars]\n", true},
		{"Gemini CLI's placeholder, lines", msg, " > [Pasted Text: 4 lines]\n", true},
		{"Gemini CLI's placeholder, chars", msg, " > [Pasted Text: 70 chars]\n", true},
		{"a placeholder for another paste", msg, " > [Pasted Text: 5 lines]\n", false},
		{"no input", msg, "Compiling…\n", false},

		{"quotes, a shell's line editor, whole", quoting, "$ ls\nREADME\n> [agentspool id=m2 from=a to=b]\nyou wrote:\n> the quoted line\n> and another\nmy answer\n", true},
		{"quotes, in a CLI's box, a footer below", quoting, "│ > [agentspool id=m2 from=a to=b] │\n│   you wrote:                    │\n│   > the quoted line             │\n│   > and another                 │\n│   my answer                     │\n  model · /work\n", true},
		{"quotes, a part", quoting, "> [agentspool id=m2 from=a to=b]\nyou wrote:\n> the quoted line\n", false},
		{"quotes, submitted: a new prompt under it", quoting, "> [agentspool id=m2 from=a to=b]\nyou wrote:\n> the quoted line\n> and another\nmy answer\n> \n", false},
		{"quotes, submitted, answered: a new prompt under it", quoting, "> [agentspool id=m2 from=a to=b]\nyou wrote:\n> the quoted line\n> and another\nmy answer\nthe answer\n> \n", false},

		{"table, a shell's line editor", table, "> [agentspool id=m3 from=a to=b]\nthe table:\n| a | b |\n|---|---|\n| 1 | 2 |\nend\n", true},
		{"table, a CLI's indented lines", table, "› [agentspool id=m3 from=a to=b]\n  the table:\n  | a | b |\n  |---|---|\n  | 1 | 2 |\n  end\n  model · /work\n", true},
		{"table, in a box", table, "│ > [agentspool id=m3 from=a to=b] │\n│   the table:  │\n│   | a | b |  │\n│   |---|---|   │\n│   | 1 | 2 |  │\n│   end   │\n", true},
		{"table, a part", table, "› [agentspool id=m3 from=a to=b]\n  the table:\n  | a | b |\n", false},
	} {
		in := readInput(c.screen)
		if got := landed(in, c.msg); got != c.want {
			t.Errorf("%s: landed = %v, want %v (%+v)", c.name, got, c.want, in)
		}
		if c.msg == table && c.want && strings.Count(in.Text, "\n") > 1 && !strings.Contains(in.Text, "| a | b |") {
			t.Errorf("%s: the input's text lost the table's bars: %q", c.name, in.Text)
		}
	}
	long := ""
	for i := 0; i < 100; i++ {
		long += "word" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " "
	}
	if !landed(readInput("> …"+long[len(long)-200:]+"\n  model · /work\n"), long) {
		t.Error("the end of a long paste after … is not taken as landed")
	}
	if landed(readInput("> …"+long[:200]+"\n"), long) {
		t.Error("the start of a long paste after … is taken as landed")
	}
	if landed(readInput("> …"+long[len(long)-30:]+"\n"), long) {
		t.Error("30 characters of a long paste's end after … are taken as landed")
	}
	// An input box that shows its last lines only (the tmux proof's shell
	// agents, as a CLI's box scrolls), with a blank line and quotes in
	// them: landed, whichever prompt line is the last.
	scrolled := "[agentspool id=m4 from=a to=b]\nmulti-line m4\n- first: run the tests\n- second: read the diff\n> as you wrote\n> before\n\nthanks, m4"
	screen := "paneagent: ready\n> …- first: run the tests\n  - second: read the diff\n  > as you wrote\n  > before\n  \n  thanks, m4\n"
	if !landed(readInput(screen), scrolled) {
		t.Errorf("the end of a message after …, quotes and a blank line in it: not landed (%+v)", readInput(screen))
	}
	if landed(readInput(screen+"> \n"), scrolled) {
		t.Error("the same with a new prompt under it (submitted) is taken as landed")
	}
}

// The four CLIs' own screens, captured from their panes (capture-pane -p
// -e -J; test/terminal ran them): idle (a placeholder, or nothing, in the
// input), a draft typed, a three-line paste, and the input after a
// submit.
func TestReadInputOnTheCLIsScreens(t *testing.T) {
	const pasted = "[agentspool id=x1 from=a to=b]\nline two of it\nline three"
	for _, cli := range []string{"claude", "codex", "gemini", "qwen"} {
		read := func(state string) paneInput {
			b, err := os.ReadFile(filepath.Join("testdata", "panes", cli+"-"+state+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			return readInput(string(b))
		}
		if in := read("idle"); !in.Found || in.Text != "" {
			t.Errorf("%s idle: %+v, want an empty input", cli, in)
		}
		if in := read("draft"); in.Text != "hello world draft" {
			t.Errorf("%s draft: %+v", cli, in)
		}
		if in := read("pasted"); !landed(in, pasted) || landed(in, pasted+" and more") {
			t.Errorf("%s pasted: %+v", cli, in)
		}
		if cli == "qwen" {
			// Qwen Code's follow-up suggestion after a reply, its first
			// letter under the caret: a suggestion, not a draft.
			if in := read("suggestion"); !in.Found || in.Text != "" {
				t.Errorf("qwen's suggestion: %+v, want an empty input", in)
			}
		}
		if in := read("after"); !in.Found || in.Text != "" || strings.HasPrefix(in.Rest, "helloworlddraft") {
			t.Errorf("%s after the submit: %+v", cli, in)
		}
		// At work on a turn: Claude Code, Codex and Gemini CLI (its hook
		// running) with a submit just taken; Qwen Code after a submit,
		// and with a paste in its input meanwhile. Not at work: idle, a
		// draft, Qwen's suggestion, and Qwen with a message queued for
		// after a turn that is over.
		atWork := map[string][]string{"claude": {"busy"}, "codex": {"busy"}, "gemini": {"busy"}, "qwen": {"after", "pasted"}}[cli]
		for _, state := range []string{"idle", "draft", "pasted", "after", "busy", "suggestion"} {
			if _, err := os.Stat(filepath.Join("testdata", "panes", cli+"-"+state+".txt")); err != nil {
				continue
			}
			if in, want := read(state), slices.Contains(atWork, state); in.AtWork != want {
				t.Errorf("%s %s: at work %v, want %v", cli, state, in.AtWork, want)
			}
		}
	}
}

// A CLI's working line is read around the input, never in it, nor far up
// in what was said before: a message may say "esc to cancel" itself.
func TestAtWorkIsReadAroundTheInput(t *testing.T) {
	for _, c := range []struct {
		screen string
		want   bool
	}{
		{"> hi\n⠴ Thinking... (2s · esc to cancel)\n────\n>   Type your message\n────\n", true},
		{"────\n❯ \n────\n  ⏵⏵ auto mode on · esc to interrupt\n", true},
		{"• Working (3s • esc to interrupt)\n\n› Ask Codex to do anything\n", true},
		{"────\n>   Type your message\n────\n  Enter to steer · Ctrl+Q to queue\n", true},
		{"────\n> press esc to cancel\n  then Enter to steer it\n────\n  ➜ work\n", false},
		{"> press esc to cancel, it said\n◆ Mock reply.\n1\n2\n3\n4\n5\n6\n────\n>   Type your message\n────\n", false},
		{"paneagent: ready\n> \n", false},
	} {
		if in := readInput(c.screen); in.AtWork != c.want {
			t.Errorf("%q: at work %v, want %v", c.screen, in.AtWork, c.want)
		}
	}
}

// A look at a screen of 400 quoted lines ("> ", each a prompt line to the
// reader), as the landing poll makes one every 10 ms: a message with no
// prompt mark of its own (the inputs that would begin at the earlier
// prompt lines are not built), and one with a quote in it (they are).
// Before they were built on demand, in one walk each, a look here took
// 183 ms: the poll kept a core busy.
func BenchmarkLandedOnAScreenOfQuotes(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("paneagent: ready\n")
	for range 400 {
		sb.WriteString("> quoted line of a long message that goes on\n")
	}
	sb.WriteString("> \n")
	screen := sb.String()
	for _, c := range []struct{ name, text string }{
		{"plain", "[agentspool id=x from=a to=b]\nplain text only"},
		{"quoted", "[agentspool id=x from=a to=b]\n> as you wrote\nthanks"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if landed(readInput(screen), c.text) {
					b.Fatal("landed on a screen without it")
				}
			}
		})
	}
}
