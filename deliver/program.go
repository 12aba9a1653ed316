// What is known of the agent's program (platform-neutral): whether its
// window is a terminal, which agent CLI runs in it, and what each needs —
// the keys that must never reach a terminal, the paste key of each
// terminal, each CLI's undo key and the gap its input wants between a
// paste and the submit.

package deliver

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Program is what runs behind an agent's window, as found from the window
// itself (its class) and the processes under it.
type Program struct {
	// Terminal names the terminal emulator the window belongs to ("xterm",
	// "xfce4-terminal", "conhost", ...), "" when it is not a known one.
	Terminal string
	// CLI is the agent CLI found running in the terminal: CLIClaudeCode,
	// CLICodex, CLIGemini, CLIQwenCode, or "" (none recognised: a shell, an
	// unknown program, or several CLIs under one terminal process).
	CLI string
	// CLIPID is the CLI's process (0: none found).
	CLIPID int
}

// IsTerminal reports whether the window is a terminal emulator.
func (p Program) IsTerminal() bool { return p.Terminal != "" }

// String is how doctor and the journal name it.
func (p Program) String() string {
	switch {
	case p.Terminal == "":
		return "not a terminal"
	case p.CLI == "":
		return p.Terminal + " (no agent CLI recognised in it)"
	}
	return p.CLI + " in " + p.Terminal
}

// The agent CLIs recognised in a terminal.
const (
	CLIClaudeCode = "claude-code"
	CLICodex      = "codex"
	CLIGemini     = "gemini"
	CLIQwenCode   = "qwen-code"
)

// CLIProfile is what one agent CLI needs of a delivery.
type CLIProfile struct {
	// Undo takes a paste back out of the CLI's input; nil: it has no undo
	// that is safe to tap into a terminal (Gemini's and Qwen's undo is
	// ctrl+z, which a terminal program must never get: see Harmful), and a
	// paste that must be taken back is left for a person (held and said).
	Undo []string
	// SubmitGap is the least time between the paste's landing and the
	// submit key. Gemini CLI (and Qwen Code, its fork) treats a paste from
	// a terminal without the kitty keyboard protocol as untrusted and
	// turns an Enter that comes within 40 ms of it into a newline
	// (recentUnsafePasteTime); measured here, an Enter 0–10 ms after the
	// terminal read the paste failed 6/6, 20 ms 1/3, and under load 60 ms
	// was not always enough, nor was 250 ms on a desk loaded by four CLIs
	// (the flag clears only when its React state renders again). The
	// margin is generous, and what it misses SubmitAgain mends: a submit
	// no hook saw is tapped again.
	SubmitGap time.Duration
	// EmptySubmitIgnored: an Enter into the CLI's empty input does
	// nothing (no empty prompt), so a submit whose hook did not come can
	// be tapped again (Deliverer.SubmitAgain).
	EmptySubmitIgnored bool
	// NewlineAfterPaste: the CLI may take an Enter soon after a paste for
	// a newline (Gemini CLI): a submit tapped again takes that newline out
	// first.
	NewlineAfterPaste bool
	// LongPasteGap is the gap after a long paste (over 1000 characters or
	// 10 lines): Qwen Code shows one as "[Pasted Content N chars]" and
	// keeps its text in React state, which its submit reads as of its last
	// render; an Enter before the next render sends the placeholder itself
	// to the model (seen on a loaded desk 400 ms after the paste).
	LongPasteGap time.Duration
}

// longPaste is Qwen Code's rule for a paste it shows as a placeholder.
func longPaste(text []byte) bool {
	return utf8.RuneCount(text) > 1000 || bytes.Count(text, []byte("\n")) >= 10
}

// cliProfiles: what each CLI needs. Claude Code's undo is ctrl+_, the
// byte 0x1f, which terminals send for ctrl+/ as well; Codex has no undo.
//
// An Enter into an empty input: Gemini CLI's submit does nothing without
// text (read in its bundle), and Codex's made no prompt when tapped again
// in the tests; Qwen Code's submits its follow-up suggestion (on by
// default: "followup.accept('enter')"), and Claude Code has prompt
// suggestions too, so neither gets a second tap.
var cliProfiles = map[string]CLIProfile{
	CLIClaudeCode: {Undo: []string{"ctrl", "slash"}, SubmitGap: 50 * time.Millisecond},
	CLICodex:      {SubmitGap: 50 * time.Millisecond, EmptySubmitIgnored: true},
	CLIGemini:     {SubmitGap: 400 * time.Millisecond, EmptySubmitIgnored: true, NewlineAfterPaste: true},
	CLIQwenCode:   {SubmitGap: 400 * time.Millisecond, LongPasteGap: 1500 * time.Millisecond},
}

// unknownTerminalProgram: a terminal whose program is not recognised gets
// no undo and a small gap.
var unknownTerminalProgram = CLIProfile{SubmitGap: 50 * time.Millisecond}

