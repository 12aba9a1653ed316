//go:build linux

// Command paneagent is a stand-in agent program for tmux pane tests: a
// one-input prompt in the terminal, with the hazards the real agent CLIs
// have, each switched on by a flag, and a record of what it submitted.
//
//	paneagent -log FILE [-newline-within 40ms] [-busy 2s] [-no-bracketed]
//
// It draws a status line, the prompts it submitted (one line each), and its
// input as "> " and the input's text (a newline in the input starts a new
// line, "  " indented). It asks the terminal for bracketed paste unless
// -no-bracketed. Keys: printable text is inserted; Enter (CR) submits (a
// LF, ctrl+j, inserts a newline); Backspace deletes; ctrl+u clears the
// input (this program's own undo). Inside a bracketed paste every CR or LF
// is a newline. Each submit appends one JSON line {"prompt": ..., "at":
// unix ms} to -log.
//
// -placeholder-over N: a paste of more than N characters into an empty
// input shows as "[Pasted Content N chars]" until it is submitted (its
// text) or a backspace takes it out whole, as Qwen Code shows one.
// -newline-within D is Gemini CLI's rule: an Enter that comes within D of
// the end of a paste inserts a newline instead of submitting.
// -busy D: after each submit the program works for D, its status line
// "working (esc to interrupt)" as the agent CLIs say it, and an Enter
// meanwhile does nothing (its input stays, as a CLI's queued input does
// until the turn ends). -work-after-paste D: the same for D after each
// paste ends, as a CLI that begins a turn of its own between a paste and
// its submit.
//
// ctrl+c, ctrl+z and ctrl+\ are what a terminal program must never get
// from agentspool: each is recorded in the log ({"harmed": "ctrl+c"}) and
// the program exits (ctrl+c, ctrl+\) or stops itself (ctrl+z), as an
// agent CLI would.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

func main() {
	logPath := flag.String("log", "", "append each submit here (JSON lines)")
	newlineWithin := flag.Duration("newline-within", 0, "an Enter this soon after a paste inserts a newline (Gemini CLI's rule)")
	busy := flag.Duration("busy", 0, "after a submit, work this long; an Enter meanwhile does nothing")
	workAfterPaste := flag.Duration("work-after-paste", 0, "after each paste, work this long; an Enter meanwhile does nothing")
	noBracketed := flag.Bool("no-bracketed", false, "do not ask the terminal for bracketed paste")
	slow := flag.Duration("slow-first-paste", 0, "show the first paste only this long after it came (a CLI busy rendering)")
	cut := flag.Int("cut-first-paste", 0, "keep only this many characters of the first paste (a paste that did not land whole)")
	placeholderOver := flag.Int("placeholder-over", 0, "show a paste of more than this many characters into an empty input as \"[Pasted Content N chars]\" (Qwen Code's placeholder; 0: never)")
	ackCmd := flag.String("ack", "", "run this command with the message's id after each submit that holds an envelope, as an agent's hook acks")
	flag.Parse()
	if *logPath == "" {
		fmt.Fprintln(os.Stderr, "paneagent: -log is required")
		os.Exit(2)
	}
	logf, err := os.OpenFile(*logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paneagent:", err)
		os.Exit(1)
	}
	old, err := unix.IoctlGetTermios(0, unix.TCGETS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paneagent: not a terminal:", err)
		os.Exit(1)
	}
	raw := *old
	raw.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Iflag &^= unix.ICRNL | unix.IXON | unix.INLCR
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(0, unix.TCSETS, &raw); err != nil {
		fmt.Fprintln(os.Stderr, "paneagent:", err)
		os.Exit(1)
	}
	a := &agent{log: logf, newlineWithin: *newlineWithin, busy: *busy, workAfterPaste: *workAfterPaste, cut: *cut, placeholderOver: *placeholderOver, ackCmd: strings.Fields(*ackCmd)}
	restore := func() {
		os.Stdout.WriteString("\x1b[?2004l")
		unix.IoctlSetTermios(0, unix.TCSETS, old)
	}
	defer restore()
	if !*noBracketed {
		os.Stdout.WriteString("\x1b[?2004h")
	}
	a.draw()
	buf := make([]byte, 4096)
	var pending []byte
	for {
		n, err := os.Stdin.Read(buf)
		if n > 0 && *slow > 0 && strings.Contains(string(buf[:n]), pasteStart) {
			time.Sleep(*slow)
			*slow = 0
		}
		if n > 0 {
			pending = a.feed(append(pending, buf[:n]...))
			if a.exit {
				restore()
				os.Exit(130)
			}
			a.draw()
		}
		if err != nil {
			return
		}
	}
}

