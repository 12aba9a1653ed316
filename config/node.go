package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The file is walked by hand over a yaml.Node rather than decoded with
// yaml.Unmarshal into structs so that every error can name its key and
// line, duplicate agents are caught (a Go map would keep the last), and all
// errors are reported, not the first. This file reads nodes: the document,
// the mappings (entries) and the scalars of each kind; schema.go says which
// keys there are and what each holds.

// keyError is one problem in the file, at a key and a line.
type keyError struct {
	file string
	line int // 0: unknown
	key  string
	msg  string
}

func (e *keyError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.file != "" {
		b.WriteString(e.file)
		if e.line > 0 {
			b.WriteString(":" + strconv.Itoa(e.line))
		}
		b.WriteString(": ")
	}
	if e.key != "" {
		b.WriteString(e.key + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

type parser struct {
	file string // the file's name in messages
	dir  string // base of relative paths
	errs []*keyError
}

func (p *parser) errf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &keyError{file: p.file, line: line, key: key, msg: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].line < p.errs[j].line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// decode parses data into its one document node; nil when the file is empty
// or has errors (recorded).
func (p *parser) decode(data []byte) (doc *yaml.Node) {
	defer func() {
		// yaml.v3 has panicked on hostile input before (CVE-2022-28948);
		// a bad config file must be an error, never a crash of the daemon.
		if r := recover(); r != nil {
			p.errf(nil, "", "yaml: cannot parse: %v", r)
			doc = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			p.errf(nil, "", "empty file: want at least an agents: section")
			return nil
		}
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errf(&extra, "", "a second YAML document (---); want one")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(n.Content) == 0 {
		p.errf(nil, "", "empty file: want at least an agents: section")
		return nil
	}
	return n.Content[0]
}

// yamlError records a syntax error of yaml.v3, moving its line to the front
// where our other messages have it.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = "yaml: " + msg[len(m[0]):]
	}
	p.errs = append(p.errs, &keyError{file: p.file, line: line, msg: msg})
}

// resolve follows aliases (*name) to the node they name. A node cannot be
// an alias of an alias, but a bound keeps a hostile file from looping.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

type entry struct {
	name string
	k, v *yaml.Node
}

// entries returns the keys of mapping n in order. Non-string keys,
// duplicates and (when known is not nil) unknown keys are errors and left
// out. A null node (a key with nothing after it) is an empty mapping.
func (p *parser) entries(n *yaml.Node, path string, known []string) []entry {
	r := resolve(n)
	if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
		return nil
	}
	if r.Kind != yaml.MappingNode {
		p.errf(n, path, "must be a mapping of keys, got %s", kindName(r))
		return nil
	}
	var out []entry
	first := make(map[string]int)
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := resolve(r.Content[i]), r.Content[i+1]
		key := join(path, k.Value)
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			p.errf(r.Content[i], path, "keys must be names, got %s", kindName(k))
			continue
		}
		if known != nil && !contains(known, k.Value) {
			if k.Value == "<<" {
				p.errf(r.Content[i], key, "merge keys are not supported; put shared settings under defaults:")
			} else {
				p.errf(r.Content[i], key, "unknown key (known here: %s)", strings.Join(known, ", "))
			}
			continue
		}
		if line, dup := first[k.Value]; dup {
			if path == "agents" {
				p.errf(r.Content[i], key, "duplicate agent (first at line %d)", line)
			} else {
				p.errf(r.Content[i], key, "duplicate key (first at line %d)", line)
			}
			continue
		}
		first[k.Value] = r.Content[i].Line
		out = append(out, entry{name: k.Value, k: r.Content[i], v: v})
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scalar returns the scalar under n, or records that it is not one.
func (p *parser) scalar(n *yaml.Node, key, want string) (*yaml.Node, bool) {
	r := resolve(n)
	if r.Kind != yaml.ScalarNode {
		p.errf(n, key, "must be %s, got %s", want, kindName(r))
		return nil, false
	}
	return r, true
}

func (p *parser) str(n *yaml.Node, key string) (string, bool) {
	r, ok := p.scalar(n, key, "a string")
	if !ok {
		return "", false
	}
	if r.Tag == "!!null" {
		return "", true
	}
	return r.Value, true
}

func (p *parser) integer(n *yaml.Node, key string, min, max int64) (int64, bool) {
	r, ok := p.scalar(n, key, "an integer")
	if !ok {
		return 0, false
	}
	var v int64
	if r.Tag != "!!int" || r.Decode(&v) != nil {
		p.errf(n, key, "must be an integer, got %s", kindName(r))
		return 0, false
	}
	if v < min || v > max {
		p.errf(n, key, "must be %d..%d, got %d", min, max, v)
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, key string) (bool, bool) {
	r, ok := p.scalar(n, key, "true or false")
	if !ok {
		return false, false
	}
	// yaml.v3 reads only true/false as booleans; on/off and yes/no are
	// accepted too because people write them (DESIGN says "ack: off").
	switch strings.ToLower(r.Value) {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	p.errf(n, key, "must be true or false, got %s", kindName(r))
	return false, false
}

// duration parses a Go duration ("30s", "1m30s") that must be > 0, or >= 0
// when zeroOK.
func (p *parser) duration(n *yaml.Node, key string, zeroOK bool) (time.Duration, bool) {
	r, ok := p.scalar(n, key, "a duration")
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(r.Value)
	if err != nil {
		if _, e := strconv.ParseFloat(r.Value, 64); e == nil && r.Value != "0" {
			p.errf(n, key, "bad duration %q: give a unit, e.g. %ss", r.Value, r.Value)
		} else {
			p.errf(n, key, "bad duration %q (e.g. 500ms, 30s, 2m)", r.Value)
		}
		return 0, false
	}
	if d < 0 || d == 0 && !zeroOK {
		p.errf(n, key, "bad duration %q: must be more than 0", r.Value)
		return 0, false
	}
	return d, true
}

func (p *parser) keyCombo(n *yaml.Node, key string) (string, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return "", false
	}
	keys, err := parseKeyCombo(s)
	if err != nil {
		p.errf(n, key, "%v", err)
		return "", false
	}
	return strings.Join(keys, "+"), true
}

// path resolves a path from the file: ~/ is the home directory, relative
// paths are relative to the file's directory. On Windows the file may
// spell paths as Windows does: C:\x or C:/x, \\server\share\x, ~\x; and
// \x or /x (rooted, no drive) is on the file's drive, where Windows itself
// would take the drive of whatever the working directory is.
func (p *parser) path(n *yaml.Node, key string, emptyOK bool) (string, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return "", false
	}
	if s == "" {
		if !emptyOK {
			p.errf(n, key, "must not be empty")
			return "", false
		}
		return "", true
	}
	if s == "~" || strings.HasPrefix(s, "~/") || len(s) > 1 && s[0] == '~' && os.IsPathSeparator(s[1]) {
		home, err := os.UserHomeDir()
		if err != nil {
			p.errf(n, key, "cannot expand ~: %v", err)
			return "", false
		}
		s = filepath.Join(home, s[1:])
	}
	if !filepath.IsAbs(s) {
		if vol := filepath.VolumeName(p.dir); vol != "" && os.IsPathSeparator(s[0]) {
			s = vol + s // Windows: \x is not relative to the file's directory
		} else {
			s = filepath.Join(p.dir, s)
		}
	}
	return filepath.Clean(s), true
}