// Profile is what the program needs; ok is false when it is not a
// terminal (a chat window: nothing here applies).
func (p Program) Profile() (CLIProfile, bool) {
	if !p.IsTerminal() {
		return CLIProfile{}, false
	}
	if prof, ok := cliProfiles[p.CLI]; ok {
		return prof, true
	}
	return unknownTerminalProgram, true
}

// Harmful reports whether combo, tapped into a terminal, could interrupt,
// suspend or end the program in it: ctrl+c (SIGINT), ctrl+z (SIGTSTP:
// Claude Code suspends), ctrl+d (end of input), ctrl+\ (SIGQUIT) and
// ctrl+4 (which xterm sends as ctrl+\), with any other modifiers too
// (xterm sends ctrl+shift+c as ctrl+c). Such a combo is never tapped into
// a terminal, whatever the config says.
func Harmful(combo []string) bool {
	if len(combo) < 2 || !slices.Contains(combo[:len(combo)-1], "ctrl") {
		return false
	}
	switch strings.ToLower(combo[len(combo)-1]) {
	case "c", "z", "d", "backslash", "4":
		return true
	}
	return false
}

// terminalPasteKeys: the key each terminal pastes the CLIPBOARD with, as
// its users have it. VTE terminals (GNOME Terminal, Xfce Terminal,
// LXTerminal, Tilix, Terminator, Sakura), Konsole, kitty, Alacritty, st,
// foot and WezTerm paste with ctrl+shift+v; xterm and rxvt paste with
// shift+Insert (xterm reads the CLIPBOARD there with selectToClipboard,
// the PRIMARY selection without it: see README); Windows' console and
// Windows Terminal with ctrl+v; mintty with shift+Insert.
var terminalPasteKeys = map[string][]string{
	"xterm": {"shift", "insert"}, "uxterm": {"shift", "insert"}, "urxvt": {"shift", "insert"},
	"rxvt": {"shift", "insert"}, "mintty": {"shift", "insert"},
	"conhost": {"ctrl", "v"}, "windows-terminal": {"ctrl", "v"},
}

// PasteKey is the key that pastes into the window: the terminal's own,
// else ctrl+v.
func (p Program) PasteKey() []string {
	if !p.IsTerminal() {
		return pasteKey
	}
	if k, ok := terminalPasteKeys[p.Terminal]; ok {
		return k
	}
	return []string{"ctrl", "shift", "v"}
}

// terminalClasses maps a window's class (WM_CLASS class or instance on
// X11, lower-cased; the window class on Windows) to the terminal's name.
var terminalClasses = map[string]string{
	"xterm": "xterm", "uxterm": "uxterm", "urxvt": "urxvt", "rxvt": "rxvt",
	"gnome-terminal": "gnome-terminal", "gnome-terminal-server": "gnome-terminal",
	"xfce4-terminal": "xfce4-terminal", "lxterminal": "lxterminal",
	"mate-terminal": "mate-terminal", "sakura": "sakura", "terminator": "terminator",
	"tilix": "tilix", "com.gexperts.tilix": "tilix", "konsole": "konsole",
	"kitty": "kitty", "alacritty": "alacritty", "st": "st", "st-256color": "st",
	"foot": "foot", "org.wezfurlong.wezterm": "wezterm", "wezterm": "wezterm",
	"qterminal": "qterminal", "terminology": "terminology", "guake": "guake",
	"tilda": "tilda", "kgx": "kgx", "org.gnome.console": "kgx", "ptyxis": "ptyxis",
	"org.gnome.ptyxis": "ptyxis", "com.mitchellh.ghostty": "ghostty", "ghostty": "ghostty",
	"deepin-terminal": "deepin-terminal", "cool-retro-term": "cool-retro-term",
	"eterm": "eterm", "termite": "termite", "yakuake": "yakuake",
	// Windows: the console host, Windows Terminal, mintty (Git Bash,
	// Cygwin), ConEmu.
	"consolewindowclass":             "conhost",
	"cascadia_hosting_window_class":  "windows-terminal",
	"pseudoconsolewindow":            "conhost",
	"mintty":                         "mintty",
	"virtualconsoleclass":            "conemu",
	"windowsterminal.exe":            "windows-terminal",
	"openconsole.exe":                "conhost",
	"conhost.exe":                    "conhost",
	"org.wezfurlong.wezterm.desktop": "wezterm",
}

// terminalOf names the terminal a window of these classes belongs to ("":
// none known).
func terminalOf(classes ...string) string {
	for _, c := range classes {
		if t, ok := terminalClasses[strings.ToLower(c)]; ok {
			return t
		}
	}
	return ""
}

// Process is one process as the process table shows it.
type Process struct {
	PID, PPID int
	// Args is its command line (argv); Name its executable's base name.
	Args []string
	Name string
}

