package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/internal/safeio"
	"github.com/agentspool/agentspool/spool"
)

// showBodyBytes is how much of a body `show` prints.
const showBodyBytes = 4 << 10

var showCommand = &command{
	name:    "show",
	order:   22,
	summary: "show a message: where it is, why, and what it says",
	usage:   "show ID",
	help: `Prints every file with this id (the front matter id, the file name's id,
or the file name): its state, agent, path, attempt and not-before time, the
reason it failed or is held, its front matter, and the first 4 KiB of its
body. A message that cannot be delivered as it is (empty, too large, not
UTF-8, broken front matter) says why.

Works without a config: it then reads the --spool directory (default
./spool).

Example:
  agentspool show 20261127T073012-9f3a1c`,
	run: runShow,
}

func runShow(e *env, args []string) error {
	fs := e.flagSet()
	rest, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id := rest[0]
	sp, cfg, err := e.openSpool(false)
	if err != nil {
		return err
	}
	es, err := sp.Find(id)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return fmt.Errorf("no message with id %s", id)
	}
	w := e.stdout
	for i, en := range es {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "id:         %s\n", en.ID)
		fmt.Fprintf(w, "state:      %s\n", en.State)
		fmt.Fprintf(w, "agent:      %s\n", en.Agent)
		fmt.Fprintf(w, "path:       %s\n", sp.Path(en))
		if orig := originalName(sp, en); orig != "" {
			fmt.Fprintf(w, "sent as:    %s\n", printable(orig))
		}
		fmt.Fprintf(w, "priority:   %s\n", en.Priority)
		fmt.Fprintf(w, "attempt:    %d\n", en.Attempt)
		if !en.NotBefore.IsZero() {
			fmt.Fprintf(w, "not before: %s\n", en.NotBefore.Local().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "queued:     %s (%s ago)\n", en.Queued.Local().Format(time.RFC3339), fmtAge(e.now().Sub(en.Queued)))
		fmt.Fprintf(w, "size:       %d bytes\n", en.Size)
		showSubmit(w, cfg, en)
		reason, err := sp.Reason(en)
		if err != nil {
			fmt.Fprintf(w, "reason:     (unreadable: %v)\n", err)
		} else if reason != "" {
			fmt.Fprintf(w, "reason:\n%s\n", indent(printable(strings.TrimRight(reason, "\n"))))
		}
		if err := showContent(w, sp, en); err != nil {
			fmt.Fprintf(w, "content:    (unreadable: %v)\n", err)
		}
	}
	return nil
}

// showContent prints a message's front matter and the start of its body.
// It reads the raw file rather than parsing it: the messages most worth a
// look are those that do not parse.
func showContent(w io.Writer, sp *spool.Spool, en spool.Entry) error {
	max := sp.MaxMessageBytes
	if max <= 0 {
		max = spool.DefaultMaxMessageBytes
	}
	// The safe opener: a FIFO dropped in the spool must not hang show,
	// and a symlink's target is not shown.
	f, err := safeio.Open(sp.Path(en), safeio.OpenOptions{})
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return err
	}
	if _, perr := spool.ParseMessage(en.Name, data, max); perr != nil {
		fmt.Fprintf(w, "problem:    %v\n", perr)
	}
	fm, body, ok, ferr := spool.SplitFrontMatter(data)
	if ferr != nil { // unterminated (said above): show it all as body
		fm, body, ok = nil, data, false
	}
	if ok {
		fmt.Fprintf(w, "front matter:\n%s\n", indent(printable(strings.TrimRight(string(fm), "\n"))))
	}
	bodyLen := int64(len(body)) + fi.Size() - int64(len(data)) // what was not read is body
	cut := false
	if len(body) > showBodyBytes {
		body = body[:showBodyBytes]
		// Do not split a UTF-8 sequence.
		for i := 0; i < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); i++ {
			body = body[:len(body)-1]
		}
		cut = true
	}
	fmt.Fprintf(w, "body:\n%s\n", indent(printable(strings.TrimRight(string(body), "\n"))))
	if cut || int64(len(body)) < bodyLen {
		fmt.Fprintf(w, "(body cut: showing %d of %d bytes)\n", len(body), bodyLen)
	}
	return nil
}

// printable makes text safe for a terminal: invalid UTF-8 and control
// characters (other than newline and tab) are shown escaped.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// originalName is the name a sender gave a message that the daemon named
// at its claim (every message; before, only a name too long, issue 11
// item 8): recorded by the spool at the claim, else (a spool older than
// that record) the journal's "renamed" line for it.
func originalName(sp *spool.Spool, en spool.Entry) string {
	if en.OrigName != "" {
		return en.OrigName
	}
	f, err := safeio.Open(filepath.Join(sp.Root, "journal.jsonl"), safeio.OpenOptions{})
	if err != nil {
		return ""
	}
	defer f.Close()
	base, _ := spool.ParseName(en.Name)
	orig := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"renamed"`)) {
			continue
		}
		var l struct{ Event, Name, Why string }
		if json.Unmarshal(line, &l) == nil && l.Event == "renamed" {
			if b, _ := spool.ParseName(l.Name); b == base {
				orig = strings.TrimPrefix(l.Why, "original name: ")
			}
		}
	}
	return orig
}

// showSubmit is `show`'s line for what the agent's hook saw of the submit
// (its ack's note): nothing for an ack without one, or without a config.
func showSubmit(w io.Writer, cfg *config.Config, en spool.Entry) {
	if cfg == nil {
		return
	}
	a, ok := cfg.Agent(en.Agent)
	if !ok {
		return
	}
	submit, why := confirm.AckNote(a.Inbox, en.ID)
	switch {
	case submit == "":
	case why != "":
		fmt.Fprintf(w, "submit:     %s, seen by the agent's hook (%s)\n", printable(submit), printable(why))
	default:
		fmt.Fprintf(w, "submit:     %s, seen by the agent's hook\n", printable(submit))
	}
}
