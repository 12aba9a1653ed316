package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

var sendCommand = &command{
	name:    "send",
	order:   10,
	summary: "queue a message for an agent (or for every agent)",
	usage:   "send --to AGENT | --broadcast [--priority P] [--from NAME] [--id ID] [--ack=true|false] [--wait[=DURATION]] [-m TEXT | FILE | -]",
	help: `Queues one message: writes it to the spool's tmp/ and renames it into
new/<AGENT>/, where the daemon picks it up. Prints the id of each message
queued, one per line.

The body is -m TEXT, else the FILE argument, else standard input ("-", or
no argument when stdin is not a terminal). The message file gets a YAML
front matter (id, from, to, priority, ack) before the body. A FILE or stdin
that has its own front matter keeps it; flags given override its keys.

The message is checked before anything is queued: an empty body, text that
is not UTF-8 or a message over max_message_bytes is an error, and so is an
agent missing from the config, an --id already in the spool, or an --id
already acked in the agent's inbox (an old <ID>.ack there would make the
id ambiguous; the daemon ignores acks older than the message, but pick a
new id). A FILE must be a regular file (not a FIFO, device or symlink).

With --broadcast, every configured agent gets its own copy, with the id
<ID>-<AGENT>: all of them or none (every copy is staged in tmp/ before
any is renamed into new/).

With --wait[=DURATION] (default 10m) send then follows each message
until it is final, and prints one line per message (with --broadcast, per
agent): ID, AGENT and done, failed, held or waiting. On a terminal, stderr
shows each stage as it is reached: queued, delivering, submitted, acked
(or done, for an agent with ack off). Exit 0 when every message is done;
1 when one failed or is held (its reason on stderr), or the wait ended
first ("still queued", "still awaiting ack"). The daemon need not be told:
--wait only reads the spool.

Example:
  agentspool send --to Agent-2 -m "Please review PR 42"
  agentspool send --to Agent-2 --wait=2m -m "Deploy done?" && echo confirmed
  agentspool send --to Agent-3 --priority urgent --from Agent-1 notes.md
  git diff | agentspool send --broadcast --id diff-0412 -`,
	run: runSend,
}

// optBool is a bool flag that remembers whether it was given at all.
type optBool struct{ v *bool }

func (o *optBool) IsBoolFlag() bool { return true }
func (o *optBool) String() string {
	if o == nil || o.v == nil {
		return ""
	}
	return strconv.FormatBool(*o.v)
}
func (o *optBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	o.v = &b
	return nil
}

// terminalSafe refuses, before anything is queued, a body with a control
// character for an agent known to be a terminal (a tmux pane, or `kind:
// terminal`): there it would be a key (ctrl+c interrupts the program), so
// the daemon would fail it anyway (deliver.UnsafeText, by the same rule,
// deliver.KeyInText). A terminal told
// only by its window class at delivery is not known here: the daemon
// fails the message then, and its sender is told.
func terminalSafe(cfg *config.Config, agents []string, body []byte) error {
	for _, name := range agents {
		a, _ := cfg.Agent(name)
		if a == nil || (a.Tmux == "" && a.Kind != config.KindTerminal) {
			continue
		}
		if i, r, ok := deliver.KeyInText(string(body)); ok {
			return fmt.Errorf("the message holds a control character (%U at byte %d of it), which %s's terminal would take as a key (ctrl+c interrupts its program; an ESC can end the paste and have the rest typed): nothing queued; send it without control characters", r, i, name)
		}
	}
	return nil
}