// cliOf recognises an agent CLI from a process's command line: the npm
// package's path (node runs them as scripts: node .../@google/gemini-cli/
// dist/index.js) or the command's own name (claude, codex, gemini, qwen,
// and Codex's native binary, codex-x86_64-unknown-linux-musl and kin).
func cliOf(p Process) string {
	for i, a := range p.Args {
		if i > 2 {
			break // the program is argv[0], or a script right after node
		}
		a = strings.ReplaceAll(a, `\`, "/")
		switch {
		case strings.Contains(a, "@anthropic-ai/claude-code"):
			return CLIClaudeCode
		case strings.Contains(a, "@openai/codex"):
			return CLICodex
		case strings.Contains(a, "@google/gemini-cli"):
			return CLIGemini
		case strings.Contains(a, "@qwen-code/qwen-code"):
			return CLIQwenCode
		}
		base := a[strings.LastIndex(a, "/")+1:]
		base = strings.TrimSuffix(strings.ToLower(base), ".exe")
		switch {
		case base == "claude":
			return CLIClaudeCode
		case base == "codex" || strings.HasPrefix(base, "codex-"):
			return CLICodex
		case base == "gemini":
			return CLIGemini
		case base == "qwen":
			return CLIQwenCode
		}
	}
	return ""
}

// findCLI looks for an agent CLI among the descendants of root in procs.
// One CLI kind found (a wrapper and its child count once) is the answer;
// none, or several kinds (one terminal process serving windows of several
// agents), is "".
func findCLI(procs []Process, root int) (cli string, pid int) {
	children := map[int][]Process{}
	for _, p := range procs {
		if p.PID != root {
			children[p.PPID] = append(children[p.PPID], p)
		}
	}
	found := map[string]int{}
	var walk func(pid, depth int)
	walk = func(pid, depth int) {
		if depth > 16 {
			return
		}
		for _, c := range children[pid] {
			if k := cliOf(c); k != "" {
				if _, seen := found[k]; !seen {
					found[k] = c.PID // the outermost: the wrapper
				}
			}
			walk(c.PID, depth+1)
		}
	}
	walk(root, 0)
	if len(found) != 1 {
		return "", 0
	}
	for k, pid := range found {
		return k, pid
	}
	return "", 0
}

// Inspect finds out what runs behind w: a terminal (by its class, or by
// its process's executable) and the agent CLI in it (by the processes
// under the window's process). It reads the process table once.
func Inspect(w Window) Program {
	var p Program
	procs, err := processes()
	var own *Process
	if err == nil && w.PID > 0 {
		for i := range procs {
			if procs[i].PID == w.PID {
				own = &procs[i]
				break
			}
		}
	}
	name := ""
	if own != nil {
		name = own.Name
	}
	p.Terminal = terminalOf(w.Instance, w.Class, name)
	if p.Terminal == "" || err != nil || w.PID <= 0 {
		return p
	}
	p.CLI, p.CLIPID = findCLI(procs, w.PID)
	return p
}

// Binding is how an agent's window is best recognised: by what lasts.
type Binding struct {
	Window string // a title matcher; "" when the title is no way to find it
	Class  string // a WM_CLASS instance (or class) of its own
	PID    int    // the window's process, where nothing else tells it apart
	// Why says what was chosen and why, for the person.
	Why string
}

// BindingFor chooses how to recognise w among all the desktop's windows:
// a terminal by its WM_CLASS instance when no other window has it (xterm
// -name agent-3, a terminal profile's class), else by its class and
// process (lasting as long as the terminal runs), and only where neither
// tells it apart by its title, which an agent CLI rewrites. A window that
// is no terminal keeps its title, as a chat app's title says which agent
// it is.
func BindingFor(w Window, p Program, all []ProbedWindow) Binding {
	if !p.IsTerminal() {
		return Binding{Window: w.Title, Why: "the window's title"}
	}
	same := func(match func(o ProbedWindow) bool) int {
		n := 0
		for _, o := range all {
			if o.ID != w.ID && match(o) {
				n++
			}
		}
		return n
	}
	inst := w.Instance
	if inst == "" {
		inst = w.Class
	}
	if inst != "" && same(func(o ProbedWindow) bool {
		return strings.EqualFold(o.Instance, inst) || strings.EqualFold(o.Class, inst)
	}) == 0 {
		return Binding{Class: inst, Why: fmt.Sprintf("its class %q, which no other window has (the title is the program's to rewrite)", inst)}
	}
	if w.PID > 0 && same(func(o ProbedWindow) bool { return o.PID == w.PID }) == 0 {
		return Binding{Class: inst, PID: w.PID, Why: fmt.Sprintf("its class %q and its process %d, which lasts as long as this terminal window (for a binding that outlives it, start each agent's terminal with a class of its own, e.g. xterm -name AGENT, and capture again)", inst, w.PID)}
	}
	return Binding{Window: w.Title, Why: fmt.Sprintf("its title %q: its class %q and process %d are shared with other windows (one terminal process serving several windows); %s rewrites titles, so pin the terminal's title in its settings, or give each agent a terminal with a class of its own", w.Title, inst, w.PID, orProgram(p))}
}

func orProgram(p Program) string {
	if p.CLI != "" {
		return p.CLI
	}
	return "an agent CLI"
}
