package spool

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Header is what a sender puts in a message's front matter. Compose writes
// it as the same frontMatter type that ParseMessage reads, so there is one
// front-matter type (issue 11, structure).
type Header struct {
	ID       string
	From     string
	To       string
	Priority Priority
	Ack      *bool
}

// Compose builds a message file: the front matter of h, then body. The
// result is parsed back with the limit max (<= 0: the default), so what
// Compose returns is a message the daemon will accept, with h's id.
func Compose(h Header, body []byte, max int64) ([]byte, error) {
	if !utf8.ValidString(h.From) || strings.ContainsFunc(h.From, unicode.IsControl) {
		return nil, badMessage(kindBadFrontMatter, fmt.Sprintf("from %q is not one line of UTF-8 text", h.From), nil)
	}
	if h.ID != "" && !validID(h.ID) {
		return nil, badMessage(kindBadFrontMatter, fmt.Sprintf("bad id %q (want %s)", h.ID, "[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"), nil)
	}
	fm := frontMatter{ID: h.ID, From: h.From, To: h.To}
	if h.Priority != PriorityNormal {
		fm.Priority = h.Priority.String()
	}
	if h.Ack != nil {
		fm.Ack = fmt.Sprint(*h.Ack)
	}
	hdr, err := yaml.Marshal(fm)
	if err != nil {
		return nil, fmt.Errorf("spool: front matter: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(hdr) + len(body) + 8)
	b.WriteString("---\n")
	b.Write(hdr)
	b.WriteString("---\n")
	b.Write(body)
	data := b.Bytes()
	m, err := ParseMessage("", data, max)
	if err != nil && h.ID != "" || err != nil && !IsBadName(err) {
		return nil, err
	}
	if m != nil && h.ID != "" && m.ID != h.ID {
		return nil, fmt.Errorf("spool: compose: id %q read back as %q", h.ID, m.ID)
	}
	return data, nil
}

// ParseInput splits a sender's input (a file or standard input) that may
// carry its own front matter into its header and body.
func ParseInput(data []byte, max int64) (Header, []byte, error) {
	if _, _, has, _ := SplitFrontMatter(data); !has {
		return Header{}, data, nil
	}
	m, err := ParseMessage("", data, max)
	if err != nil && !IsBadName(err) {
		return Header{}, nil, err
	}
	if m == nil { // no id in it: ParseMessage refused the empty name
		m2, err := ParseMessage("x", data, max)
		if err != nil {
			return Header{}, nil, err
		}
		m2.ID = ""
		m = m2
	}
	return Header{ID: m.ID, From: m.From, To: m.To, Priority: m.Priority, Ack: m.Ack}, []byte(m.Body), nil
}

// ReadInput reads a sender's message file (`send FILE`) through the same
// safe opener as the daemon: a symlink, FIFO, device or directory is
// refused without blocking (name the real file), and the size is bounded.
func ReadInput(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxMessageBytes
	}
	return readLimited(path, max, false)
}
