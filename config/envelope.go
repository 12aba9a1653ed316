package config

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
)

// Envelope is one envelope line found in a text: the fields the template
// printed (empty where it does not print them) and where the line is.
type Envelope struct {
	ID, From, To string
	Start, End   int // byte offsets of the envelope in the text
}

// The sentinels rendered in place of the fields to learn the template's
// shape; they hold only letters, so no template function can split them.
const (
	sentID, sentFrom, sentTo, sentPri, sentAtt = "QqAGSPIDqQ", "QqAGSPFROMqQ", "QqAGSPTOqQ", "QqAGSPPRIqQ", "QqAGSPATTqQ"
)

// EnvelopeRegexp is a regular expression that finds the envelope lines the
// config's template renders, with the named groups id, from and to (where
// the template prints them). It is built by rendering the template with
// sentinels in place of the fields and quoting the rest, so a custom
// `envelope:` is parsed as well as the default one. A template that does not
// print {{.ID}} is an error: its envelopes cannot be acknowledged.
func (c *Config) EnvelopeRegexp() (*regexp.Regexp, error) {
	s, err := renderEnvelope(c.Envelope, EnvelopeFields{ID: sentID, From: sentFrom, To: sentTo, Priority: sentPri, Attempt: 7})
	if err != nil {
		return nil, errors.New("config: envelope: " + err.Error())
	}
	if strings.Count(s, sentID) != 1 {
		return nil, errors.New("config: envelope: the template must print {{.ID}} exactly once to be found in a prompt")
	}
	// Attempt renders as a number; only a 7 standing alone is the sentinel.
	q := regexp.QuoteMeta(s)
	groups := []struct{ sent, re string }{
		{sentID, `(?P<id>[A-Za-z0-9][A-Za-z0-9._@+-]{0,127})`},
		{sentFrom, `(?P<from>[^\s\]]+)`},
		{sentTo, `(?P<to>[A-Za-z0-9][A-Za-z0-9._-]{0,63})`},
		{sentPri, `[a-z]+`},
	}
	for _, g := range groups {
		// A field printed twice is matched by a second, unnamed group.
		if i := strings.Index(q, g.sent); i >= 0 {
			q = q[:i] + g.re + strings.ReplaceAll(q[i+len(g.sent):], g.sent, unnamed(g.re))
		}
	}
	q = regexp.MustCompile(`(^|[^0-9])7([^0-9]|$)`).ReplaceAllString(q, `${1}[0-9]+${2}`)
	return regexp.Compile(q)
}

func unnamed(re string) string {
	return "(?:" + re[strings.Index(re, ">")+1:]
}

// FindEnvelopes returns every envelope line in text, in order.
func (c *Config) FindEnvelopes(text string) ([]Envelope, error) {
	re, err := c.EnvelopeRegexp()
	if err != nil {
		return nil, err
	}
	var out []Envelope
	for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
		e := Envelope{Start: m[0], End: m[1]}
		for i, name := range re.SubexpNames() {
			if m[2*i] < 0 {
				continue
			}
			v := text[m[2*i]:m[2*i+1]]
			switch name {
			case "id":
				e.ID = v
			case "from":
				e.From = v
			case "to":
				e.To = v
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// RenderEnvelope renders the envelope line for one message.
func (c *Config) RenderEnvelope(f EnvelopeFields) (string, error) {
	s, err := renderEnvelope(c.Envelope, f)
	if err != nil {
		return "", fmt.Errorf("config: envelope: %w", err)
	}
	return s, nil
}

// maxEnvelope bounds the rendered envelope, which also stops a template
// that would print without end.
const maxEnvelope = 1024

func renderEnvelope(tmpl string, f EnvelopeFields) (string, error) {
	t, err := template.New("envelope").Parse(tmpl)
	if err != nil {
		return "", err
	}
	if err := checkEnvelopeTree(t); err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&limitWriter{w: &b, n: maxEnvelope}, f); err != nil {
		return "", err
	}
	s := b.String()
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("must render to one line")
	}
	if strings.TrimSpace(s) == "" {
		return "", errors.New("renders empty")
	}
	return s, nil
}

// checkEnvelopeTree rejects what a one-line envelope never needs and what
// could make rendering it run for ever: {{range}} (over an integer it is a
// loop of any length) and {{define}}/{{template}} (recursion).
func checkEnvelopeTree(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("{{define}} and {{block}} are not allowed")
	}
	var walk func(n parse.Node) error
	walk = func(n parse.Node) error {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Nodes {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.IfNode:
			return errors.Join(walk(n.List), walk(n.ElseList))
		case *parse.WithNode:
			return errors.Join(walk(n.List), walk(n.ElseList))
		case *parse.RangeNode:
			return errors.New("{{range}} is not allowed")
		case *parse.TemplateNode:
			return errors.New("{{template}} is not allowed")
		}
		return nil
	}
	if t.Tree == nil {
		return nil
	}
	return walk(t.Tree.Root)
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, fmt.Errorf("renders longer than %d bytes", maxEnvelope)
	}
	l.n -= len(p)
	return l.w.Write(p)
}
