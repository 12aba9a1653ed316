package config

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// AgentEdit is a change to one agent's entry in coords.yaml: its point and,
// when Window is not "", its window matcher. An agent not in the file is
// added at the end of agents: (then Window is required).
type AgentEdit struct {
	Name   string
	X, Y   int
	Window string
	// Class, when not "", is written as the agent's class:; PID, when not
	// 0, as its pid:. DropWindow removes the agent's window: (a title an
	// agent CLI rewrites is no way to find its window).
	Class      string
	PID        int
	DropWindow bool
}

// values are the keys e writes, in order, as YAML text.
func (e AgentEdit) values() []struct{ key, text string } {
	vals := []struct{ key, text string }{{"x", strconv.Itoa(e.X)}, {"y", strconv.Itoa(e.Y)}}
	if e.Window != "" {
		vals = append(vals, struct{ key, text string }{"window", quoteWindow(e.Window)})
	}
	if e.Class != "" {
		vals = append(vals, struct{ key, text string }{"class", quoteWindow(e.Class)})
	}
	if e.PID != 0 {
		vals = append(vals, struct{ key, text string }{"pid", strconv.Itoa(e.PID)})
	}
	return vals
}

// names reports whether e names a window (what a new agent needs).
func (e AgentEdit) names() bool { return e.Window != "" || e.Class != "" || e.PID != 0 }

// EditAgents returns the coords.yaml text data with edits applied, keeping
// everything else as it was: comments, blank lines, key order, quoting.
//
// The yaml.v3 Node API finds where each value is; the new values are then
// spliced into the text at those places. Re-encoding the node tree would
// also keep the comments, but yaml.v3 drops blank lines and re-indents,
// which turns a person's tidy file into a diff of the whole file. Where a
// splice is not safe (flow-style agents, a value spread over lines), the
// edit falls back to re-encoding the tree.
//
// The result is not validated as a configuration; Parse it for that.
func EditAgents(data []byte, edits []AgentEdit) ([]byte, error) {
	for _, e := range edits {
		if !ValidName(e.Name) {
			return nil, fmt.Errorf("config: bad agent name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", e.Name)
		}
	}
	out := data
	for _, e := range edits {
		next, err := editAgent(out, e)
		if err != nil {
			return nil, err
		}
		out = next
	}
	return out, nil
}

func editAgent(data []byte, e AgentEdit) ([]byte, error) {
	doc, err := decodeDoc(data)
	if err != nil {
		return nil, err
	}
	if out, ok := spliceAgent(data, doc, e); ok {
		if check, err := decodeDoc(out); err == nil && agentIs(check, e) {
			return out, nil
		}
	}
	return reencodeAgent(doc, e)
}

// decodeDoc parses data into its document node; an empty file (or one of
// only comments) is a document without content.
func decodeDoc(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("config: yaml: cannot parse: %v", r)
		}
	}()
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if n.Kind == 0 {
		n = yaml.Node{Kind: yaml.DocumentNode}
	}
	if len(n.Content) > 0 && n.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("config: the file is not a mapping of keys (spool:, agents:, ...)")
	}
	return &n, nil
}

// lookup returns the key and value nodes of key in mapping m.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// agentIs reports whether doc has agent e.Name with e's values.
func agentIs(doc *yaml.Node, e AgentEdit) bool {
	if len(doc.Content) == 0 {
		return false
	}
	_, agents := lookup(doc.Content[0], "agents")
	_, a := lookup(agents, e.Name)
	if a == nil {
		return false
	}
	for _, kv := range e.values() {
		_, v := lookup(a, kv.key)
		want := kv.text
		if kv.key == "window" {
			want = e.Window
		} else if kv.key == "class" {
			want = e.Class
		}
		if v == nil || v.Value != want {
			return false
		}
	}
	_, w := lookup(a, "window")
	if e.DropWindow {
		return w == nil
	}
	_, cls := lookup(a, "class")
	_, pid := lookup(a, "pid")
	return w != nil || cls != nil || pid != nil
}

