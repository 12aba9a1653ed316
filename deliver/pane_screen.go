// The tmux channel's eyes (platform-neutral): what an agent's input holds,
// read from the pane's screen as tmux has it (capture-pane), exactly and
// without a select-all.

package deliver

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// paneInput is an agent's input as the pane's screen shows it.
type paneInput struct {
	// Found: a prompt line is on the screen. Without one (a dialog, a
	// CLI at work that hides its input, a shell running a command) there
	// is no input to paste into.
	Found bool
	// Text is what the input holds, its lines joined by "\n", each line's
	// trailing blanks and a box's border taken out; "" for an empty input
	// (a CLI's placeholder, drawn faint, is no text).
	Text string
	// Rest is everything from the prompt mark to the end of the screen
	// (the input, then whatever a CLI draws below it), with no white
	// space at all: a paste is seen whole when Rest begins with it,
	// however the CLI wrapped its lines, blank lines inside included.
	Rest string
	// Below is where in Rest each prompt line under this one begins (for
	// an input of earlier).
	Below []int
	// earlier returns the inputs that would begin at the prompt lines
	// above this one and could show want (squashed: their first line
	// agrees with its start, or is a "…"), the nearest first: built on
	// demand, for landed alone (a look runs every 10 ms, and each input
	// is a walk down the screen).
	earlier func(want string) []paneInput
	// AtWork: the screen around the input (not the input itself) shows
	// an agent CLI at work on a turn (atWorkRE).
	AtWork bool

	end int // the line after the input's text
}

// atWorkRE is what the agent CLIs show while they work on a turn, and
// only then: how to stop it (Claude Code's and Codex's "esc to
// interrupt", Gemini CLI's and Qwen Code's "esc to cancel"), Qwen Code's
// "Enter to steer", Gemini CLI's hook running. An Enter then makes no
// prompt of its own: Qwen Code steers the text into the turn at work, and
// its UserPromptSubmit hook never sees it (tried here), so no ack comes,
// and the message would be pasted again after the ack timeout and reach
// the model twice.
var atWorkRE = regexp.MustCompile(`(?i)\besc to (?:cancel|interrupt)\b|\bEnter to steer\b|\bExecuting Hook:`)

// atWorkAbove is how many lines above the prompt line a CLI's working
// line may be (Qwen Code: the spinner, a rule; Gemini CLI: the spinner,
// two hints, a rule).
const atWorkAbove = 6

// atWork reports whether the lines around the input at prompt line at
// (and ending before end) show a CLI at work.
func atWork(plain []string, at, end int) bool {
	for i := max(0, at-atWorkAbove); i < len(plain); i++ {
		if (i < at || i >= end) && atWorkRE.MatchString(plain[i]) {
			return true
		}
	}
	return false
}

// promptMarks are the marks promptRE takes for a prompt.
const promptMarks = ">›❯"

// promptRE is a prompt line: an optional box border, then the prompt mark
// of a shell-like program (">", or "›" and "❯" of the agent CLIs), then
// the input's first line.
var promptRE = regexp.MustCompile(`^[\s\x{a0}]*[│┃|▌]?[\s\x{a0}]*[` + promptMarks + `](?:[\s\x{a0}](.*))?$`)

// boxedRE is a prompt line inside a box: a border before the mark. Only
// then is a border taken off the input's lines: without a box a "|" is
// the text's own (a table in markdown).
var boxedRE = regexp.MustCompile(`^[\s\x{a0}]*[│┃|▌]`)

// continuationRE is one more line of a multi-line input: indented (or
// inside a box's border), not a box's bottom or a rule; unboxedRE the same
// where there is no box.
var (
	continuationRE = regexp.MustCompile(`^\s*[│┃|▌]?\s+(\S.*)?$`)
	unboxedRE      = regexp.MustCompile(`^\s+(\S.*)?$`)
)

