package config

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/parse.golden")

// TestParseGolden parses every file in testdata (the fuzz seeds), the
// example coords.yaml, a set of hand-written bad configs and, for every key
// of the file, a run of values of each wrong shape, and compares what Parse
// made of each (every field it set, or the exact error text, or the
// warnings) with testdata/golden/parse.golden. It pins the parser's
// behaviour, so a change to how the schema is written down can be shown to
// change nothing. Run with -update after a change meant to change it.
func TestParseGolden(t *testing.T) {
	if runtime.GOOS == "windows" {
		// The golden text has paths as Unix resolves them; TestWindowsPaths
		// is Windows' own.
		t.Skip("paths in the golden file are Unix paths")
	}
	var cases []goldenCase
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path, filepath.Join("testdata", "golden")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if seed, ok := fuzzSeed(data); ok {
			data = seed
		}
		cases = append(cases, goldenCase{filepath.ToSlash(path), string(data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile("../coords.yaml"); err == nil {
		cases = append(cases, goldenCase{"../coords.yaml", string(data)})
	}
	cases = append(cases, goldenBad...)
	cases = append(cases, keyMatrix()...)

	base := flatten(mustParse(t, minimal, "coords.yaml"))
	var b strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "=== %s\n", c.name)
		fmt.Fprintf(&b, "%s", indent(c.data))
		cfg, err := Parse([]byte(c.data), "coords.yaml")
		if err != nil {
			fmt.Fprintf(&b, "--- error\n%s\n", err)
			continue
		}
		// What differs from the minimal file, so each case shows what it
		// set; the minimal file itself is the first case below.
		fmt.Fprintf(&b, "--- ok\n")
		got := flatten(cfg)
		for _, k := range sortedKeys(got) {
			if base[k] != got[k] || c.name == "minimal" {
				fmt.Fprintf(&b, "%s = %s\n", k, got[k])
			}
		}
		for _, k := range sortedKeys(base) {
			if _, ok := got[k]; !ok {
				fmt.Fprintf(&b, "%s (gone)\n", k)
			}
		}
	}
	out := b.String()
	if dir, err := os.Getwd(); err == nil {
		out = strings.ReplaceAll(out, dir, "$DIR")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" && home != "/" {
		out = strings.ReplaceAll(out, home, "$HOME")
	}
	file := filepath.Join("testdata", "golden", "parse.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run TestParseGolden -update ./config/ to write it)", err)
	}
	if string(want) != out {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(out, "\n")
		for i := 0; i < len(wl) || i < len(gl); i++ {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s:%d differs:\nwant %q\ngot  %q\n(run with -update if the change is meant)", file, i+1, w, g)
			}
		}
	}
}

type goldenCase struct{ name, data string }

