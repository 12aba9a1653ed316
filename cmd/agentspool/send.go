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

	"gopkg.in/yaml.v3"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/spool"
)

var sendCommand = &command{
	name:    "send",
	order:   10,
	summary: "queue a message for an agent (or for every agent)",
	usage:   "send --to AGENT | --broadcast [--priority P] [--from NAME] [--id ID] [--ack=true|false] [-m TEXT | FILE | -]",
	help: `Queues one message: writes it to the spool's tmp/ and renames it into
new/<AGENT>/, where the daemon picks it up. Prints the id of each message
queued, one per line.

The body is -m TEXT, else the FILE argument, else standard input ("-", or
no argument when stdin is not a terminal). The message file gets a YAML
front matter (id, from, to, priority, ack) before the body. A FILE or stdin
that has its own front matter keeps it; flags given override its keys.

The message is checked before anything is queued: an empty body, text that
is not UTF-8 or a message over max_message_bytes is an error, and so is an
agent missing from the config or an --id already in the spool.

With --broadcast, every configured agent gets its own copy, with the id
<ID>-<AGENT>.

Example:
  agentspool send --to Agent-2 -m "Please review PR 42"
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

// frontMatter is the header send writes. Marshalled by yaml so that any
// --from text is quoted correctly; omitempty keeps unset keys out.
type frontMatter struct {
	ID       string `yaml:"id"`
	From     string `yaml:"from,omitempty"`
	To       string `yaml:"to,omitempty"`
	Priority string `yaml:"priority,omitempty"`
	Ack      *bool  `yaml:"ack,omitempty"`
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
		if body, err = readBody(rest[0], max); err != nil {
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
	fm := frontMatter{}
	if hasFrontMatter(body) {
		m, err := spool.ParseMessage("", body, max)
		if err != nil {
			return err
		}
		fm.ID, fm.From, fm.Ack = m.ID, m.From, m.Ack
		prioFromFile := m.Priority
		if !set["priority"] {
			prio = prioFromFile
		}
		body = []byte(m.Body)
	}
	if set["from"] {
		fm.From = from
	}
	if set["id"] {
		fm.ID = *id
	}
	if ack.v != nil {
		fm.Ack = ack.v
	}
	if prio != spool.PriorityNormal {
		fm.Priority = prio.String()
	}
	if !utf8.ValidString(fm.From) || strings.ContainsFunc(fm.From, unicode.IsControl) {
		return fmt.Errorf("front matter: from %q is not one line of UTF-8 text", fm.From)
	}
	userID := fm.ID != ""
	if !userID {
		fm.ID = spool.NewID()
	}

	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty message: nothing to send")
	}

	// Build and check every file before queueing any.
	files := make([][]byte, len(agents))
	ids := make([]string, len(agents))
	for i, agent := range agents {
		h := fm
		h.To = agent
		if *broadcast {
			h.ID = fm.ID + "-" + agent
		}
		data, err := buildMessage(h, body)
		if err != nil {
			return err
		}
		m, err := spool.ParseMessage("", data, max)
		if err != nil {
			return err
		}
		if m.ID != h.ID { // cannot happen unless the header writer is wrong
			return fmt.Errorf("message for %s: id %q read back as %q", agent, h.ID, m.ID)
		}
		files[i], ids[i] = data, h.ID
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
	}
	for i, agent := range agents {
		if _, err := sp.Enqueue(agent, files[i]); err != nil {
			return fmt.Errorf("queue %s for %s: %w", ids[i], agent, err)
		}
		fmt.Fprintln(e.stdout, ids[i])
	}
	return nil
}

func buildMessage(h frontMatter, body []byte) ([]byte, error) {
	hdr, err := yaml.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("front matter: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(hdr) + len(body) + 8)
	b.WriteString("---\n")
	b.Write(hdr)
	b.WriteString("---\n")
	b.Write(body)
	return b.Bytes(), nil
}

func hasFrontMatter(b []byte) bool {
	return bytes.HasPrefix(b, []byte("---\n")) || bytes.HasPrefix(b, []byte("---\r\n"))
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

// readBody reads the message body from the file at path.
func readBody(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("read message %s: is a directory", path)
	}
	if fi.Mode().IsRegular() && fi.Size() > max {
		return nil, tooLarge(path, max)
	}
	return readLimited(f, path, max)
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