// readInput finds the input on a screen: the last prompt line and the
// lines that continue it. screen is capture-pane's output with escape
// sequences (-e), so that a faint placeholder can be told from text.
// The prompt lines above it are kept (earlier): a message with a line of
// its own that looks like a prompt (a quote in markdown, "> ...") shows
// that line below the prompt its input begins at.
func readInput(screen string) paneInput {
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	plain := make([]string, len(lines))
	var prompts []int
	for i, l := range lines {
		plain[i] = stripEscapes(l)
		if promptRE.MatchString(plain[i]) {
			prompts = append(prompts, i)
		}
	}
	if len(prompts) == 0 {
		return paneInput{}
	}
	last := prompts[len(prompts)-1]
	sq := &squashedLines{plain: plain}
	in := inputAt(lines, plain, sq, last, nil)
	in.AtWork = atWork(plain, last, in.end)
	in.earlier = func(want string) []paneInput {
		var out []paneInput
		for k := len(prompts) - 2; k >= 0; k-- {
			// Its Rest begins with its first line.
			at := prompts[k]
			first, boxed := promptLine(lines, plain, at)
			first = squash(trimBox(first, boxed))
			if strings.HasPrefix(want, first) || strings.HasPrefix(first, want) || strings.HasPrefix(first, "…") {
				out = append(out, inputAt(lines, plain, sq, at, prompts[k+1:]))
			}
		}
		return out
	}
	return in
}

// squashedLines are a screen's lines as an input's Rest takes them, inside
// a box or not: made once per screen, for every input read on it.
type squashedLines struct {
	plain []string
	made  [2][]string // [0] without a box, [1] in one
}

func (s *squashedLines) get(boxed bool) []string {
	i := 0
	if boxed {
		i = 1
	}
	if s.made[i] == nil {
		out := make([]string, len(s.plain))
		for j, l := range s.plain {
			l = strings.TrimLeftFunc(l, isBlank)
			if boxed {
				l = trimBorder(l, strings.TrimPrefix)
			}
			out[j] = squash(trimBox(l, boxed))
		}
		s.made[i] = out
	}
	return s.made[i]
}

// promptLine reads the prompt line at: the input's first line after the
// mark ("" for a faint placeholder), and whether the line is in a box.
func promptLine(lines, plain []string, at int) (first string, boxed bool) {
	first = promptRE.FindStringSubmatch(plain[at])[1]
	if faintOnly(lines[at], first) {
		first = ""
	}
	return first, boxedRE.MatchString(plain[at])
}

// inputAt is the input that begins at the prompt line at; below are the
// prompt lines under it, whose places in its Rest it notes.
func inputAt(lines, plain []string, sq *squashedLines, at int, below []int) paneInput {
	first, boxed := promptLine(lines, plain, at)
	in := paneInput{Found: true}
	more := unboxedRE
	if boxed {
		more = continuationRE
	}
	var rest strings.Builder
	rest.WriteString(squash(trimBox(first, boxed)))
	squashed := sq.get(boxed)
	for j := at + 1; j < len(plain); j++ {
		// below is in screen order: one walk along it.
		if len(below) > 0 && below[0] == j {
			in.Below = append(in.Below, rest.Len())
			below = below[1:]
		}
		rest.WriteString(squashed[j])
	}
	text := []string{trimBox(first, boxed)}
	for _, l := range plain[at+1:] {
		m := more.FindStringSubmatch(l)
		if m == nil || strings.TrimSpace(l) == "" {
			break
		}
		text = append(text, trimBox(m[1], boxed))
	}
	in.end = at + len(text)
	for len(text) > 0 && text[len(text)-1] == "" {
		text = text[:len(text)-1]
	}
	in.Text, in.Rest = strings.Join(text, "\n"), rest.String()
	return in
}

func isBlank(r rune) bool { return unicode.IsSpace(r) || r == 0xa0 }

// squash takes every white space out of s.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if isBlank(r) {
			return -1
		}
		return r
	}, s)
}

// trimBox takes the trailing blanks off a line, and in a box its right
// border and the blanks before it.
func trimBox(s string, boxed bool) string {
	s = strings.TrimRightFunc(s, isBlank)
	if boxed {
		if t := trimBorder(s, strings.TrimSuffix); t != s {
			s = strings.TrimRightFunc(t, isBlank)
		}
	}
	return strings.TrimLeftFunc(s, func(r rune) bool { return r == 0xa0 })
}

// trimBorder takes one box border off s, with trim (strings.TrimPrefix or
// strings.TrimSuffix).
func trimBorder(s string, trim func(s, border string) string) string {
	for _, b := range []string{"│", "┃", "|", "▌"} {
		if t := trim(s, b); t != s {
			return t
		}
	}
	return s
}