// quoteWindow writes a title as a YAML double-quoted scalar. Go's escapes
// (\", \\, \n, \t, \uXXXX, \UXXXXXXXX, \xXX) are all YAML escapes too.
func quoteWindow(s string) string { return strconv.Quote(s) }

type splice struct {
	at, end int // byte range replaced (at == end: an insertion)
	text    string
	order   int
}

// spliceAgent edits the text in place; ok false means "not safe here".
func spliceAgent(data []byte, doc *yaml.Node, e AgentEdit) ([]byte, bool) {
	newBlock := func() ([]byte, bool) {
		// No agents: yet: append the section, agent and all.
		if !e.names() {
			return nil, false
		}
		out := append([]byte(nil), data...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = fmt.Appendf(out, "agents:\n  %s:\n", e.Name)
		for _, kv := range e.values() {
			out = fmt.Appendf(out, "    %s: %s\n", kv.key, kv.text)
		}
		return out, true
	}
	if len(doc.Content) == 0 {
		return newBlock()
	}
	root := doc.Content[0]
	if root.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	lines := lineStarts(data)
	ak0, agents := lookup(root, "agents")
	if ak0 == nil {
		return newBlock()
	}
	if agents == nil || agents.Kind != yaml.MappingNode || agents.Style&yaml.FlowStyle != 0 || len(agents.Content) == 0 {
		return nil, false
	}
	var edits []splice
	ak, a := lookup(agents, e.Name)
	switch {
	case a == nil:
		// A new agent: after the last line of agents:, indented like the
		// first agent.
		first := agents.Content[0]
		indent := first.Column - 1
		child := indent + 2
		if fv := agents.Content[1]; fv.Kind == yaml.MappingNode && fv.Style&yaml.FlowStyle == 0 && len(fv.Content) > 0 {
			child = fv.Content[0].Column - 1
		}
		if !e.names() {
			return nil, false
		}
		last, ok := lastLine(agents)
		if !ok {
			return nil, false
		}
		pad, cpad := strings.Repeat(" ", indent), strings.Repeat(" ", child)
		text := fmt.Sprintf("%s%s:\n", pad, e.Name)
		for _, kv := range e.values() {
			text += fmt.Sprintf("%s%s: %s\n", cpad, kv.key, kv.text)
		}
		at := lineEnd(data, lines, last)
		if at == len(data) && (len(data) == 0 || data[len(data)-1] != '\n') {
			text = "\n" + text
		}
		edits = append(edits, splice{at: at, end: at, text: text})
	case a.Kind == yaml.MappingNode && a.Style&yaml.FlowStyle == 0 && len(a.Content) > 0:
		if _, w := lookup(a, "window"); e.DropWindow && w != nil {
			return nil, false // a key to remove: the tree's way
		}
		child := a.Content[0].Column - 1
		for _, kv := range e.values() {
			_, v := lookup(a, kv.key)
			if v == nil {
				// A missing key goes right under the agent's name.
				at := lineEnd(data, lines, ak.Line)
				edits = append(edits, splice{at: at, end: at, text: strings.Repeat(" ", child) + kv.key + ": " + kv.text + "\n"})
				continue
			}
			at, end, ok := scalarSpan(data, lines, v)
			if !ok {
				return nil, false
			}
			edits = append(edits, splice{at: at, end: end, text: kv.text})
		}
	default:
		return nil, false
	}
	// From the end backwards, so earlier offsets stay right; insertions at
	// one place go in the order they were listed.
	for i := range edits {
		edits[i].order = i
	}
	sort.Slice(edits, func(i, j int) bool {
		if edits[i].at != edits[j].at {
			return edits[i].at > edits[j].at
		}
		return edits[i].order > edits[j].order
	})
	out := append([]byte(nil), data...)
	for _, s := range edits {
		out = append(out[:s.at], append([]byte(s.text), out[s.end:]...)...)
	}
	return out, true
}

// lineStarts returns the byte offset of each line (index 0 = line 1).
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineEnd is the offset just after line n's newline (or the end of data).
func lineEnd(data []byte, lines []int, n int) int {
	if n < len(lines) {
		return lines[n]
	}
	return len(data)
}

// lastLine is the last line any node under n starts on; not ok when a
// block scalar (| or >) could run past it.
func lastLine(n *yaml.Node) (int, bool) {
	last, ok := n.Line, true
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Line > last {
			last = n.Line
		}
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || strings.Contains(n.Value, "\n") {
			ok = false
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return last, ok
}

// scalarSpan finds the bytes of a one-line scalar in the text.
func scalarSpan(data []byte, lines []int, v *yaml.Node) (int, int, bool) {
	if v.Kind != yaml.ScalarNode || v.Line < 1 || v.Line > len(lines) || v.Tag == "!!null" && v.Value == "" {
		return 0, 0, false
	}
	lineStart := lines[v.Line-1]
	lineStop := lineEnd(data, lines, v.Line)
	// Column counts characters, not bytes.
	at := lineStart
	for c := 1; c < v.Column && at < lineStop; c++ {
		_, size := utf8.DecodeRune(data[at:])
		at += size
	}
	line := data[at:lineStop]
	switch v.Style {
	case 0:
		if !bytes.HasPrefix(line, []byte(v.Value)) {
			return 0, 0, false
		}
		return at, at + len(v.Value), true
	case yaml.DoubleQuotedStyle:
		for i := 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				return at, at + i + 1, true
			}
		}
	case yaml.SingleQuotedStyle:
		for i := 1; i < len(line); i++ {
			if line[i] == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return at, at + i + 1, true
			}
		}
	}
	return 0, 0, false
}

