// Package jsonedit edits a JSON object that a person or another program
// keeps (an agent tool's hooks file), so that what it does not change stays
// as it was: keys keep their order and every value its bytes. An object
// indented by two spaces, as the agent tools and most editors write JSON,
// comes back byte for byte but for the values changed. It is a leaf: it
// imports nothing of ours (DESIGN §9).
package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Member is one key of a JSON object, its value kept as it was written.
type Member struct {
	Key   string
	Value json.RawMessage
}

// Object is the members of a JSON object, in their order.
type Object []Member

// Parse reads a JSON object, keeping its keys' order and every value's
// bytes.
func Parse(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out Object
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, Member{k, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

func (o Object) index(key string) int {
	for i, m := range o {
		if m.Key == key {
			return i
		}
	}
	return -1
}

// Get is the value of key, and whether o has it.
func (o Object) Get(key string) (json.RawMessage, bool) {
	if i := o.index(key); i >= 0 {
		return o[i].Value, true
	}
	return nil, false
}

// Set gives key the value v, where it stands, or as the last key. Like
// append, it may change o's own members: keep the result, and clone o
// first to keep o as it was. v must be valid JSON.
func (o Object) Set(key string, v json.RawMessage) Object {
	if i := o.index(key); i >= 0 {
		o[i].Value = v
		return o
	}
	return append(o, Member{key, v})
}

// Delete is o without key; o itself is left as it was.
func (o Object) Delete(key string) Object {
	if i := o.index(key); i >= 0 {
		return append(o[:i:i], o[i+1:]...)
	}
	return o
}

// Encode writes o as a JSON object indented by two spaces, with a final
// newline: an object written that way comes back byte for byte for every
// value that was not set.
func (o Object) Encode() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(Marshal(m.Key))
		b.WriteByte(':')
		b.Write(m.Value)
	}
	b.WriteByte('}')
	var c, out bytes.Buffer
	if err := json.Compact(&c, b.Bytes()); err != nil {
		panic(err) // every part was valid JSON
	}
	json.Indent(&out, c.Bytes(), "", "  ")
	out.WriteByte('\n')
	return out.Bytes()
}

// Array is the JSON array of es.
func Array(es []json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// Marshal is v as JSON with <, > and & as they are, as the tools and people
// write them: a command such as "a&b" must not come back as "a\u0026b".
func Marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return json.RawMessage(bytes.TrimSpace(b.Bytes()))
}

// Compact is b without insignificant space; b itself when it is no JSON.
func Compact(b []byte) []byte {
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return b
	}
	return c.Bytes()
}

// Equal reports whether a and b are the same JSON value (keys in any
// order, any layout).
func Equal(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return bytes.Equal(Marshal(x), Marshal(y))
}