// The most of a long input shown.
const showRunes, showLines = 400, 6

var envelopeRE = regexp.MustCompile(`^\[agentspool id=(\S+) `)

type agent struct {
	log           *os.File
	newlineWithin time.Duration
	busy          time.Duration
	// workAfterPaste: -work-after-paste.
	workAfterPaste time.Duration

	input     []rune
	submitted []string
	inPaste   bool
	pasteEnd  time.Time
	busyUntil time.Time
	exit      bool
	// cut: the first paste keeps this many characters (0: all).
	cut, pasted, pastes int
	ackCmd              []string
	// placeholderOver: -placeholder-over. placeholder: the input is one
	// such paste, shown as its placeholder; before: the input's length
	// when the paste began.
	placeholderOver, before int
	placeholder             bool
}

const (
	pasteStart = "\x1b[200~"
	pasteStop  = "\x1b[201~"
)

// feed handles the bytes read and returns what is left of an incomplete
// sequence at the end.
func (a *agent) feed(b []byte) []byte {
	for len(b) > 0 {
		s := string(b)
		switch {
		case strings.HasPrefix(s, pasteStart):
			a.inPaste = true
			a.pastes++
			a.pasted = 0
			a.before = len(a.input)
			b = b[len(pasteStart):]
			continue
		case strings.HasPrefix(s, pasteStop):
			a.inPaste = false
			a.pasteEnd = time.Now()
			if a.placeholderOver > 0 && a.before == 0 && a.pasted > a.placeholderOver {
				a.placeholder = true
			}
			if a.workAfterPaste > 0 {
				a.work(a.workAfterPaste)
			}
			b = b[len(pasteStop):]
			continue
		case b[0] == 0x1b && len(b) < len(pasteStart) && (strings.HasPrefix(pasteStart, s) || strings.HasPrefix(pasteStop, s)):
			return b // the rest of the sequence is on its way
		case b[0] == 0x1b:
			// Another escape sequence (an arrow key): skipped whole.
			i := 1
			if len(b) > 1 && b[1] == '[' {
				i = 2
				for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
					i++
				}
				i++
			}
			b = b[min(i, len(b)):]
			continue
		}
		c := b[0]
		switch {
		case a.inPaste && a.cut > 0 && a.pastes == 1 && a.pasted >= a.cut:
			a.pasted++ // the rest of the first paste is lost
		case a.inPaste && (c == '\r' || c == '\n'):
			a.input = append(a.input, '\n')
			a.pasted++
		case c == '\r':
			a.enter()
		case c == '\n':
			a.input = append(a.input, '\n')
		case c == 0x7f || c == 0x08:
			if a.placeholder {
				// A placeholder goes whole, with one backspace.
				a.input, a.placeholder = a.input[:0], false
			} else if len(a.input) > 0 {
				a.input = a.input[:len(a.input)-1]
			}
		case c == 0x15: // ctrl+u
			a.input = a.input[:0]
		case c == 0x03, c == 0x1c: // ctrl+c, ctrl+\
			a.record(map[string]any{"harmed": map[byte]string{0x03: "ctrl+c", 0x1c: "ctrl+\\"}[c]})
			a.exit = true
			return nil
		case c == 0x1a: // ctrl+z
			a.record(map[string]any{"harmed": "ctrl+z"})
			syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		case c == '\t':
			a.input = append(a.input, '\t')
		case c < 0x20:
			// Other control keys do nothing.
		default:
			r, size := utf8.DecodeRune(b)
			if r == utf8.RuneError && size <= 1 && !utf8.FullRune(b) {
				return b
			}
			if a.inPaste && a.cut > 0 && a.pastes == 1 && a.pasted >= a.cut {
				b = b[size:]
				continue
			}
			if a.inPaste {
				a.pasted++
			} else {
				a.placeholder = false // typed after it: the text shows
			}
			a.input = append(a.input, r)
			b = b[size:]
			continue
		}
		b = b[1:]
	}
	return nil
}