// reencodeAgent edits the node tree and encodes it again: comments and
// order are kept, blank lines and indentation are yaml.v3's.
func reencodeAgent(doc *yaml.Node, e AgentEdit) ([]byte, error) {
	if len(doc.Content) == 0 {
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
	}
	root := doc.Content[0]
	_, agents := lookup(root, "agents")
	if agents == nil {
		agents = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "agents"}, agents)
	}
	if agents.Kind == yaml.ScalarNode && agents.Tag == "!!null" {
		*agents = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: agents.HeadComment, LineComment: agents.LineComment}
	}
	if agents.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: line %d: agents: is not a mapping; fix it by hand", agents.Line)
	}
	_, a := lookup(agents, e.Name)
	if a == nil {
		if !e.names() {
			return nil, fmt.Errorf("config: agent %s is new: its window title (or class, or pid) is needed", e.Name)
		}
		a = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		agents.Content = append(agents.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.Name}, a)
	}
	if a.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("config: line %d: agent %s is a YAML alias; edit it by hand", a.Line, e.Name)
	}
	if a.Kind == yaml.ScalarNode && a.Tag == "!!null" {
		*a = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if a.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: line %d: agent %s is not a mapping; fix it by hand", a.Line, e.Name)
	}
	set := func(key string, v *yaml.Node) {
		if _, old := lookup(a, key); old != nil {
			old.Kind, old.Tag, old.Value, old.Style, old.Content, old.Alias = v.Kind, v.Tag, v.Value, v.Style, nil, nil
			return
		}
		a.Content = append(a.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	}
	set("x", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(e.X)})
	set("y", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(e.Y)})
	if e.Window != "" {
		set("window", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.Window, Style: yaml.DoubleQuotedStyle})
	}
	if e.Class != "" {
		set("class", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.Class, Style: yaml.DoubleQuotedStyle})
	}
	if e.PID != 0 {
		set("pid", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(e.PID)})
	}
	if e.DropWindow {
		for i := 0; i+1 < len(a.Content); i += 2 {
			if a.Content[i].Value == "window" {
				a.Content = append(a.Content[:i], a.Content[i+2:]...)
				break
			}
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b.Bytes(), nil
}
