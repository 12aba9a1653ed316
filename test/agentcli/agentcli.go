//go:build unix

// Package agentcli runs the real agent CLIs (Claude Code, Codex, Gemini
// CLI, Qwen Code) for tests: each in a tmux pane, or in a terminal window
// (xterm or lxterminal) on an X display the caller supplies, with a
// throw-away HOME and work folder, configured to run offline against its
// own mockmodel.Server.
//
// The CLIs come from npm at the versions scripts/agents.sh pins, installed
// into test/agentcli/npm (never committed). A test that finds them, or its
// terminal, missing skips with the reason; `make test` installs them.
//
// Every process is stopped by its pid, its process group or its session,
// never by name (see Agent.Stop).
package agentcli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
	"github.com/agentspool/agentspool/test/mockmodel"
)

// The programs, by the names the tests use.
const (
	ClaudeCode = "claude-code"
	Codex      = "codex"
	Gemini     = "gemini"
	QwenCode   = "qwen-code"
)

// Programs lists every program Start knows.
var Programs = []string{ClaudeCode, Codex, Gemini, QwenCode}

// Versions are the npm packages scripts/agents.sh installs; keep the two in
// step.
var Versions = map[string]string{
	ClaudeCode: "@anthropic-ai/claude-code@2.1.332",
	Codex:      "@openai/codex@0.171.0",
	Gemini:     "@google/gemini-cli@0.61.0",
	QwenCode:   "@qwen-code/qwen-code@0.24.4",
}

// The terminal emulators a window can be.
const (
	XTerm = "xterm"
	// LXTerminal is the VTE one: LXDE's and Raspberry Pi OS's terminal.
	// Started with --no-remote it is a process of its own and needs no
	// session bus, where gnome-terminal needs its D-Bus server and
	// xfce4-terminal its xfconf daemon.
	LXTerminal = "lxterminal"
)

// Terminals lists the emulators StartWindow knows.
var Terminals = []string{XTerm, LXTerminal}

// PasteKeys is the key each terminal pastes the CLIPBOARD with, in
// xdotool's spelling, as its users have it configured:
//   - lxterminal: ctrl+shift+v, its default (written into its config in
//     the throw-away HOME all the same, so a changed default shows).
//   - xterm: shift+Insert with the resource selectToClipboard: true, the
//     usual set-up of xterm users who paste from other programs (xterm's
//     default shift+Insert inserts PRIMARY; the resource makes its SELECT
//     token mean CLIPBOARD). A side effect users live with too: selecting
//     text in that xterm copies it to the CLIPBOARD.
var PasteKeys = map[string]string{
	XTerm:      "shift+Insert",
	LXTerminal: "ctrl+shift+v",
}

// startTimeout bounds a CLI's start, up to its input being ready. Gemini
// CLI and Qwen Code take 5-20 s on a loaded 2-core machine (each relaunches
// node with a bigger heap), more the first time in a HOME.
const startTimeout = 90 * time.Second

// Options configures a start.
type Options struct {
	Program string            // ClaudeCode, Codex, Gemini or QwenCode
	Dir     string            // required: the agent's own folder (t.TempDir()); HOME, the work folder and logs go in it
	Model   *mockmodel.Server // required: the agent's model
	// Hooks installs a prompt-submit and a stop hook (see Agent.HookCalls):
	// Claude Code's and Qwen Code's UserPromptSubmit and Stop, Codex's
	// UserPromptSubmit and Stop (pre-trusted), Gemini CLI's BeforeAgent
	// and AfterAgent.
	Hooks bool
	// HookCommand, if set, runs after the record in every hook call, with
	// the payload on its stdin; its stdout and exit status are the hook's.
	HookCommand string
	// Log receives progress lines (e.g. t.Logf); nil = discard.
	Log func(format string, args ...any)
	// NPMDir holds the CLIs (scripts/agents.sh); default test/agentcli/npm
	// of this source tree.
	NPMDir string

	// BeforeStart, if set, runs once the agent's HOME and the CLI's
	// configuration are written and before the CLI starts: where a test
	// installs hooks as a person would (`agentspool hooks install` with
	// Agent.Env), since the CLIs read their hooks at start.
	BeforeStart func(a *Agent) error

	// The pane's (StartPane) or the terminal window's (StartWindow) size
	// in characters, default 120x40.
	Cols, Rows int

	// For StartWindow: the X display (":N") and its XAUTHORITY (if any),
	// the terminal (XTerm or LXTerminal), and the window's title at start
	// (default "agentcli-<program>"; the CLIs rewrite it).
	Display, XAuthority string
	Terminal            string
	Title               string
}

