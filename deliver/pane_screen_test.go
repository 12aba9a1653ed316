package deliver

import "testing"

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
	msg := "[agentspool id=m1 from=a to=b]\nline one\n\tline two"
	for _, c := range []struct {
		name string
		in   paneInput
		want bool
	}{
		{"whole, wrapped and tab as spaces", paneInput{Found: true, Text: "[agentspool id=m1 from=a\nto=b]\nline one\n    line two"}, true},
		{"a part", paneInput{Found: true, Text: "[agentspool id=m1 from=a to=b]\nline one"}, false},
		{"with a draft before", paneInput{Found: true, Text: "draft [agentspool id=m1 from=a to=b]\nline one\n\tline two"}, false},
		{"Claude Code's placeholder", paneInput{Found: true, Text: "[Pasted text #1 +12 lines]"}, true},
		{"Qwen Code's placeholder", paneInput{Found: true, Text: "[Pasted Content 2000 chars]"}, true},
		{"no input", paneInput{}, false},
	} {
		if got := landed(c.in, msg); got != c.want {
			t.Errorf("%s: landed = %v, want %v", c.name, got, c.want)
		}
	}
	long := ""
	for i := 0; i < 100; i++ {
		long += "word" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " "
	}
	if !landed(paneInput{Found: true, Text: "…" + long[len(long)-200:]}, long) {
		t.Error("the end of a long paste after … is not taken as landed")
	}
	if landed(paneInput{Found: true, Text: "…" + long[:200]}, long) {
		t.Error("the start of a long paste after … is taken as landed")
	}
}
