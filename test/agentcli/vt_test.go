//go:build unix

package agentcli

import (
	"strings"
	"testing"
)

// The screen model must see text the way the CLIs draw it: typed
// characters echoed one by one at cursor positions (Claude Code, Codex),
// lines erased and redrawn (Ink), the alternate screen, wide characters.
func TestScreen(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // lines, trailing spaces cut
	}{
		{"plain", "hello\r\nworld", []string{"hello", "world"}},
		{"echo at positions", "\x1b[2;3H> \x1b[2;5Ha\x1b[2;6Hb\x1b[1Cc", []string{"", "  > ab c"}},
		{"erase and redraw", "first line\r\x1b[2Ksecond\x1b[K", []string{"second"}},
		{"cut sequence", "ab\x1b[", []string{"ab"}},
		{"wrap", strings.Repeat("x", 10) + "yz", []string{"xxxxxxxxxx", "yz"}},
		{"scroll", "1\r\n2\r\n3\r\n4\r\n5\r\n6", []string{"2", "3", "4", "5", "6"}},
		{"alt screen", "main\x1b[?1049halt\x1b[?1049l", []string{"main"}},
		{"wide", "日本x", []string{"日本x"}},
		{"osc title", "\x1b]0;title\x07text", []string{"text"}},
		{"delete chars", "abcdef\x1b[1;2H\x1b[2P", []string{"adef"}},
		{"insert lines", "a\r\nb\x1b[1;1H\x1b[L", []string{"", "a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScreen(10, 5)
			// Feed byte by byte too: a read can cut anything.
			for _, chunked := range []bool{false, true} {
				s = newScreen(10, 5)
				if chunked {
					for i := range len(tc.in) {
						s.Write([]byte{tc.in[i]})
					}
				} else {
					s.Write([]byte(tc.in))
				}
				got := strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
				for len(got) > len(tc.want) && got[len(got)-1] == "" {
					got = got[:len(got)-1]
				}
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Errorf("chunked=%v: screen %q, want %q", chunked, got, tc.want)
				}
			}
		})
	}
}
