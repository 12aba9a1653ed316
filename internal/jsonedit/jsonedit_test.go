package jsonedit

import (
	"encoding/json"
	"strings"
	"testing"
)

// A person's hooks file, as the tools write JSON: two-space indents, a
// command with & and <, keys in no sorted order.
const file = `{
  "version": 1,
  "hooks": {
    "stop": [
      {
        "command": "./hooks/audit.sh --log /tmp/a&b.log <in"
      }
    ]
  },
  "x-note": "mine",
  "a": [1, 2]
}
`

// Parsed and encoded again untouched, the file comes back byte for byte
// (but for the array written on one line, which Encode spreads as the
// tools do).
func TestParseEncodeKeepsOrderAndBytes(t *testing.T) {
	o, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range o {
		keys = append(keys, m.Key)
	}
	if strings.Join(keys, " ") != "version hooks x-note a" {
		t.Fatalf("keys %v", keys)
	}
	want := strings.Replace(file, `"a": [1, 2]`, "\"a\": [\n    1,\n    2\n  ]", 1)
	if got := string(o.Encode()); got != want {
		t.Fatalf("encoded:\n%s\nwant:\n%s", got, want)
	}
}

// Set changes a key where it stands or adds it last; Delete takes it out
// and leaves the object it was given as it was; Get finds what is there.
func TestSetGetDelete(t *testing.T) {
	o, err := Parse([]byte(`{"b": 1, "a": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	o = o.Set("b", json.RawMessage(`"x"`)).Set("c", Marshal([]string{"a&b"}))
	if got := string(Compact(o.Encode())); got != `{"b":"x","a":2,"c":["a&b"]}` {
		t.Fatalf("after Set: %s", got)
	}
	d := o.Delete("a")
	if got := string(Compact(d.Encode())); got != `{"b":"x","c":["a&b"]}` {
		t.Fatalf("after Delete: %s", got)
	}
	if got := string(Compact(o.Encode())); got != `{"b":"x","a":2,"c":["a&b"]}` {
		t.Fatalf("Delete changed the object it was given: %s", got)
	}
	if v, ok := d.Get("c"); !ok || string(v) != `["a&b"]` {
		t.Fatalf("Get c = %s, %v", v, ok)
	}
	if _, ok := d.Get("a"); ok {
		t.Fatal("Get found a deleted key")
	}
	if got := string(Compact(Object(nil).Delete("x").Set("k", Array([]json.RawMessage{json.RawMessage("1"), json.RawMessage(`{}`)})).Encode())); got != `{"k":[1,{}]}` {
		t.Fatalf("an empty object set: %s", got)
	}
}

// Only one JSON object is an object to edit.
func TestParseRefuses(t *testing.T) {
	for _, s := range []string{``, `[1]`, `"x"`, `{"a": 1} {}`, `{"a": 1`, `{"a" 1}`} {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("Parse(%q) took it", s)
		}
	}
}

func TestEqualAndCompact(t *testing.T) {
	if !Equal([]byte("{\"a\": 1,\n \"b\": [true]}"), []byte(`{"b":[true],"a":1}`)) {
		t.Error("the same value in another layout and order is not Equal")
	}
	if Equal([]byte(`{"a": 1}`), []byte(`{"a": 2}`)) || Equal([]byte(`no json`), []byte(`no json`)) {
		t.Error("different values or no JSON are Equal")
	}
	if got := string(Compact([]byte("{ \"a\" : [ 1 ] }"))); got != `{"a":[1]}` {
		t.Errorf("Compact: %s", got)
	}
	if got := string(Compact([]byte("no json"))); got != "no json" {
		t.Errorf("Compact of no JSON: %s", got)
	}
	if got := string(Marshal("a&b <c>")); got != `"a&b <c>"` {
		t.Errorf("Marshal escapes: %s", got)
	}
}
