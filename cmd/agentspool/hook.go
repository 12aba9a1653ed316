package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

// hookMaxInput bounds what `hook` reads from stdin: a prompt with a long
// message is some hundred KiB; more is not a hook payload.
const hookMaxInput = 1 << 20

// hookLogName is the hook's log file in the spool root. The hook runs inside
// the agent's tool, whose stderr nobody reads (Claude Code shows it only in
// verbose mode, Cursor in its hooks output panel), so it logs here.
const hookLogName = "hooks.log"

// hookLogMax is the size at which hooks.log is moved to hooks.log.old.
const hookLogMax = 4 << 20

var hookCommand = &command{
	name:    "hook",
	order:   45,
	summary: "called by an agent tool's hooks: ack what the agent was given, and mark it busy or ready",
	usage:   "hook --agent AGENT [--for TOOL] EVENT",
	help: `Not for people: the agent's tool runs it from its hooks (installed by
"agentspool hooks install"). EVENT is the tool's event name:

  beforeSubmitPrompt, stop     Cursor (.cursor/hooks.json); answers on stdout
                               {"continue": true} and {} as Cursor expects
  UserPromptSubmit, Stop       Claude Code (settings.json); prints nothing,
                               exit code 0
  --for codex UserPromptSubmit, Stop
                               Codex (hooks.json); prints nothing, exit 0
  BeforeAgent, AfterAgent      Gemini CLI (settings.json); answers {}
  --for qwen-code UserPromptSubmit, Stop
                               Qwen Code (settings.json); answers {}

It reads the hook's JSON from stdin (at most 1 MiB, for at most --timeout).
On a submitted prompt it finds every agentspool envelope line in the prompt
and, for each message of AGENT's (to=AGENT, and the daemon pasted it at
least once: wherever it is now, back in new/ after an ack timeout too),
writes the ack <inbox>/<id>.ack, noting "submit: alone" when the prompt
held the message and nothing else (in Claude Code's <pasted_content> block
too), or "submit: merged" when it held other text too (a person's draft,
another message). It then marks the
agent busy; on the end of a turn, ready. The state is the file
<spool>/agents/AGENT.state, which the daemon reads for deliver_when: ready.

It never blocks the agent and never fails it: whatever goes wrong (no
config, bad JSON, a slow disk) it answers the tool so the prompt goes on,
exits 0, and logs what happened to <spool>/hooks.log (to stderr when the
spool is not known).

Example:
  agentspool --config ~/coords.yaml hook --agent Agent-3 beforeSubmitPrompt < payload.json`,
	run: runHook,
}

func runHook(e *env, args []string) error {
	fs := e.flagSet()
	agent := fs.String("agent", "", "the `AGENT` whose tool runs the hook (required)")
	forTool := fs.String("for", "", "the `TOOL` whose event this is, where the event's name does not say: codex, qwen-code")
	timeout := fs.Duration("timeout", 2*time.Second, "at most this long for the whole hook, reading stdin included")
	rest, perr := e.parse(fs, args, 1, 1)
	if errors.Is(perr, errHelpShown) {
		return perr
	}
	// Whatever the arguments, the tool gets its answer: a broken hook line
	// must not stop a person's prompt (for Claude Code, exit 2 would).
	var ev hookEvent
	var name string
	if perr == nil {
		name = rest[0]
		ev, _ = lookupHookEvent(*forTool, name)
	} else {
		tool := ""
		for i, a := range args {
			if (a == "--for" || a == "-for") && i+1 < len(args) {
				tool = args[i+1]
			} else if t, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "for="); ok && strings.HasPrefix(a, "-") {
				tool = t
			}
		}
		for _, a := range args {
			if x, ok := lookupHookEvent(tool, a); ok {
				name, ev = a, x
			}
		}
	}
	defer func() { io.WriteString(e.stdout, ev.answer) }()

	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintf(e.stderr, "agentspool hook: internal error (a bug, please report it): %v\n", r)
			}
		}()
		e.hook(*agent, name, ev, perr, *timeout)
	}()
	select {
	case <-done:
	case <-time.After(*timeout + 500*time.Millisecond):
		// The disk hangs: answer now; the work goes on until exit.
	}
	return nil
}