func runSend(e *env, args []string) error {
	fs := e.flagSet()
	to := fs.String("to", "", "the recipient `AGENT`")
	broadcast := fs.Bool("broadcast", false, "send to every configured agent")
	prio := spool.PriorityNormal
	fs.Func("priority", "message `PRIORITY`: normal, high or urgent (default normal)", func(s string) error {
		p, err := spool.ParsePriority(s)
		if err != nil {
			return errors.New("want normal, high or urgent")
		}
		prio = p
		return nil
	})
	var from string
	fs.Func("from", "the sender `NAME`, shown to the recipient", func(s string) error {
		// It ends up in the one-line envelope pasted before the body.
		if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			return errors.New("not one line of UTF-8 text")
		}
		from = s
		return nil
	})
	id := fs.String("id", "", "the message `ID` (default: generated); must not be in the spool")
	var ack optBool
	fs.Var(&ack, "ack", "wait for the recipient's ack (default: the agent's setting)")
	var wait waitFlag
	fs.Var(&wait, "wait", "after queueing, follow each message until done, failed or held, at most `DURATION` (default 10m)")
	var text *string
	fs.Func("m", "the message `TEXT`", func(s string) error { text = &s; return nil })
	rest, err := e.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	usage := func(format string, a ...any) error {
		return &usageError{cmd: e.cmd, flags: fs, err: fmt.Errorf(format, a...)}
	}
	switch {
	case *to == "" && !*broadcast:
		return usage("give --to AGENT or --broadcast")
	case *to != "" && *broadcast:
		return usage("--to and --broadcast exclude each other")
	case set["id"] && *id == "":
		return usage("--id: empty id")
	case text != nil && len(rest) > 0:
		return usage("-m and a FILE argument exclude each other")
	}

	cfg, err := e.config()
	if err != nil {
		return err
	}
	var agents []string
	if *broadcast {
		agents = cfg.Names()
		if len(agents) == 0 {
			return fmt.Errorf("--broadcast: %s configures no agents", cfgName(cfg))
		}
	} else {
		if _, ok := cfg.Agent(*to); !ok {
			return unknownAgentErr(cfg, *to)
		}
		agents = []string{*to}
	}

	max := cfg.MaxMessageBytes
	if max <= 0 {
		max = config.DefaultMaxMessageBytes
	}
	var body []byte
	switch {
	case text != nil:
		body = []byte(*text)
	case len(rest) == 1 && rest[0] != "-":
		// The same safe opener as the daemon: a FIFO or device named here
		// is refused at once instead of hanging send.
		if body, err = spool.ReadInput(rest[0], max); err != nil {
			return err
		}
	case len(rest) == 1 || !isTerminal(e.stdin):
		if body, err = readLimited(e.stdin, "standard input", max); err != nil {
			return err
		}
	default:
		return usage("no message: give -m TEXT, a FILE, or pipe it on standard input")
	}

	// The header: from the input's own front matter if it has one, then
	// the flags given.
	h, body, err := spool.ParseInput(body, max)
	if err != nil {
		return err
	}
	if set["priority"] || h.Priority == spool.PriorityNormal {
		h.Priority = prio
	}
	if set["from"] {
		h.From = from
	}
	if set["id"] {
		h.ID = *id
	}
	if ack.v != nil {
		h.Ack = ack.v
	}
	userID := h.ID != ""
	if !userID {
		h.ID = spool.NewID()
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty message: nothing to send")
	}
	if err := terminalSafe(cfg, agents, body); err != nil {
		return err
	}

	// Build and check every file before queueing any.
	files := make([][]byte, len(agents))
	ids := make([]string, len(agents))
	for i, agent := range agents {
		hh := h
		hh.To = agent
		if *broadcast {
			hh.ID = h.ID + "-" + agent
		}
		data, err := spool.Compose(hh, body, max)
		if err != nil {
			return err
		}
		files[i], ids[i] = data, hh.ID
	}
	sp, _, err := e.openSpool(true)
	if err != nil {
		return err
	}
	// Only a chosen id can collide; a generated one is unique enough that
	// scanning the spool for it would only cost time.
	if userID {
		if err := checkIDsFree(sp, ids); err != nil {
			return err
		}
		for i, agent := range agents {
			a, _ := cfg.Agent(agent)
			if acked, _ := confirm.Stale(confirm.Ack{Inbox: a.Inbox, ID: ids[i], Pattern: a.AckPattern}); acked {
				where := confirm.AckPath(a.Inbox, ids[i])
				if a.AckPattern != nil {
					where += ", or a file of its ack_pattern"
				}
				return fmt.Errorf("id %q is already acked in %s's inbox (%s): a message with it could never be confirmed; choose another --id", ids[i], agent, where)
			}
		}
	}
	queued := e.now()
	// All or nothing: every copy is staged before any is renamed in.
	if _, err := sp.EnqueueAll(agents, files); err != nil {
		return fmt.Errorf("queue %s: %w", strings.Join(ids, ", "), err)
	}
	if wait.on {
		return followSent(sp, cfg, agents, ids, queued, wait.d, e.now, e.stdout, terminal(e.stderr))
	}
	for _, id := range ids {
		fmt.Fprintln(e.stdout, id)
	}
	return nil
}

// checkIDsFree fails if any of ids is already a message in the spool, in
// any state (a done message's id still names it for acks and show).
func checkIDsFree(sp *spool.Spool, ids []string) error {
	for _, id := range ids {
		es, err := sp.Find(id)
		if err != nil {
			return err
		}
		if len(es) > 0 {
			return fmt.Errorf("id %q is already in the spool (%s); choose another --id", id, sp.Path(es[0]))
		}
	}
	return nil
}

// readLimited reads at most max bytes from r; more is a too-large error
// without reading the rest.
func readLimited(r io.Reader, what string, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read message from %s: %w", what, err)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(what, max)
	}
	return data, nil
}

func tooLarge(what string, max int64) error {
	return fmt.Errorf("message too large: %s is over the limit of %d bytes (max_message_bytes)", what, max)
}

// isTerminal reports whether f is a character device (a terminal, or
// /dev/null): then send does not wait for a body on it.
func isTerminal(f *os.File) bool {
	if f == nil {
		return true
	}
	fi, err := f.Stat()
	return err != nil || fi.Mode()&os.ModeCharDevice != 0
}
