// The tmux channel's eyes (platform-neutral): what an agent's input holds,
// read from the pane's screen as tmux has it (capture-pane), exactly and
// without a select-all.

package deliver

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
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
}

// promptRE is a prompt line: an optional box border, then the prompt mark
// of a shell-like program (">", or "›" and "❯" of the agent CLIs), then
// the input's first line.
var promptRE = regexp.MustCompile(`^\s*[│┃|▌]?\s*[>›❯](?:\s(.*))?$`)

// continuationRE is one more line of a multi-line input: indented (or
// inside a box's border), not a box's bottom or a rule.
var continuationRE = regexp.MustCompile(`^\s*[│┃|▌]?\s+(\S.*)?$`)

// readInput finds the input on a screen: the last prompt line and the
// lines that continue it. screen is capture-pane's output with escape
// sequences (-e), so that a faint placeholder can be told from text.
func readInput(screen string) paneInput {
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	plain := make([]string, len(lines))
	for i, l := range lines {
		plain[i] = stripEscapes(l)
	}
	at := -1
	for i := len(plain) - 1; i >= 0; i-- {
		if promptRE.MatchString(plain[i]) {
			at = i
			break
		}
	}
	if at < 0 {
		return paneInput{}
	}
	first := promptRE.FindStringSubmatch(plain[at])[1]
	if faintOnly(lines[at], first) {
		first = ""
	}
	text := []string{trimBox(first)}
	for _, l := range plain[at+1:] {
		m := continuationRE.FindStringSubmatch(l)
		if m == nil || strings.TrimSpace(l) == "" {
			break
		}
		text = append(text, trimBox(m[1]))
	}
	for len(text) > 0 && text[len(text)-1] == "" {
		text = text[:len(text)-1]
	}
	return paneInput{Found: true, Text: strings.Join(text, "\n")}
}

// trimBox takes a box's right border and the blanks before it off a line.
func trimBox(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	if t := strings.TrimRight(s, "│┃|"); t != s {
		s = strings.TrimRightFunc(t, unicode.IsSpace)
	}
	return s
}

// faintOnly reports whether every visible character of text, as line
// (with escapes) draws it, is faint or grey: a CLI's placeholder in an
// empty input ("Type your message…"), not text anyone typed.
func faintOnly(line, text string) bool {
	if strings.TrimSpace(text) == "" {
		return false
	}
	faint, seen, anyText := false, 0, false
	want := []rune(stripEscapes(line))
	start := len(want) - len([]rune(text))
	i := 0
	for i < len(line) {
		if line[i] == 0x1b && i+1 < len(line) && line[i+1] == '[' {
			j := i + 2
			for j < len(line) && (line[j] < 0x40 || line[j] > 0x7e) {
				j++
			}
			if j < len(line) && line[j] == 'm' {
				faint = sgrFaint(line[i+2:j], faint)
			}
			i = j + 1
			continue
		}
		r, size := []rune(line[i:])[0], len(string([]rune(line[i:])[0]))
		if seen >= start && !unicode.IsSpace(r) && !strings.ContainsRune("│┃|", r) {
			anyText = true
			if !faint {
				return false
			}
		}
		seen++
		i += size
	}
	return anyText
}

// sgrFaint applies one SGR sequence's parameters to faint: on for faint
// (2), bright black (90) or a grey of the 256 colours (38;5;237–250), off
// for a reset (0), normal intensity (22) or another foreground.
func sgrFaint(params string, faint bool) bool {
	ps := strings.Split(params, ";")
	if params == "" {
		return false
	}
	for i := 0; i < len(ps); i++ {
		n, err := strconv.Atoi(ps[i])
		if err != nil {
			continue
		}
		switch {
		case n == 0 || n == 22 || n == 39:
			faint = false
		case n == 2 || n == 90:
			faint = true
		case (n >= 30 && n <= 37) || (n >= 91 && n <= 97):
			faint = false
		case n == 38 && i+2 < len(ps) && ps[i+1] == "5":
			c, _ := strconv.Atoi(ps[i+2])
			faint = c >= 237 && c <= 250 || c == 8
			i += 2
		case n == 38 && i+4 < len(ps) && ps[i+1] == "2":
			r, _ := strconv.Atoi(ps[i+2])
			g, _ := strconv.Atoi(ps[i+3])
			b, _ := strconv.Atoi(ps[i+4])
			faint = isGrey(r, g, b)
			i += 4
		case n == 48 && i+2 < len(ps) && ps[i+1] == "5":
			i += 2
		case n == 48 && i+4 < len(ps) && ps[i+1] == "2":
			i += 4
		}
	}
	return faint
}

// isGrey: a truecolour foreground as dim as a placeholder's grey.
func isGrey(r, g, b int) bool {
	hi, lo := max(r, g, b), min(r, g, b)
	return hi-lo < 24 && hi >= 64 && hi <= 176
}

var escapeRE = regexp.MustCompile(`\x1b(\[[0-9;:?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)`)

func stripEscapes(s string) string { return escapeRE.ReplaceAllString(s, "") }

// sameWords reports whether a and b hold the same text with every run of
// white space counted as one space: what a TUI shows of a paste (it wraps
// lines, turns tabs into spaces) against what was pasted.
func sameWords(a, b string) bool { return foldSpace(a) == foldSpace(b) }

func foldSpace(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") }

// pastePlaceholderRE is an agent CLI's stand-in for a long paste in its
// input: Claude Code's "[Pasted text #1 +40 lines]", Qwen Code's and
// Codex's "[Pasted Content 2000 chars]".
var pastePlaceholderRE = regexp.MustCompile(`^\[Pasted (?:text #\d+(?: \+\d+ lines)?|Content \d+ chars)\]$`)

// landed reports whether in shows text whole: the same words, a CLI's
// placeholder for it alone, or, for an input too long to show, "…" and
// the end of text (the end is where a paste lands last).
func landed(in paneInput, text string) bool {
	if !in.Found {
		return false
	}
	if sameWords(in.Text, text) || pastePlaceholderRE.MatchString(strings.TrimSpace(in.Text)) {
		return true
	}
	tail, cut := strings.CutPrefix(in.Text, "…")
	shown := foldSpace(tail)
	return cut && len(shown) >= 40 && strings.HasSuffix(foldSpace(text), shown)
}