// fuzzSeed reads a file of the fuzz corpus ("go test fuzz v1" and one
// []byte literal).
func fuzzSeed(data []byte) ([]byte, bool) {
	s, ok := strings.CutPrefix(string(data), "go test fuzz v1\n")
	if !ok {
		return nil, false
	}
	s = strings.TrimSpace(s)
	s, ok = strings.CutPrefix(s, "[]byte(")
	if !ok || !strings.HasSuffix(s, ")") {
		return nil, false
	}
	v, err := strconv.Unquote(s[:len(s)-1])
	if err != nil {
		return nil, false
	}
	return []byte(v), true
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "| " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n| ") + "\n"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flatten lists every exported field of c, by path.
func flatten(c *Config) map[string]string {
	out := make(map[string]string)
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch x := v.Interface().(type) {
		case time.Duration:
			out[path] = x.String()
			return
		case *regexp.Regexp:
			if x == nil {
				out[path] = "nil"
			} else {
				out[path] = "/" + x.String() + "/"
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				out[path] = "nil"
				return
			}
			walk(path, v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				p := f.Name
				if !f.Anonymous {
					p = path + "." + f.Name
				} else {
					p = path
				}
				walk(strings.TrimPrefix(p, "."), v.Field(i))
			}
		case reflect.Slice:
			out[path+".len"] = strconv.Itoa(v.Len())
			for i := 0; i < v.Len(); i++ {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		case reflect.String:
			out[path] = strconv.Quote(v.String())
		default:
			out[path] = fmt.Sprint(v.Interface())
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

// goldenBad are mistakes and cross-key rules, one or a few per file.
var goldenBad = func() []goldenCase {
	var cs []goldenCase
	add := func(name, data string) { cs = append(cs, goldenCase{name, data}) }
	add("minimal", minimal)
	agent := func(extra string) string { return minimal + extra }
	// The cases of TestErrors.
	for _, c := range []struct{ name, data string }{
		{"empty", ""},
		{"comments only", "# nothing\n\n"},
		{"empty mapping", "{}\n"},
		{"top not a mapping", "- a\n- b\n"},
		{"broken yaml", "agents:\n  A: [\n"},
		{"broken yaml line", "spool: a\nagents:\n\tA: 1\n"},
		{"two documents", minimal + "---\nspool: x\n"},
		{"unknown top key", "spol: x\n" + minimal},
		{"unknown defaults key", "defaults:\n  sumbit: enter\n" + minimal},
		{"unknown agent key", agent("    colour: red\n")},
		{"unknown timing key", "timing:\n  mid: 1s\n" + minimal},
		{"merge key", "defaults:\n  <<: {ack: true}\n" + minimal},
		{"merge key in an agent", "agents:\n  A: {<<: {x: 1}, y: 1, window: w}\n"},
		{"duplicate top key", "spool: a\nspool: b\n" + minimal},
		{"duplicate agent", minimal + "  A:\n    x: 3\n    y: 4\n    window: v\n"},
		{"duplicate agent key", agent("    x: 5\n")},
		{"duplicate timing key", "timing: {min: 1s, min: 2s}\n" + minimal},
		{"bad agent name", "agents:\n  -bad:\n    x: 1\n    y: 1\n    window: w\n"},
		{"agent name with space", "agents:\n  'a b': {x: 1, y: 1, window: w}\n"},
		{"agent name too long", "agents:\n  " + strings.Repeat("a", 65) + ": {x: 1, y: 1, window: w}\n"},
		{"agent name not a string", "agents:\n  [a]: {x: 1, y: 1, window: w}\n"},
		{"agent name null", "agents:\n  ~: {x: 1, y: 1, window: w}\n"},
		{"agent not a mapping", "agents:\n  A: 5\n"},
		{"agent null", "agents:\n  A:\n"},
		{"agents not a mapping", "agents: [a, b]\n"},
		{"agents null", "agents:\n"},
		{"no agents key", "spool: x\n"},
		{"no agents", "agents: {}\n"},
		{"missing x", "agents:\n  A:\n    y: 1\n    window: w\n"},
		{"missing y", "agents:\n  A:\n    x: 1\n    window: w\n"},
		{"missing window", "agents:\n  A:\n    x: 1\n    y: 1\n"},
		{"missing everything", "agents:\n  A: {}\n"},
		{"bad x and missing y", "agents:\n  A: {x: a, window: w}\n"},
		{"empty window", "agents:\n  A:\n    x: 1\n    y: 1\n    window: ''\n"},
		{"bad regex", "agents:\n  A:\n    x: 1\n    y: 1\n    window: /a(b/\n"},
		{"empty regex", "agents:\n  A:\n    x: 1\n    y: 1\n    window: //\n"},
		{"regex matching everything", "agents:\n  A: {x: 1, y: 1, window: /.*/}\n"},
		{"regex matching empty", "agents:\n  A: {x: 1, y: 1, window: /^/}\n"},
		{"empty exact title", "agents:\n  A: {x: 1, y: 1, window: '='}\n"},
		{"exact title", "agents:\n  A: {x: 1, y: 1, window: '=A b'}\n"},
		{"one slash", "agents:\n  A: {x: 1, y: 1, window: /}\n"},
		{"window a list", "agents:\n  A: {x: 1, y: 1, window: [a]}\n"},
		{"x not integer", "agents:\n  A:\n    x: left\n    y: 1\n    window: w\n"},
		{"x float", "agents:\n  A:\n    x: 1.5\n    y: 1\n    window: w\n"},
		{"x quoted", "agents:\n  A:\n    x: '1'\n    y: 1\n    window: w\n"},
		{"y huge", "agents:\n  A:\n    x: 1\n    y: 99999999999\n    window: w\n"},
		{"x hex", "agents:\n  A: {x: 0x10, y: -0o7, window: w}\n"},
		{"negative pid", agent("    pid: -3\n")},
		{"empty inbox", agent("    inbox: ''\n")},
		{"ack pattern", agent("    ack_pattern: 'MESSAGE_[0-9]+_(?P<id>.+)\\.md'\n")},
		{"ack pattern without id", agent("    ack_pattern: 'MESSAGE_.*\\.md'\n")},
		{"ack pattern with two ids", agent("    ack_pattern: '(?P<id>a)_(?P<id>b)'\n")},
		{"ack pattern bad regex", agent("    ack_pattern: '(?P<id>'\n")},
		{"ack pattern of a bare id", agent("    ack_pattern: '(?P<id>.+)'\n")},
		{"ack pattern of a message copy", agent("    ack_pattern: '(?P<id>[^.]+)\\.md'\n")},
		{"ack pattern of a txt copy", agent("    ack_pattern: '(?P<id>[^.]+)\\.txt'\n")},
		{"ack pattern in defaults", "defaults:\n  ack_pattern: 'x(?P<id>.+)'\n" + minimal},
		{"bad duration", agent("    ack_timeout: 3 sec\n")},
		{"duration without unit", agent("    backoff: 5\n")},
		{"duration zero without unit", agent("    backoff: 0\n")},
		{"negative duration", "defaults:\n  backoff: -1s\n" + minimal},
		{"zero ack timeout", "defaults:\n  ack_timeout: 0s\n" + minimal},
		{"bad scan interval", "scan_interval: soon\n" + minimal},
		{"bad metrics address", "metrics: 127.0.0.1\n" + minimal},
		{"bad metrics port", "metrics: 127.0.0.1:99999\n" + minimal},
		{"metrics host name", "metrics: example.com:9464\n" + minimal},
		{"metrics not a string", "metrics: [1]\n" + minimal},
		{"metrics port only", "metrics: 9464\n" + minimal},
		{"metrics ipv6", "metrics: '[::1]:1'\n" + minimal},
		{"bad timing", "timing:\n  min: 1x\n" + minimal},
		{"timing min>max", "timing: {min: 2s, max: 1s}\n" + minimal},
		{"timing bad min over max", "timing: {min: 1x, max: 1ms}\n" + minimal},
		{"timing a list", "timing: [1]\n" + minimal},
		{"timing null", "timing:\n" + minimal},
		{"bad key combo", agent("    submit: ctrl+foo\n")},
		{"bad urgent combo", "defaults:\n  urgent_submit: enter+ctrl\n" + minimal},
		{"bad undo combo", "defaults:\n  undo: ctrl\n" + minimal},
		{"bad paste", agent("    paste: half\n")},
		{"bad ack", agent("    ack: maybe\n")},
		{"max_attempts 0", agent("    max_attempts: 0\n")},
		{"max_attempts 101", "defaults:\n  max_attempts: 101\n" + minimal},
		{"max_message_bytes 0", "max_message_bytes: 0\n" + minimal},
		{"max_message_bytes huge", "max_message_bytes: 16777217\n" + minimal},
		{"bad envelope syntax", "envelope: '{{.ID'\n" + minimal},
		{"bad envelope field", "envelope: '{{.Sender}}'\n" + minimal},
		{"envelope loop", "envelope: '{{range 100000000}}{{end}}{{.ID}}'\n" + minimal},
		{"envelope recursion", "envelope: '{{define \"x\"}}{{template \"x\"}}{{end}}{{template \"x\"}}'\n" + minimal},
		{"multi-line envelope", "envelope: \"a\\n{{.ID}}\"\n" + minimal},
		{"empty envelope", "envelope: ''\n" + minimal},
		{"blank envelope", "envelope: '  '\n" + minimal},
		{"long envelope", "envelope: '" + strings.Repeat("x", 1100) + "'\n" + minimal},
		{"empty spool", "spool: ''\n" + minimal},
		{"spool a list", "spool: [a]\n" + minimal},
		{"spool home", "spool: ~/q\ninbox_root: '~'\n" + minimal},
		{"spool rooted", "spool: /var/q\nlock_file: ./x/../l\n" + minimal},
		{"defaults a list", "defaults: [a]\n" + minimal},
		{"defaults null", "defaults:\n" + minimal},
		{"alert command trimmed", "alert_command: ' a b '\n" + minimal},
		// Cross-key rules.
		{"urgent_submit follows submit", "defaults:\n  submit: shift+enter\n" + minimal},
		{"urgent_submit follows the agent's submit", agent("    submit: Ctrl+Enter\n")},
		{"urgent_submit in defaults is inherited", "defaults:\n  urgent_submit: ctrl+enter\n" + agent("    submit: shift+enter\n")},
		{"urgent_submit bad in defaults", "defaults:\n  urgent_submit: x+\n" + agent("    submit: shift+enter\n")},
		{"kind terminal", agent("    kind: terminal\n")},
		{"kind terminal in defaults", "defaults:\n  kind: terminal\n" + minimal},
		{"kind terminal in defaults, draft_check in the agent", "defaults:\n  kind: terminal\n" + agent("    draft_check: false\n")},
		{"kind terminal with draft_check", agent("    kind: terminal\n    draft_check: true\n")},
		{"kind terminal with verify_paste and copy", agent("    kind: terminal\n    verify_paste: yes\n    copy: ctrl+shift+c\n")},
		{"kind terminal with draft_check in defaults", "defaults:\n  draft_check: on\n" + agent("    kind: terminal\n")},
		{"kind terminal with copy CTRL+C", agent("    kind: terminal\n    verify_paste: true\n    copy: CTRL+C\n")},
		{"kind chat", agent("    kind: chat\n")},
		{"kind auto", "defaults:\n  kind: chat\n" + agent("    kind: auto\n")},
		{"kind empty", agent("    kind: ''\n")},
		{"kind bad", agent("    kind: xterm\n")},
		{"deliver_when", "defaults:\n  deliver_when: ready\n" + agent("    deliver_when: always\n")},
		{"deliver_when empty", agent("    deliver_when: ''\n")},
		{"deliver_when bad", agent("    deliver_when: never\n")},
		{"paste_settle", agent("    paste_settle: 1s\n")},
		{"paste_settle too long", agent("    paste_settle: 1001ms\n")},
		{"class alone", "agents:\n  A: {x: 1, y: 1, class: term-a}\n"},
		{"class empty", "agents:\n  A: {x: 1, y: 1, class: ' '}\n"},
		{"class empty with window", "agents:\n  A: {x: 1, y: 1, class: '', window: w}\n"},
		{"pid alone", "agents:\n  A: {x: 1, y: 1, pid: 7}\n"},
		{"pid zero alone", "agents:\n  A: {x: 1, y: 1, pid: 0}\n"},
		{"pid bad alone", "agents:\n  A: {x: 1, y: 1, pid: a}\n"},
		{"same class", "agents:\n  A: {x: 1, y: 1, class: term}\n  B: {x: 1, y: 1, class: TERM}\n  C: {x: 1, y: 1, class: term}\n"},
		{"same class other pid", "agents:\n  A: {x: 1, y: 1, class: term, pid: 1}\n  B: {x: 1, y: 1, class: term, pid: 2}\n"},
		{"same class with a window", "agents:\n  A: {x: 1, y: 1, class: term, window: a}\n  B: {x: 1, y: 1, class: term}\n"},
		{"overlapping windows", "agents:\n  Agent-1: {x: 1, y: 1, window: Agent-1}\n  Agent-10: {x: 1, y: 1, window: Agent-10}\n  R: {x: 1, y: 1, window: '/^Agent/'}\n"},
		{"bad agent and good agent", "agents:\n  A: {x: 1, y: 1, window: w, ack: maybe}\n  B: {x: 1, y: 1, window: v}\n"},
		{"error lines sorted", "agents:\n  A:\n    x: 1\n    y: 1\n    window: w\n    ack_timeout: 3 sec\n  B:\n    y: 2\n    window: v\nbogus: 1\ndefaults:\n  paste: half\n"},
		{"aliases", "defaults:\n  ack_timeout: &slow 2m\nagents:\n  A: &a\n    x: 1\n    y: 2\n    window: w\n    backoff: *slow\n  B: *a\n"},
		{"self alias", "agents: &x\n  A: *x\n"},
		{"alias key", "k: &k spool\n*k : x\n" + minimal},
		{"tagged values", "spool: !!str 5\nmax_message_bytes: !!str 5\n" + minimal},
		{"booleans", agent("    ack: OFF\n    bounce: No\n    draft_check: YES\n    verify_paste: False\n")},
		{"bool a number", agent("    ack: 1\n")},
		{"every setting in defaults", "defaults:\n  submit: ctrl+enter\n  urgent_submit: alt+enter\n  undo: ctrl+shift+z\n  ack: false\n  ack_timeout: 1m\n  max_attempts: 7\n  paste: pointer\n  backoff: 0s\n  kind: chat\n  draft_check: false\n  select_all: ctrl+slash\n  copy: ctrl+insert\n  caret: ctrl+end\n  paste_settle: 10ms\n  verify_paste: false\n  deliver_when: ready\n  urgent_after: 0s\n  busy_max: 1h\n  bounce: false\n  paste_key: shift+insert\n" + minimal},
		{"every top key", "spool: s\ninbox_root: i\nlock_file: l\nmax_message_bytes: 1\nenvelope: '{{.ID}}'\ntiming: {min: 1ms, max: 1ms}\nscan_interval: 1s\nquiet_for: 0s\nquiet_max_wait: 0s\nmetrics: ':1'\nalert_command: a\n" + minimal},
	} {
		add(c.name, c.data)
	}
	return cs
}()

// keyMatrix writes, for every key in each place it may appear (and in one
// place it may not), one file per value of a set meant to hit every kind's
// errors.
func keyMatrix() []goldenCase {
	values := []string{"[a]", "{a: 1}", "~", "''", "bogus", "-1", "0", "7", "0s", "-1s", "2s", "1.5", "true", "off", "ctrl+shift+v", "/x/", "x(?P<id>.+)y"}
	top := []string{"spool", "inbox_root", "lock_file", "max_message_bytes", "envelope", "timing", "scan_interval",
		"quiet_for", "quiet_max_wait", "metrics", "alert_command", "defaults", "agents", "nope"}
	settings := []string{"submit", "urgent_submit", "undo", "ack", "ack_timeout", "max_attempts", "paste", "backoff",
		"kind", "draft_check", "select_all", "copy", "caret", "paste_settle", "verify_paste", "deliver_when", "urgent_after", "busy_max", "bounce", "paste_key", "x", "nope"}
	agentOnly := []string{"x", "y", "window", "class", "pid", "inbox", "ack_pattern"}
	var cs []goldenCase
	for _, k := range top {
		for _, v := range values {
			data := k + ": " + v + "\n"
			if k != "agents" {
				data += minimal
			}
			cs = append(cs, goldenCase{"top " + k + "=" + v, data})
		}
	}
	for _, k := range []string{"min", "max", "nope"} {
		for _, v := range values {
			cs = append(cs, goldenCase{"timing " + k + "=" + v, "timing:\n  " + k + ": " + v + "\n" + minimal})
		}
	}
	for _, k := range settings {
		for _, v := range values {
			cs = append(cs, goldenCase{"defaults " + k + "=" + v, "defaults:\n  " + k + ": " + v + "\n" + minimal})
		}
	}
	for _, k := range append(agentOnly, settings...) {
		for _, v := range values {
			data := "agents:\n  A:\n    " + k + ": " + v + "\n"
			for _, req := range []string{"x: 1", "y: 2", "window: w"} {
				if !strings.HasPrefix(req, k+":") {
					data += "    " + req + "\n"
				}
			}
			cs = append(cs, goldenCase{"agent " + k + "=" + v, data})
		}
	}
	return cs
}