func (a *agent) enter() {
	now := time.Now()
	switch {
	case a.newlineWithin > 0 && !a.pasteEnd.IsZero() && now.Sub(a.pasteEnd) < a.newlineWithin:
		a.input = append(a.input, '\n')
		a.record(map[string]any{"newline_for_enter": now.Sub(a.pasteEnd).String()})
	case now.Before(a.busyUntil):
		a.record(map[string]any{"enter_while_busy": true})
	case len(a.input) == 0:
	default:
		p := string(a.input)
		a.input, a.placeholder = a.input[:0], false
		a.submitted = append(a.submitted, p)
		a.record(map[string]any{"prompt": p})
		if m := envelopeRE.FindStringSubmatch(p); m != nil && len(a.ackCmd) > 0 {
			cmd := exec.Command(a.ackCmd[0], append(a.ackCmd[1:], m[1])...)
			if out, err := cmd.CombinedOutput(); err != nil {
				a.record(map[string]any{"ack_failed": fmt.Sprintf("%v: %s", err, out)})
			}
		}
		if a.busy > 0 {
			a.work(a.busy)
		}
	}
}

// work begins a turn of d: the status line says so until it ends.
func (a *agent) work(d time.Duration) {
	a.busyUntil = time.Now().Add(d)
	time.AfterFunc(d+10*time.Millisecond, func() { os.Stdout.WriteString("\x1b[1;1H\x1b[2Kpaneagent: ready") })
}

func (a *agent) record(v map[string]any) {
	v["at"] = time.Now().UnixMilli()
	line, _ := json.Marshal(v)
	a.log.Write(append(line, '\n'))
}

// draw repaints the screen: status, the submitted prompts (their first
// line), the input.
func (a *agent) draw() {
	var sb strings.Builder
	sb.WriteString("\x1b[H\x1b[2J")
	status := "ready"
	if time.Now().Before(a.busyUntil) {
		status = "working (esc to interrupt)"
	}
	sb.WriteString("paneagent: " + status + "\r\n")
	for _, p := range a.submitted[max(0, len(a.submitted)-5):] {
		first, _, _ := strings.Cut(p, "\n")
		sb.WriteString("sent: " + first + "\r\n")
	}
	// A long input shows its end only, after "…", as a CLI's input box
	// scrolls: the prompt stays on the screen.
	shown := string(a.input)
	if a.placeholder {
		shown = fmt.Sprintf("[Pasted Content %d chars]", len(a.input))
	} else if n := len(a.input); n > showRunes || strings.Count(shown, "\n") >= showLines {
		tail := a.input[max(0, n-showRunes):]
		ls := strings.Split(string(tail), "\n")
		shown = "…" + strings.Join(ls[max(0, len(ls)-showLines):], "\n")
	}
	lines := strings.Split(shown, "\n")
	for i, l := range lines {
		if i == 0 {
			sb.WriteString("> " + l)
		} else {
			sb.WriteString("\r\n  " + l)
		}
	}
	os.Stdout.WriteString(sb.String())
}
