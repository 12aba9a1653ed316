//go:build unix

package agentcli

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// screen is a small VT100/xterm screen: enough of one to know what text a
// window shows from the bytes its terminal got (the typescript), for the
// CLIs' TUIs, which draw by moving the cursor and rewriting cells (Claude
// Code and Codex echo each typed character that way). Colours and
// attributes are dropped; only the characters in the cells are kept.
type screen struct {
	rows, cols int
	main, alt  [][]rune
	cells      [][]rune // main or alt
	row, col   int
	wrapNext   bool // the last column was written: the next character wraps
	top, bot   int  // scroll region, inclusive
	saveRow    int
	saveCol    int
	pending    []byte // an escape sequence or UTF-8 character cut by the read
}

func newScreen(cols, rows int) *screen {
	s := &screen{rows: rows, cols: cols}
	s.main, s.alt = s.blank(), s.blank()
	s.cells = s.main
	s.bot = rows - 1
	return s
}

func (s *screen) blank() [][]rune {
	g := make([][]rune, s.rows)
	for i := range g {
		g[i] = blankLine(s.cols)
	}
	return g
}

func blankLine(n int) []rune { return []rune(strings.Repeat(" ", n)) }

// String is the screen's text, one line per row, trailing spaces cut.
func (s *screen) String() string {
	var b strings.Builder
	for _, line := range s.cells {
		b.WriteString(strings.TrimRight(strings.ReplaceAll(string(line), "\x00", ""), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// Write feeds the terminal's input.
func (s *screen) Write(p []byte) {
	data := append(s.pending, p...)
	s.pending = nil
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == 0x1b:
			n := s.escape(data[i:])
			if n == 0 { // incomplete: wait for more
				s.pending = append([]byte(nil), data[i:]...)
				return
			}
			i += n
		case c < 0x20 || c == 0x7f:
			s.control(c)
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 && !utf8.FullRune(data[i:]) {
				s.pending = append([]byte(nil), data[i:]...)
				return
			}
			s.print(r)
			i += n
		}
	}
}

func (s *screen) control(c byte) {
	switch c {
	case '\r':
		s.col, s.wrapNext = 0, false
	case '\n', '\v', '\f':
		s.lineFeed()
	case '\b':
		if s.col > 0 {
			s.col--
		}
		s.wrapNext = false
	case '\t':
		s.col = min((s.col/8+1)*8, s.cols-1)
	}
}

func (s *screen) lineFeed() {
	s.wrapNext = false
	if s.row == s.bot {
		s.scrollUp(1)
		return
	}
	if s.row < s.rows-1 {
		s.row++
	}
}

func (s *screen) scrollUp(n int) {
	for range n {
		copy(s.cells[s.top:s.bot], s.cells[s.top+1:s.bot+1])
		s.cells[s.bot] = blankLine(s.cols)
	}
}

func (s *screen) scrollDown(n int) {
	for range n {
		copy(s.cells[s.top+1:s.bot+1], s.cells[s.top:s.bot])
		s.cells[s.top] = blankLine(s.cols)
	}
}

func (s *screen) print(r rune) {
	w := runeWidth(r)
	if w == 0 {
		return
	}
	if s.wrapNext || s.col+w > s.cols {
		s.col = 0
		s.lineFeed()
	}
	s.cells[s.row][s.col] = r
	if w == 2 && s.col+1 < s.cols {
		s.cells[s.row][s.col+1] = 0 // the right half of a wide character
	}
	s.col += w
	if s.col >= s.cols {
		s.col, s.wrapNext = s.cols-1, true
	}
}

// escape handles the sequence at the start of b and returns its length,
// or 0 if b ends before the sequence does.
func (s *screen) escape(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '[':
		for i := 2; i < len(b); i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				s.csi(string(b[2:i]), b[i])
				return i + 1
			}
		}
		return 0
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: up to BEL or ST
		for i := 2; i < len(b); i++ {
			if b[i] == 0x07 && b[1] == ']' {
				return i + 1
			}
			if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\' {
				return i + 2
			}
		}
		return 0
	case '(', ')', '*', '+', '#', '%', ' ':
		if len(b) < 3 {
			return 0
		}
		return 3
	case '7':
		s.saveRow, s.saveCol = s.row, s.col
	case '8':
		s.row, s.col, s.wrapNext = s.saveRow, s.saveCol, false
	case 'D':
		s.lineFeed()
	case 'E':
		s.col = 0
		s.lineFeed()
	case 'M':
		if s.row == s.top {
			s.scrollDown(1)
		} else if s.row > 0 {
			s.row--
		}
	case 'c':
		*s = *newScreen(s.cols, s.rows)
	}
	return 2
}