// hook does the work of one hook call; every problem is logged, none is
// returned.
func (e *env) hook(agent, name string, ev hookEvent, perr error, timeout time.Duration) {
	// The spool first: the log is in it. Until it is open, stderr.
	lg := slog.New(slog.NewTextHandler(e.stderr, nil)).With("agent", agent, "event", name)
	sp, cfg, serr := e.openSpool(true)
	if serr == nil {
		logPath := filepath.Join(sp.Root, hookLogName)
		fi, lerr := os.Lstat(logPath)
		if lerr == nil && fi.Mode().IsRegular() && fi.Size() > hookLogMax {
			// One old generation: the log of a hook that fires on every
			// prompt must not grow without end.
			os.Rename(logPath, logPath+".old")
		}
		// A symlink or a FIFO put there is not followed (a FIFO would
		// block the hook).
		var f *os.File
		err := errors.New("not a regular file")
		if lerr != nil || fi.Mode().IsRegular() {
			f, err = os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		}
		if err == nil {
			defer f.Close()
			lg = slog.New(slog.NewTextHandler(f, nil)).With("agent", agent, "event", name)
		}
	}
	switch {
	case perr != nil:
		lg.Error("hook: bad command line", "err", perr)
		return
	case ev.tool == "":
		lg.Error("hook: unknown event (want beforeSubmitPrompt, stop, UserPromptSubmit, Stop, BeforeAgent or AfterAgent; --for codex or qwen-code with UserPromptSubmit or Stop)")
		return
	case agent == "":
		lg.Error("hook: --agent is required")
		return
	case serr != nil:
		lg.Error("hook: config or spool", "err", serr)
		return
	}
	a, ok := cfg.Agent(agent)
	if !ok {
		lg.Error("hook: unknown agent", "err", unknownAgentErr(cfg, agent))
		return
	}
	state := confirm.StateReady
	if ev.submit {
		state = confirm.StateBusy
	}
	if _, err := confirm.MarkState(sp.Root, agent, state, name, e.now()); err != nil {
		lg.Error("hook: state", "err", err)
	}
	// Read stdin on a stop too: a tool writing to a hook that exited
	// early gets EPIPE and may report the hook as failed.
	data, err := readBounded(e.stdin, hookMaxInput, timeout)
	if !ev.submit {
		lg.Info("hook: ready")
		return
	}
	if err != nil {
		lg.Error("hook: stdin", "err", err, "bytes", len(data))
		return
	}
	var p confirm.HookPayload
	if err := json.Unmarshal(data, &p); err != nil {
		lg.Error("hook: stdin is not the tool's JSON", "err", err, "bytes", len(data))
		return
	}
	if p.HookEventName != "" && p.HookEventName != name {
		lg.Warn("hook: the payload names another event", "payload_event", p.HookEventName)
	}
	acks, err := ackPrompt(cfg, sp, a, name, p.Submitted())
	for _, k := range acks {
		lg.Info("hook: acked", "id", k.id, "in", k.state, "submit", k.submit, "why", k.why, "ack", k.path)
	}
	if err != nil {
		lg.Error("hook: ack", "err", err)
	}
	if len(acks) == 0 && err == nil {
		lg.Info("hook: busy; the prompt held no message of this agent's")
	}
}

// readBounded reads r to its end, keeping at most max bytes, for at most
// timeout. Past max it reads on into nothing: a tool still writing to a
// hook that stopped reading gets EPIPE, and may count the hook as failed.
// A reader that never ends (a tool that keeps stdin open) is left to the
// goroutine, which the process's exit ends.
func readBounded(r io.Reader, max int64, timeout time.Duration) ([]byte, error) {
	if r == nil {
		return nil, errors.New("no stdin")
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, max+1))
		if err == nil && int64(len(b)) > max {
			_, err = io.Copy(io.Discard, r)
		}
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return res.b, res.err
		}
		if int64(len(res.b)) > max {
			return res.b[:max], fmt.Errorf("more than %d bytes", max)
		}
		return res.b, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("stdin not closed within %v", timeout)
	}
}

type hookAck struct{ id, state, submit, why, path string }

// ackPrompt acks every message of a's that prompt holds.
func ackPrompt(cfg *config.Config, sp *spool.Spool, a *config.Agent, event, prompt string) ([]hookAck, error) {
	envs, err := cfg.FindEnvelopes(prompt)
	if err != nil {
		return nil, err
	}
	var out []hookAck
	var errs []error
	for _, f := range envs {
		envelope := confirm.Envelope{ID: f.ID, To: f.To, Start: f.Start, End: f.End}
		if !envelope.For(a.Name) {
			continue
		}
		en, ok, err := sp.Pasted(a.Name, envelope.ID)
		if !ok {
			errs = append(errs, err)
			continue
		}
		pasted := confirm.Pasted{ID: en.ID, Unread: true}
		if m, err := sp.Read(en); err == nil {
			pasted.Body, pasted.Unread = m.Body, false
		}
		submit, why := confirm.MatchMessage(prompt, envelope, len(envs), pasted)
		p, err := confirm.WriteHookAck(a.Inbox, en.ID, event, submit, why)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, hookAck{id: en.ID, state: string(en.State), submit: submit, why: why, path: p})
	}
	return out, errors.Join(errs...)
}