// Agent is one running CLI.
type Agent struct {
	Program string
	Dir     string // Options.Dir, absolute
	Home    string // the throw-away HOME
	WorkDir string // the work folder the CLI runs in (trusted)
	Model   *mockmodel.Server
	CLIPID  int // the CLI's process (node, or Codex's launcher): its pid stays the CLI's for its life
	// HookLog is where every hook call's payload is appended, one JSON
	// line each; "" without Options.Hooks.
	HookLog string

	// In a terminal window (StartWindow):
	Terminal    string // XTerm or LXTerminal
	TerminalPID int    // the emulator's process
	WindowID    uint32 // its top-level client window (carries _NET_WM_PID)
	PasteKey    string // PasteKeys[Terminal]
	Display     string
	// Typescript is the CLI's output as the terminal got it (script(1)),
	// read by Screen; "" in a pane.
	Typescript string

	// In a tmux pane (StartPane):
	TmuxSocket string // tmux -S this
	Pane       string // the pane id ("%0")

	logf    func(format string, args ...any)
	prog    *program
	cliSID  int
	vtMu    sync.Mutex
	vt      *screen // the window's screen, fed from Typescript
	vtFed   int     // bytes of Typescript fed to vt
	tmuxPID int
	procs   []*desktoptest.Child // what Stop ends, in order
	mu      sync.Mutex
	stopped bool
	stopErr error
}

// Missing returns why program cannot start here (its CLI not installed,
// or tmux missing; with terminal != "", that terminal or the X tools), or
// nil. Tests skip with it.
func Missing(program, terminal, npmDir string) error {
	if npmDir == "" {
		npmDir = DefaultNPMDir()
	}
	p, ok := programs[program]
	if !ok {
		return fmt.Errorf("agentcli: unknown program %q", program)
	}
	var missing []string
	if _, err := os.Stat(filepath.Join(npmDir, "node_modules", ".bin", p.bin)); err != nil {
		missing = append(missing, fmt.Sprintf("%s (%s: run scripts/agents.sh)", p.bin, Versions[program]))
	}
	tools := []string{"node"}
	if terminal == "" {
		tools = append(tools, "tmux")
	} else {
		tools = append(tools, terminal, "script", "xdotool")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("agentcli: missing %s (scripts/deps.sh desktop installs them)", strings.Join(missing, ", "))
}

// DefaultNPMDir is test/agentcli/npm of this source tree.
func DefaultNPMDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "npm")
}

// Env is the environment under which the agent's CLI finds its
// configuration (HOME, and Codex's CODEX_HOME): for running a command,
// such as `agentspool hooks install --user`, as the agent's user.
func (a *Agent) Env() []string {
	env := []string{"HOME=" + a.Home}
	if a.Program == Codex {
		env = append(env, "CODEX_HOME="+filepath.Join(a.Home, ".codex"))
	}
	return env
}

// Prompts returns the prompts the agent's model received, one per main
// turn.
func (a *Agent) Prompts() []string { return a.Model.Prompts() }

// pastedContent is Claude Code's wrapper of a long paste, in what its
// model and its hook receive.
var pastedContent = regexp.MustCompile(`(?s)<pasted_content id="[^"]*">\n?(.*?)\n?</pasted_content id="[^"]*">`)

// AsMessage is a prompt as the message it carries: Claude Code's wrapper
// of a long paste taken off, white space folded (a TUI's input keeps a
// message's words, not its tabs and blank lines byte for byte).
func AsMessage(prompt string) string { return normalize(pastedContent.ReplaceAllString(prompt, "$1")) }

func (o *Options) check() error {
	if _, ok := programs[o.Program]; !ok {
		return fmt.Errorf("agentcli: unknown program %q (want one of %s)", o.Program, strings.Join(Programs, ", "))
	}
	if o.Dir == "" || o.Model == nil {
		return errors.New("agentcli: Options.Dir and Options.Model are required")
	}
	if o.NPMDir == "" {
		o.NPMDir = DefaultNPMDir()
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return nil
}

// waitFor is desktoptest.WaitFor 50 ms apart: a cond here runs tmux or
// reads a screen.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	if err := desktoptest.WaitFor(timeout, 50*time.Millisecond, what, cond); err != nil {
		return fmt.Errorf("agentcli: %w", err)
	}
	return nil
}
