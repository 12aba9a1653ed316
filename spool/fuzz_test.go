package spool

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseMessage: no panic; an accepted message is valid UTF-8 without
// NUL, within the limit, with a non-blank body and a valid priority; and
// Scan's fast header reader agrees with the full parser on it.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("---\nid: x1\npriority: urgent\n---\nhello\n"))
	f.Add([]byte("plain body"))
	const limit = 8 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage("fuzz.md", data, limit)
		if err != nil {
			if !IsBadMessage(err) || !IsPermanent(err) {
				t.Fatalf("error %v is not a permanent bad-message error", err)
			}
			return
		}
		if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 || len(data) > limit || len(data) == 0 {
			t.Fatalf("accepted bad data %q", data)
		}
		if strings.TrimSpace(m.Body) == "" {
			t.Fatalf("accepted a blank body: %q", data)
		}
		if m.Priority < PriorityNormal || m.Priority > PriorityUrgent {
			t.Fatalf("priority %d", m.Priority)
		}
		if m.ID != "fuzz" && !validID(m.ID) {
			t.Fatalf("accepted id %q", m.ID)
		}
		if !bytes.HasSuffix(data, []byte(m.Body)) {
			t.Fatalf("body %q is not the end of the file", m.Body)
		}
		if len(data) <= headerBytes {
			h := scanHeader(data)
			if h.prio != m.Priority || (h.id == "" && m.ID != "fuzz" && m.ID != "") || (h.id != "" && h.id != m.ID) {
				t.Fatalf("scanHeader = %+v, ParseMessage = id %q priority %v, for %q", h, m.ID, m.Priority, data)
			}
		}
		// Where the fast front-matter reader claims a header, YAML must agree.
		if fmText, _, ok, err := SplitFrontMatter(data); ok && err == nil {
			if q, ok := quickFrontMatter(fmText); ok {
				y, err := decodeFrontMatter(fmText)
				if err != nil || q != y {
					t.Fatalf("quick %+v, yaml %+v (%v) for %q", q, y, err, fmText)
				}
			}
		}
	})
}

// FuzzParseName: no panic; the base never ends in an own info suffix; formatting
// then parsing a valid base and info round-trips; parse-format-parse is stable.
func FuzzParseName(f *testing.F) {
	f.Add("1764228612.1.P9Q1Rab.host:A2,N1764228700000", 2, int64(1764228700000))
	f.Add("m:2,S", 0, int64(-1))
	f.Fuzz(func(t *testing.T, name string, attempt int, ms int64) {
		base, info := ParseName(name)
		if b, i := ParseName(base); b != base || i != (Info{}) {
			t.Fatalf("base %q of %q ends in an info suffix", base, name)
		}
		if !strings.ContainsRune(name, infoSep) && (base != name || info != (Info{})) {
			t.Fatalf("ParseName(%q) = %q, %+v", name, base, info)
		}
		if info.Attempt < 0 {
			t.Fatalf("negative attempt from %q", name)
		}
		b2, i2 := ParseName(FormatName(base, info))
		if b2 != base || i2.Attempt != info.Attempt || !i2.NotBefore.Equal(info.NotBefore) {
			t.Fatalf("unstable: %q -> %q %+v -> %q %+v", name, base, info, b2, i2)
		}

		want := Info{Attempt: attempt}
		if want.Attempt < 0 {
			want.Attempt = 0
		}
		if ms >= 0 {
			want.NotBefore = time.UnixMilli(ms)
		}
		got := FormatName(base, want)
		b3, i3 := ParseName(got)
		if b3 != base || i3.Attempt != want.Attempt || !i3.NotBefore.Equal(want.NotBefore) {
			t.Fatalf("FormatName(%q, %+v) = %q parses as %q, %+v", base, want, got, b3, i3)
		}
	})
}
