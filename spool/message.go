package spool

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DefaultMaxMessageBytes is the size limit when none is configured; it is
// config's default of max_message_bytes too (one value, in the leaf both
// import).
const DefaultMaxMessageBytes = safeio.DefaultMaxMessageBytes

// Priority orders an agent's queue: urgent before high before normal.
type Priority int

const (
	PriorityNormal Priority = iota
	PriorityHigh
	PriorityUrgent
)

// ParsePriority parses "normal", "high" or "urgent" (any case); "" is normal.
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "normal":
		return PriorityNormal, nil
	case "high":
		return PriorityHigh, nil
	case "urgent":
		return PriorityUrgent, nil
	}
	return PriorityNormal, fmt.Errorf("spool: unknown priority %q (want normal, high or urgent)", s)
}

func (p Priority) String() string {
	switch p {
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityUrgent:
		return "urgent"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// Message is a parsed message file: its header and body.
type Message struct {
	ID       string   // front matter id, else IDFromName of the file name
	From     string   // optional sender
	To       string   // optional addressee; informational (the directory decides)
	Priority Priority // default normal
	Ack      *bool    // nil: the agent's configured default
	Body     string   // everything after the closing ---, or the whole file
	Raw      []byte   // the file as read
}

// frontMatter is the YAML header. Ack is decoded as a string so that the
// spellings people type (yes/no/on/off) work under YAML 1.2 rules too.
type frontMatter struct {
	ID       string `yaml:"id,omitempty"`
	From     string `yaml:"from,omitempty"`
	To       string `yaml:"to,omitempty"`
	Priority string `yaml:"priority,omitempty"`
	Ack      string `yaml:"ack,omitempty"`
}

// ParseMessage validates and parses a message file's content. name is the
// file name, used for the id when the front matter has none. maxBytes <= 0
// means DefaultMaxMessageBytes. Every error it returns is permanent (see
// IsBadMessage and friends).
func ParseMessage(name string, data []byte, maxBytes int64) (*Message, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	if len(data) == 0 {
		return nil, badMessage(kindEmpty, "", nil)
	}
	if int64(len(data)) > maxBytes {
		return nil, badMessage(kindTooLarge, fmt.Sprintf("%d bytes, limit %d", len(data), maxBytes), nil)
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, badMessage(kindNotUTF8, fmt.Sprintf("NUL byte at offset %d", i), nil)
	}
	if !utf8.Valid(data) {
		return nil, badMessage(kindNotUTF8, "", nil)
	}
	fmText, body, hasFM, err := SplitFrontMatter(data)
	if err != nil {
		return nil, err
	}
	m := &Message{Raw: data, Body: string(body)}
	if hasFM {
		fm, err := decodeFrontMatter(fmText)
		if err != nil {
			return nil, err
		}
		if err := fm.apply(m); err != nil {
			return nil, err
		}
	}
	if m.ID == "" {
		m.ID = IDFromName(name)
		if !validID(m.ID) {
			// The id goes into the envelope line and names the ack file:
			// a newline, space or ']' in a file name must not get there.
			base, _ := ParseName(name)
			return nil, badMessage(kindBadName, fmt.Sprintf("the file name %q gives no valid id (want %s); rename the file, or give it an id: in its front matter", base, safeio.IDRule), nil)
		}
	}
	if strings.TrimSpace(m.Body) == "" {
		return nil, badMessage(kindEmpty, "no body", nil)
	}
	return m, nil
}

// SplitFrontMatter finds the front matter: it starts only when the first
// line is exactly "---" (CRLF allowed) and ends at the next such line. An
// unterminated block is an error (ok is true: the file meant to have one).
func SplitFrontMatter(data []byte) (fm, body []byte, ok bool, err error) {
	var start int
	switch {
	case bytes.HasPrefix(data, []byte("---\n")):
		start = 4
	case bytes.HasPrefix(data, []byte("---\r\n")):
		start = 5
	case string(data) == "---":
		return nil, nil, true, badMessage(kindBadFrontMatter, "unterminated --- block", nil)
	default:
		return nil, data, false, nil
	}
	for i := start; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		line := data[i:]
		if j >= 0 {
			line = data[i : i+j]
			next = i + j + 1
		}
		if string(bytes.TrimSuffix(line, []byte("\r"))) == "---" {
			return data[start:i], data[next:], true, nil
		}
		i = next
	}
	return nil, nil, true, badMessage(kindBadFrontMatter, "unterminated --- block", nil)
}

// decodeFrontMatter decodes the YAML strictly: unknown keys, duplicate keys
// and a second document are errors.
func decodeFrontMatter(text []byte) (fm frontMatter, err error) {
	// A panic inside the YAML decoder on hostile input must not take the
	// daemon down: the message goes to failed/ like any broken one.
	defer func() {
		if r := recover(); r != nil {
			err = badMessage(kindBadFrontMatter, fmt.Sprintf("YAML decoder panic: %v", r), nil)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil {
		if errors.Is(err, io.EOF) { // only comments or blank lines
			return frontMatter{}, nil
		}
		return frontMatter{}, badMessage(kindBadFrontMatter, "", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return frontMatter{}, badMessage(kindBadFrontMatter, "more than one YAML document", nil)
	}
	return fm, nil
}

// apply validates the header fields and copies them into m.
func (fm frontMatter) apply(m *Message) error {
	if fm.ID != "" && !validID(fm.ID) {
		return badMessage(kindBadFrontMatter, fmt.Sprintf("bad id %q (want [A-Za-z0-9][A-Za-z0-9._@+-]{0,127})", fm.ID), nil)
	}
	p, err := ParsePriority(fm.Priority)
	if err != nil {
		return badMessage(kindBadFrontMatter, fmt.Sprintf("bad priority %q (want normal, high or urgent)", fm.Priority), nil)
	}
	// from and to end up in the one-line envelope pasted before the body;
	// a control character there could forge a second line.
	for _, f := range []struct{ key, val string }{{"from", fm.From}, {"to", fm.To}} {
		if strings.ContainsFunc(f.val, unicode.IsControl) {
			return badMessage(kindBadFrontMatter, fmt.Sprintf("%s contains a control character", f.key), nil)
		}
	}
	switch strings.ToLower(fm.Ack) {
	case "":
	case "true", "yes", "on":
		t := true
		m.Ack = &t
	case "false", "no", "off":
		f := false
		m.Ack = &f
	default:
		return badMessage(kindBadFrontMatter, fmt.Sprintf("bad ack %q (want true or false)", fm.Ack), nil)
	}
	m.ID, m.From, m.To, m.Priority = fm.ID, fm.From, fm.To, p
	return nil
}

// header is what Scan needs from a message: its priority and id.
type header struct {
	prio Priority
	id   string // "" when the front matter has none (or cannot be read)
}

// scanHeader reads the priority and id from the first bytes of a message,
// best effort: anything unreadable counts as normal priority without an id,
// and the daemon parses the whole file before delivering it anyway.
// Simple headers (the common case) take a hand-written path, because a YAML
// decode per file would cost more than the rest of a 100,000-file scan.
func scanHeader(buf []byte) header {
	fmText, _, hasFM, err := SplitFrontMatter(buf)
	if !hasFM || err != nil {
		return header{}
	}
	fm, ok := quickFrontMatter(fmText)
	if !ok {
		if fm, err = decodeFrontMatter(fmText); err != nil {
			return header{}
		}
	}
	var h header
	if p, err := ParsePriority(fm.Priority); err == nil {
		h.prio = p
	}
	if validID(fm.ID) {
		h.id = fm.ID
	}
	return h
}

// quickFrontMatter parses front matter made only of `key: plain-value`
// lines, comments and blank lines, where every value is a run of
// [A-Za-z0-9._@+-] starting with a letter or digit. For such text it agrees
// with the YAML decoder (FuzzParseMessage checks this); for anything else it
// returns ok=false and the caller uses the YAML decoder.
func quickFrontMatter(text []byte) (fm frontMatter, ok bool) {
	var seen [5]bool
	for len(text) > 0 {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		t := bytes.Trim(line, " ")
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		if line[0] == ' ' {
			return fm, false
		}
		k, v, found := bytes.Cut(line, []byte(":"))
		if !found {
			return fm, false
		}
		if len(v) > 0 && v[0] != ' ' {
			return fm, false
		}
		if i := bytes.Index(v, []byte(" #")); i >= 0 {
			v = v[:i]
		}
		v = bytes.Trim(v, " ")
		val := string(v)
		if val != "" && !idSpelling(val) { // anything fancier: the YAML decoder
			return fm, false
		}
		if val == "null" || val == "Null" || val == "NULL" {
			val = ""
		}
		var slot *string
		var idx int
		switch string(k) {
		case "id":
			slot, idx = &fm.ID, 0
		case "from":
			slot, idx = &fm.From, 1
		case "to":
			slot, idx = &fm.To, 2
		case "priority":
			slot, idx = &fm.Priority, 3
		case "ack":
			slot, idx = &fm.Ack, 4
		default:
			return fm, false
		}
		if seen[idx] {
			return fm, false
		}
		seen[idx] = true
		*slot = val
	}
	return fm, true
}