// faintOnly reports whether every visible character of text, as line
// (with escapes) draws it, is faint or grey: a CLI's placeholder in an
// empty input ("Type your message…"), or a suggestion, not text anyone
// typed. The one cell a CLI draws its caret in (reverse video, or a
// background of its own for that cell alone) says nothing: Qwen Code
// draws a suggestion's first letter there.
func faintOnly(line, text string) bool {
	if strings.TrimSpace(text) == "" {
		return false
	}
	type cell struct {
		r            rune
		faint, caret bool
		bg           int // which background run the cell is in
	}
	var cells []cell
	faint, caret, bg := false, false, 0
	for i := 0; i < len(line); {
		if line[i] == 0x1b && i+1 < len(line) && line[i+1] == '[' {
			j := i + 2
			for j < len(line) && (line[j] < 0x40 || line[j] > 0x7e) {
				j++
			}
			if j < len(line) && line[j] == 'm' {
				var c bool
				faint, c = sgr(line[i+2:j], faint, caret)
				if c != caret || c {
					caret = c
					bg++
				}
			}
			i = j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		i += size
		if zeroWidth.Replace(string(r)) == "" {
			continue
		}
		cells = append(cells, cell{r, faint, caret, bg})
	}
	start := len(cells) - utf8.RuneCountInString(text)
	if start < 0 {
		return false
	}
	anyText := false
	for k := start; k < len(cells); k++ {
		c := cells[k]
		if unicode.IsSpace(c.r) || strings.ContainsRune("│┃|", c.r) {
			continue
		}
		alone := (k == 0 || cells[k-1].bg != c.bg) && (k == len(cells)-1 || cells[k+1].bg != c.bg)
		if c.caret && alone {
			continue
		}
		anyText = true
		if !c.faint {
			return false
		}
	}
	return anyText
}

// sgr applies one SGR sequence's parameters to faint and caret. faint:
// on for faint (2), bright black (90) or a grey foreground (38;5;N or
// 38;2;R;G;B: a placeholder's), off for a reset (0), normal intensity
// (22), the default (39) or another foreground. caret: on for reverse
// video (7) or a background colour, off for a reset (0, 27, 49).
func sgr(params string, faint, caret bool) (bool, bool) {
	if params == "" {
		return false, false
	}
	ps := strings.Split(params, ";")
	num := func(i int) int { n, _ := strconv.Atoi(ps[i]); return n }
	for i := 0; i < len(ps); i++ {
		n, err := strconv.Atoi(ps[i])
		if err != nil {
			continue
		}
		// An extended colour (38 foreground, 48 background): 5;N or 2;R;G;B.
		ext := 0
		if (n == 38 || n == 48) && i+2 < len(ps) && ps[i+1] == "5" {
			ext = 2
		} else if (n == 38 || n == 48) && i+4 < len(ps) && ps[i+1] == "2" {
			ext = 4
		}
		switch {
		case n == 0:
			faint, caret = false, false
		case n == 22 || n == 39 || (n >= 30 && n <= 37) || (n >= 91 && n <= 97):
			faint = false
		case n == 2 || n == 90:
			faint = true
		case n == 27 || n == 49:
			caret = false
		case n == 7 || (n >= 40 && n <= 47) || (n >= 100 && n <= 107):
			caret = true
		case n == 38 && ext == 2:
			c := num(i + 2)
			faint = c == 8 || isGrey(xterm256(c))
		case n == 38 && ext == 4:
			faint = isGrey(num(i+2), num(i+3), num(i+4))
		case n == 48 && ext > 0:
			caret = true
		}
		i += ext
	}
	return faint, caret
}

// isGrey: a foreground as dim and as nearly grey as a placeholder's
// (Gemini CLI's 248, Qwen Code's slate 103, Claude Code's 244).
func isGrey(r, g, b int) bool {
	hi, lo := max(r, g, b), min(r, g, b)
	return hi-lo < 48 && hi >= 64 && hi <= 180
}

// xterm256 is the colour of one of the 256: the 6×6×6 cube and the
// greys (the 16 system colours: none is a placeholder's but 8).
func xterm256(c int) (r, g, b int) {
	switch {
	case c >= 232 && c <= 255:
		v := 8 + 10*(c-232)
		return v, v, v
	case c >= 16 && c <= 231:
		level := func(i int) int {
			if i == 0 {
				return 0
			}
			return 55 + 40*i
		}
		c -= 16
		return level(c / 36), level(c / 6 % 6), level(c % 6)
	}
	return 255, 255, 255
}

var escapeRE = regexp.MustCompile(`\x1b(\[[0-9;:?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)`)

// stripEscapes takes out escape sequences and the zero-width characters
// a CLI draws its caret with (Qwen Code: U+200B).
func stripEscapes(s string) string {
	return zeroWidth.Replace(escapeRE.ReplaceAllString(s, ""))
}

var zeroWidth = strings.NewReplacer("\u200b", "", "\ufeff", "", "\u2060", "")

// sameWords reports whether a and b hold the same text with every run of
// white space counted as one space: what a TUI shows of a paste (it wraps
// lines, turns tabs into spaces) against what was pasted.
func sameWords(a, b string) bool { return foldSpace(a) == foldSpace(b) }

func foldSpace(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") }

// pastePlaceholderRE is an agent CLI's stand-in for a long paste in its
// input: Claude Code's "[Pasted text #1 +40 lines]", Qwen Code's and
// Codex's "[Pasted Content 2000 chars]", Gemini CLI's "[Pasted Text: 6
// lines]" and "[Pasted Text: 2052 chars]".
var pastePlaceholderRE = regexp.MustCompile(`^\[Pasted (?:text #\d+(?: \+(\d+) lines)?|Content (\d+) chars|Text: (\d+) (chars|lines))\](?: #\d+)?$`)

// placeholderOf reports whether line is a CLI's placeholder for text: its
// count, where it has one, is text's (characters, or lines; Claude Code
// counts the lines after the first).
func placeholderOf(line, text string) bool {
	m := pastePlaceholderRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return false
	}
	lines := strings.Count(text, "\n") + 1
	chars := utf8.RuneCountInString(text)
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	switch {
	case m[1] != "":
		return n(m[1]) == lines-1 || n(m[1]) == lines
	case m[2] != "":
		return n(m[2]) == chars || n(m[2]) == len(text)
	case m[4] == "lines":
		return n(m[3]) == lines
	case m[4] == "chars":
		return n(m[3]) == chars || n(m[3]) == len(text)
	}
	return true
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// landed reports whether in shows text whole: the input begins with it
// (white space aside), or with a CLI's placeholder for a paste, or, for
// an input too long to show, "…" and the end of text (the end is where a
// paste lands last). What follows the input on the screen (a CLI's
// footer) is not the input's.
//
// The input may also begin at a prompt line above the last one: the
// message's own lines that look like a prompt ("> " quoting in markdown)
// are the ones under it. It shows the message from there, and every
// prompt line under it is within the message (one after it is a later
// prompt: the text above it an older input, already submitted).
func landed(in paneInput, text string) bool { return landedAs(in, text, true) }

// landedAs is landed, with a CLI's placeholder for a paste taken for text
// only if placeholders: a placeholder tells a paste's length at most, and
// another message's paste of the same length (one that showed late, after
// its attempt gave up on it) would pass for this one's.
func landedAs(in paneInput, text string, placeholders bool) bool {
	if !in.Found {
		return false
	}
	want := squash(text)
	if shows(in, want) > 0 || placeholders && placeholderOf(firstLine(in.Text), text) {
		return true
	}
	if in.earlier == nil || !strings.ContainsAny(text, promptMarks) {
		// Without a prompt mark of its own, the message puts no prompt
		// line under the one its input begins at.
		return false
	}
	for _, e := range in.earlier(want) {
		// (Below always holds the last prompt line: it is under e.)
		if n := shows(e, want); n > 0 && e.Below[len(e.Below)-1] < n {
			return true
		}
	}
	return false
}

// minShownTail is how much of a message's end (squashed) an input too
// long to show must show after its "…".
const minShownTail = 40

// shows is how far into in.Rest the message (want, squashed) runs when in
// shows it: whole at the start of Rest, or, in an input too long to show,
// "…" and the message's end (its last minShownTail characters at least,
// blank lines and all); 0 when in does not show it.
func shows(in paneInput, want string) int {
	if strings.HasPrefix(in.Rest, want) {
		return len(want)
	}
	tail, cut := strings.CutPrefix(in.Rest, "…")
	if !cut {
		return 0
	}
	// The longest end of want that the screen shows after the "…".
	for k := 0; len(want)-k >= minShownTail; k++ {
		if strings.HasPrefix(tail, want[k:]) {
			return len("…") + len(want) - k
		}
	}
	return 0
}