func (s *screen) csi(params string, final byte) {
	private := strings.HasPrefix(params, "?") || strings.HasPrefix(params, ">") || strings.HasPrefix(params, "<") || strings.HasPrefix(params, "=")
	if private {
		if final == 'h' || final == 'l' {
			for _, p := range strings.Split(params[1:], ";") {
				if p == "1049" || p == "1047" || p == "47" {
					s.altScreen(final == 'h')
				}
			}
		}
		return
	}
	var args []int
	for _, p := range strings.Split(params, ";") {
		p, _, _ = strings.Cut(p, ":")
		n, _ := strconv.Atoi(p)
		args = append(args, n)
	}
	arg := func(i, def int) int {
		if i < len(args) && args[i] > 0 {
			return args[i]
		}
		return def
	}
	clampRow := func(r int) int { return max(0, min(r, s.rows-1)) }
	clampCol := func(c int) int { return max(0, min(c, s.cols-1)) }
	s.wrapNext = false
	switch final {
	case 'A':
		s.row = max(s.row-arg(0, 1), min(s.top, s.row))
	case 'B', 'e':
		s.row = min(s.row+arg(0, 1), max(s.bot, s.row))
	case 'C', 'a':
		s.col = clampCol(s.col + arg(0, 1))
	case 'D':
		s.col = clampCol(s.col - arg(0, 1))
	case 'E':
		s.row, s.col = clampRow(s.row+arg(0, 1)), 0
	case 'F':
		s.row, s.col = clampRow(s.row-arg(0, 1)), 0
	case 'G', '`':
		s.col = clampCol(arg(0, 1) - 1)
	case 'd':
		s.row = clampRow(arg(0, 1) - 1)
	case 'H', 'f':
		s.row, s.col = clampRow(arg(0, 1)-1), clampCol(arg(1, 1)-1)
	case 'J':
		switch arg(0, 0) {
		case 0:
			s.eraseLine(s.row, s.col, s.cols)
			for r := s.row + 1; r < s.rows; r++ {
				s.cells[r] = blankLine(s.cols)
			}
		case 1:
			for r := 0; r < s.row; r++ {
				s.cells[r] = blankLine(s.cols)
			}
			s.eraseLine(s.row, 0, s.col+1)
		case 2, 3:
			for r := range s.cells {
				s.cells[r] = blankLine(s.cols)
			}
		}
	case 'K':
		switch arg(0, 0) {
		case 0:
			s.eraseLine(s.row, s.col, s.cols)
		case 1:
			s.eraseLine(s.row, 0, s.col+1)
		case 2:
			s.eraseLine(s.row, 0, s.cols)
		}
	case 'X':
		s.eraseLine(s.row, s.col, min(s.cols, s.col+arg(0, 1)))
	case 'P':
		n, line := min(arg(0, 1), s.cols-s.col), s.cells[s.row]
		copy(line[s.col:], line[s.col+n:])
		s.eraseLine(s.row, s.cols-n, s.cols)
	case '@':
		n, line := min(arg(0, 1), s.cols-s.col), s.cells[s.row]
		copy(line[s.col+n:], line[s.col:s.cols-n])
		s.eraseLine(s.row, s.col, s.col+n)
	case 'L', 'M':
		if s.row < s.top || s.row > s.bot {
			return
		}
		top := s.top
		s.top = s.row
		if final == 'L' {
			s.scrollDown(min(arg(0, 1), s.bot-s.row+1))
		} else {
			s.scrollUp(min(arg(0, 1), s.bot-s.row+1))
		}
		s.top = top
	case 'S':
		s.scrollUp(min(arg(0, 1), s.bot-s.top+1))
	case 'T':
		s.scrollDown(min(arg(0, 1), s.bot-s.top+1))
	case 'r':
		top, bot := arg(0, 1)-1, arg(1, s.rows)-1
		if top < bot && bot < s.rows {
			s.top, s.bot = top, bot
			s.row, s.col = 0, 0
		}
	case 's':
		s.saveRow, s.saveCol = s.row, s.col
	case 'u':
		s.row, s.col = s.saveRow, s.saveCol
	}
}

func (s *screen) eraseLine(row, from, to int) {
	for c := max(0, from); c < min(to, s.cols); c++ {
		s.cells[row][c] = ' '
	}
}

func (s *screen) altScreen(on bool) {
	if on {
		s.alt = s.blank()
		s.cells = s.alt
	} else {
		s.cells = s.main
	}
}

// runeWidth is the cells r takes: 0 for combining marks and zero-width
// characters, 2 for East Asian wide ones and emoji, else 1 (as wcwidth
// says for the characters the CLIs and the tests use).
func runeWidth(r rune) int {
	switch {
	case r >= 0x300 && r <= 0x36f, r >= 0x200b && r <= 0x200f, r >= 0xfe00 && r <= 0xfe0f, r == 0x2060, r == 0xfeff:
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf && r != 0x303f, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1faff, r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}
