package config

import (
	"errors"
	"regexp"
	"strings"
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
