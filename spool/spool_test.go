package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const sep = string(infoSep)

func openTest(t *testing.T) *Spool {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func enqueue(t *testing.T, s *Spool, agent, data string) Entry {
	t.Helper()
	e, err := s.Enqueue(agent, []byte(data))
	if err != nil {
		t.Fatalf("Enqueue(%s): %v", agent, err)
	}
	return e
}

func scan(t *testing.T, s *Spool, st State, agent string) []Entry {
	t.Helper()
	es, err := s.Scan(st, agent)
	if err != nil {
		t.Fatalf("Scan(%s, %q): %v", st, agent, err)
	}
	return es
}

func names(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestOpenCreatesLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "spool")
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(s.Root) {
		t.Errorf("Root %q is not absolute", s.Root)
	}
	for _, d := range []string{"tmp", "new", "cur", "done", "failed", "hold"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if err := s.EnsureAgent("Agent-1"); err != nil {
		t.Fatal(err)
	}
	for _, st := range States {
		if _, err := os.Stat(filepath.Join(root, string(st), "Agent-1")); err != nil {
			t.Error(err)
		}
	}
	if err := s.EnsureAgent("../x"); !IsBadAgent(err) {
		t.Errorf("EnsureAgent(../x) = %v, want bad agent", err)
	}
	agents, err := s.Agents()
	if err != nil || !slices.Equal(agents, []string{"Agent-1"}) {
		t.Errorf("Agents() = %v, %v", agents, err)
	}
}

func TestValidAgentName(t *testing.T) {
	for name, want := range map[string]bool{
		"Agent-1": true, "a": true, "a.b_c-d": true, strings.Repeat("a", 64): true,
		"": false, ".": false, "..": false, ".hidden": false, "-x": false, "a/b": false,
		"a..b": false, "a b": false, strings.Repeat("a", 65): false, "Ägent": false, `a\b`: false,
	} {
		if got := ValidAgentName(name); got != want {
			t.Errorf("ValidAgentName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestEnqueueAndRead(t *testing.T) {
	s := openTest(t)
	msg := "---\nid: hello-1\nfrom: Agent-6\npriority: urgent\nack: false\n---\nHi there.\n"
	e := enqueue(t, s, "Agent-2", msg)
	if e.State != StateNew || e.Agent != "Agent-2" || e.ID != "hello-1" || e.Priority != PriorityUrgent || e.Size != int64(len(msg)) {
		t.Errorf("entry = %+v", e)
	}
	if got, err := os.ReadFile(filepath.Join(s.Root, "new", "Agent-2", e.Name)); err != nil || string(got) != msg {
		t.Fatalf("file = %q, %v", got, err)
	}
	if left := dirEntries(t, filepath.Join(s.Root, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
	m, err := s.Read(e)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "hello-1" || m.From != "Agent-6" || m.Priority != PriorityUrgent || m.Ack == nil || *m.Ack || m.Body != "Hi there.\n" {
		t.Errorf("message = %+v", m)
	}
	es := scan(t, s, StateNew, "")
	if len(es) != 1 || es[0].Name != e.Name || es[0].ID != "hello-1" || es[0].Priority != PriorityUrgent {
		t.Errorf("scan = %+v", es)
	}
}

func TestEnqueueRefusesBadInput(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 10<<20)
	cases := []struct {
		name  string
		agent string
		data  []byte
		is    func(error) bool
	}{
		{"dotdot agent", "..", []byte("hi"), IsBadAgent},
		{"slash agent", "a/b", []byte("hi"), IsBadAgent},
		{"empty agent", "", []byte("hi"), IsBadAgent},
		{"dotdot inside agent", "a..b", []byte("hi"), IsBadAgent},
		{"empty", "A", nil, IsEmpty},
		{"whitespace only", "A", []byte(" \n\t\r\n"), IsEmpty},
		{"front matter only", "A", []byte("---\nid: x\n---\n\n"), IsEmpty},
		{"10 MiB", "A", big, IsTooLarge},
		{"invalid UTF-8", "A", []byte("caf\xe9\n"), IsNotUTF8},
		{"NUL byte", "A", []byte("a\x00b"), IsNotUTF8},
		{"unterminated front matter", "A", []byte("---\nid: x\nbody\n"), IsBadFrontMatter},
		{"just ---", "A", []byte("---"), IsBadFrontMatter},
		{"YAML error", "A", []byte("---\nid: [x\n---\nbody\n"), IsBadFrontMatter},
		{"unknown key", "A", []byte("---\nsubject: x\n---\nbody\n"), IsBadFrontMatter},
		{"duplicate key", "A", []byte("---\nid: x\nid: y\n---\nbody\n"), IsBadFrontMatter},
		{"bad priority", "A", []byte("---\npriority: asap\n---\nbody\n"), IsBadFrontMatter},
		{"bad id", "A", []byte("---\nid: ../etc\n---\nbody\n"), IsBadFrontMatter},
		{"bad ack", "A", []byte("---\nack: maybe\n---\nbody\n"), IsBadFrontMatter},
		{"control char in from", "A", []byte("---\nfrom: \"a\\nb\"\n---\nbody\n"), IsBadFrontMatter},
		{"not a mapping", "A", []byte("---\njust text\n---\nbody\n"), IsBadFrontMatter},
	}
	s := openTest(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Enqueue(c.agent, c.data)
			if err == nil || !c.is(err) || !IsPermanent(err) {
				t.Fatalf("Enqueue = %v, want a matching permanent error", err)
			}
			if !strings.HasPrefix(err.Error(), "spool: ") {
				t.Errorf("error %q lacks the spool: prefix", err)
			}
		})
	}
	if agents, _ := s.Agents(); len(agents) != 0 {
		t.Errorf("something was queued: agents %v", agents)
	}
	if left := dirEntries(t, filepath.Join(s.Root, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
}

func TestEnqueueFile(t *testing.T) {
	s := openTest(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "note.md")
	os.WriteFile(good, []byte("hello\n"), 0o600)
	e, err := s.EnqueueFile("A", good)
	if err != nil || e.ID == "" {
		t.Fatalf("EnqueueFile = %+v, %v", e, err)
	}
	// We run as root, which ignores chmod 000, so "unreadable" is made of a
	// directory, a dangling symlink and a missing file.
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dangling, filepath.Join(dir, "missing")} {
		if _, err := s.EnqueueFile("A", p); err == nil || !strings.HasPrefix(err.Error(), "spool: ") {
			t.Errorf("EnqueueFile(%s) = %v, want a read error", p, err)
		}
	}
	if _, err := s.EnqueueFile("A", dir); !IsBadMessage(err) || !strings.Contains(err.Error(), dir) {
		t.Errorf("EnqueueFile(a directory) = %v, want a not-a-regular-file error naming it", err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, bytes.Repeat([]byte("x"), DefaultMaxMessageBytes+1), 0o600)
	if _, err := s.EnqueueFile("A", big); !IsTooLarge(err) {
		t.Errorf("EnqueueFile(big) = %v, want too large", err)
	}
	s.MaxMessageBytes = 3
	if _, err := s.EnqueueFile("A", good); !IsTooLarge(err) {
		t.Errorf("with a 3-byte limit: %v, want too large", err)
	}
}

func TestTransitions(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "A", "one\n")
	base := e.Name

	c, err := s.Claim(e)
	if err != nil || c.State != StateCur || c.OrigName != e.Name || c.ID != e.ID {
		t.Fatalf("Claim = %+v, %v", c, err)
	}
	if _, err := os.Stat(s.Path(e)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("new/ file still there: %v", err)
	}
	// The claim named it: a base of the daemon's own from here on.
	base, _ = ParseName(c.Name)
	if base == e.Name || !strings.HasSuffix(base, renamedSuffix) {
		t.Errorf("claimed as %s; want a base of the daemon's own", c.Name)
	}
	nb := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	r, err := s.Retry(c, nb)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != StateNew || r.Attempt != 1 || !r.NotBefore.Equal(nb) || r.Name != fmt.Sprintf("%s%sA1,E%d,N%d", base, sep, c.Entered.UnixMilli(), nb.UnixMilli()) {
		t.Errorf("Retry = %+v", r)
	}
	if got := scan(t, s, StateNew, "A"); len(got) != 1 || got[0].Attempt != 1 || !got[0].NotBefore.Equal(nb) {
		t.Errorf("scan after retry = %+v", got)
	}
	if _, ok, _, _ := s.Next("A", time.Now()); ok {
		t.Error("Next returned a message whose not-before has not come")
	}
	if n, ok, _, _ := s.Next("A", nb); !ok || n.Name != r.Name {
		t.Errorf("Next at not-before = %+v, %v", n, ok)
	}

	h, err := s.Hold(r, "focus stolen 3 times")
	if err != nil || h.State != StateHold {
		t.Fatalf("Hold = %+v, %v", h, err)
	}
	if txt, _ := s.Reason(h); !strings.Contains(txt, "focus stolen 3 times") || !strings.Contains(txt, "attempt: 1") {
		t.Errorf("hold reason = %q", txt)
	}
	rel, err := s.Release(h)
	if err != nil || rel.State != StateNew || rel.Attempt != 1 || !rel.NotBefore.IsZero() || rel.Name != fmt.Sprintf("%s%sA1,E%d", base, sep, c.Entered.UnixMilli()) {
		t.Fatalf("Release = %+v, %v", rel, err)
	}
	if _, err := os.Stat(s.reasonPath(h)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hold sidecar left behind: %v", err)
	}

	c, _ = s.Claim(rel)
	f, err := s.Fail(c, "no ack after 3 attempts\nlast: timeout")
	if err != nil || f.State != StateFailed {
		t.Fatalf("Fail = %+v, %v", f, err)
	}
	// A person reads the reason with cat.
	raw, err := os.ReadFile(s.Path(f) + ".reason")
	if err != nil || !strings.Contains(string(raw), "reason: no ack after 3 attempts") || !strings.Contains(string(raw), "from: cur") {
		t.Errorf("failed reason file = %q, %v", raw, err)
	}
	if txt, _ := s.Reason(f); txt != string(raw) {
		t.Errorf("Reason = %q, want %q", txt, raw)
	}
	if es := scan(t, s, StateFailed, ""); len(es) != 1 || es[0].Name != f.Name {
		t.Errorf("failed/ scan = %v (the sidecar must not be listed)", names(es))
	}

	q, err := s.Requeue(f)
	if err != nil || q.State != StateNew || q.Attempt != 0 || q.Name != base {
		t.Fatalf("Requeue = %+v, %v", q, err)
	}
	if left := dirEntries(t, filepath.Join(s.Root, "failed", "A")); len(left) != 0 {
		t.Errorf("failed/A not empty after requeue: %v", left)
	}
	c, _ = s.Claim(q)
	d, err := s.Done(c)
	if err != nil || d.State != StateDone {
		t.Fatalf("Done = %+v, %v", d, err)
	}
	if txt, err := s.Reason(d); txt != "" || err != nil {
		t.Errorf("Reason(done) = %q, %v", txt, err)
	}
	m, err := s.Read(d)
	if err != nil || m.Body != "one\n" {
		t.Errorf("Read(done) = %+v, %v", m, err)
	}
	for _, st := range []State{StateNew, StateCur, StateFailed, StateHold} {
		if es := scan(t, s, st, ""); len(es) != 0 {
			t.Errorf("%s/ = %v, want empty", st, names(es))
		}
	}
}

func TestFailFromNewAndHold(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "A", "x\n")
	f, err := s.Fail(e, "unknown agent")
	if err != nil || f.State != StateFailed {
		t.Fatalf("Fail(new) = %+v, %v", f, err)
	}
	e = enqueue(t, s, "A", "y\n")
	h, _ := s.Hold(e, "parked")
	f, err = s.Fail(h, "operator gave up")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.reasonPath(h)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hold sidecar left behind")
	}
	if txt, _ := s.Reason(f); !strings.Contains(txt, "operator gave up") {
		t.Errorf("reason = %q", txt)
	}
}

func TestWrongStateAndGone(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "A", "x\n")
	if _, err := s.Done(e); err == nil {
		t.Error("Done on a new/ entry succeeded")
	}
	if _, err := s.Requeue(e); err == nil {
		t.Error("Requeue on a new/ entry succeeded")
	}
	if _, err := s.Claim(e); err != nil {
		t.Fatal(err)
	}
	_, err := s.Claim(e)
	if !IsGone(err) {
		t.Fatalf("second Claim = %v, want gone", err)
	}
	if _, err := s.Read(e); !IsGone(err) {
		t.Errorf("Read of claimed entry = %v, want gone", err)
	}
	bad := e
	bad.Agent = ".."
	if _, err := s.Claim(bad); !IsBadAgent(err) {
		t.Errorf("Claim with agent .. = %v, want bad agent", err)
	}
	bad = e
	bad.Name = "../../etc/passwd"
	if _, err := s.Claim(bad); err == nil {
		t.Error("Claim with a path as name succeeded")
	}
}

// A name dropped twice must not overwrite the first copy in done/.
func TestNoOverwrite(t *testing.T) {
	s := openTest(t)
	s.EnsureAgent("A")
	drop := func(body string) Entry {
		e := Entry{Agent: "A", Name: "hello.md", State: StateNew}
		if err := os.WriteFile(s.Path(e), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		es := scan(t, s, StateNew, "A")
		c, err := s.Claim(es[0])
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Done(c)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1, d2 := drop("first\n"), drop("second\n")
	if d1.Name == d2.Name {
		t.Fatalf("both named %s", d1.Name)
	}
	if es := scan(t, s, StateDone, "A"); len(es) != 2 {
		t.Errorf("done/ = %v, want 2 entries", names(es))
	}
	if m, _ := s.Read(d1); m == nil || m.Body != "first\n" {
		t.Errorf("first copy = %+v", m)
	}
}

func TestScanOrder(t *testing.T) {
	s := openTest(t)
	var want []string
	n1 := enqueue(t, s, "B", "normal 1\n")
	h1 := enqueue(t, s, "B", "---\npriority: high\n---\nhigh 1\n")
	u1 := enqueue(t, s, "B", "---\npriority: urgent\n---\nurgent 1\n")
	n2 := enqueue(t, s, "B", "normal 2\n")
	u2 := enqueue(t, s, "B", "---\npriority: urgent\n---\nurgent 2\n")
	a1 := enqueue(t, s, "A", "for A\n")
	want = []string{a1.Name, u1.Name, u2.Name, h1.Name, n1.Name, n2.Name}
	if got := names(scan(t, s, StateNew, "")); !slices.Equal(got, want) {
		t.Errorf("delivery order\n got %v\nwant %v", got, want)
	}
	if got := names(scan(t, s, StateNew, "B")); !slices.Equal(got, want[1:]) {
		t.Errorf("delivery order for B\n got %v\nwant %v", got, want[1:])
	}

	// The comparison itself, with times the file system cannot fake.
	t0 := time.Unix(1000, 0)
	es := []Entry{
		{Agent: "A", Name: "z", Queued: t0},
		{Agent: "A", Name: "b", Queued: t0.Add(time.Second)},
		{Agent: "A", Name: "a", Queued: t0.Add(time.Second)},
		{Agent: "A", Name: "y", Queued: t0.Add(time.Hour), Priority: PriorityHigh},
		{Agent: "A", Name: "x", Queued: t0.Add(2 * time.Hour), Priority: PriorityUrgent},
		{Agent: "0", Name: "q", Queued: t0.Add(3 * time.Hour)},
	}
	slices.SortFunc(es, deliveryOrder)
	if got := names(es); !slices.Equal(got, []string{"q", "x", "y", "z", "a", "b"}) {
		t.Errorf("deliveryOrder = %v", got)
	}
	slices.SortFunc(es, listOrder)
	if got := names(es); !slices.Equal(got, []string{"q", "z", "a", "b", "y", "x"}) {
		t.Errorf("listOrder = %v", got)
	}
}

func TestScanSkips(t *testing.T) {
	s := openTest(t)
	e := enqueue(t, s, "A", "real\n")
	dir := filepath.Join(s.Root, "new", "A")
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(s.Root, "tmp", "partial"), []byte("half a mess"), 0o600)
	os.Mkdir(filepath.Join(dir, "subdir"), 0o700)
	os.WriteFile(filepath.Join(dir, "note.reason"), []byte("a message that happens to end in .reason\n"), 0o600)
	os.Mkdir(filepath.Join(s.Root, "new", ".trash"), 0o700)
	os.WriteFile(filepath.Join(s.Root, "new", ".trash", "x"), []byte("x"), 0o600)
	got := names(scan(t, s, StateNew, ""))
	slices.Sort(got)
	// Issue 11 item 5: a directory is listed (the daemon fails it with a
	// reason) rather than skipped silently for ever.
	if want := []string{e.Name, "note.reason", "subdir"}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("new/ = %v, want %v", got, want)
	}
	// In failed/, X.reason is a sidecar when X is a name of the
	// daemon's own (it is written just before X is renamed in, so it may
	// be alone for a moment) or when X is beside it (an older spool);
	// anything else ending in .reason is a message, and is listed.
	fdir := filepath.Join(s.Root, "failed", "A")
	os.MkdirAll(fdir, 0o700)
	os.WriteFile(filepath.Join(fdir, "m1"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(fdir, "m1.reason"), []byte("why"), 0o600)
	own := UniqueName() + renamedSuffix + sep + "A1"
	os.WriteFile(filepath.Join(fdir, own+".reason"), []byte("why"), 0o600)
	os.WriteFile(filepath.Join(fdir, "lone.reason"), []byte("x"), 0o600)
	if got := names(scan(t, s, StateFailed, "A")); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"lone.reason", "m1"}) {
		t.Errorf("failed/ = %v", got)
	}
}

// An agent directory made by hand with a name no agent may have is still
// scanned, so the daemon can fail its messages.
func TestScanBadAgentDir(t *testing.T) {
	s := openTest(t)
	for _, agent := range []string{"bad agent", "a..b", "-x"} {
		dir := filepath.Join(s.Root, "new", agent)
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "m.md"), []byte("hello\n"), 0o600)
	}
	es := scan(t, s, StateNew, "")
	if len(es) != 3 {
		t.Fatalf("scan = %+v", es)
	}
	for _, e := range es {
		if ValidAgentName(e.Agent) {
			t.Errorf("agent %q should be invalid", e.Agent)
		}
		f, err := s.Fail(e, "unknown agent "+e.Agent)
		if err != nil {
			t.Fatalf("Fail(%q): %v", e.Agent, err)
		}
		if txt, _ := s.Reason(f); !strings.Contains(txt, "unknown agent") {
			t.Errorf("reason = %q", txt)
		}
	}
	if es := scan(t, s, StateFailed, ""); len(es) != 3 {
		t.Errorf("failed/ = %+v", es)
	}
	if agents, _ := s.Agents(); len(agents) != 3 {
		t.Errorf("Agents = %v", agents)
	}
}

// The header cache must notice a file replaced under the same name.
func TestScanCacheInvalidation(t *testing.T) {
	s := openTest(t)
	s.EnsureAgent("A")
	e := Entry{Agent: "A", Name: "m", State: StateNew}
	os.WriteFile(s.Path(e), []byte("normal\n"), 0o600)
	if es := scan(t, s, StateNew, "A"); es[0].Priority != PriorityNormal {
		t.Fatal(es)
	}
	tmp := filepath.Join(s.Root, "tmp", "m")
	os.WriteFile(tmp, []byte("---\npriority: urgent\n---\nnow urgent\n"), 0o600)
	os.Rename(tmp, s.Path(e))
	if es := scan(t, s, StateNew, "A"); es[0].Priority != PriorityUrgent {
		t.Errorf("after replace: %+v", es[0])
	}
	// A scan over many files (the parallel path) agrees with the cached rescan.
	for i := range 600 {
		enqueue(t, s, "B", fmt.Sprintf("---\npriority: %s\n---\nm%d\n", []string{"normal", "high", "urgent"}[i%3], i))
	}
	first, second := scan(t, s, StateNew, ""), scan(t, s, StateNew, "")
	if len(first) != 601 || !slices.EqualFunc(first, second, func(a, b Entry) bool { return a.Name == b.Name && a.Priority == b.Priority }) {
		t.Errorf("cold and warm scans differ (%d, %d entries)", len(first), len(second))
	}
}

func TestInfoRoundTrip(t *testing.T) {
	nb := time.UnixMilli(1764228700000)
	cases := []struct {
		name string
		base string
		info Info
	}{
		{"1764228612.1.P9Q1Rab.host", "1764228612.1.P9Q1Rab.host", Info{}},
		{"b" + sep + "A2,N1764228700000", "b", Info{Attempt: 2, NotBefore: nb}},
		{"b" + sep + "A3", "b", Info{Attempt: 3}},
		{"b" + sep + "A0,N1764228700000", "b", Info{NotBefore: nb}},
	}
	for _, c := range cases {
		base, info := ParseName(c.name)
		if base != c.base || info.Attempt != c.info.Attempt || !info.NotBefore.Equal(c.info.NotBefore) {
			t.Errorf("ParseName(%q) = %q, %+v", c.name, base, info)
		}
		if got := FormatName(c.base, c.info); got != c.name {
			t.Errorf("FormatName(%q, %+v) = %q", c.base, c.info, got)
		}
	}
	for _, foreign := range []string{"m" + sep + "2,S", "m" + sep, "m" + sep + "A", "m" + sep + "A1,", "m" + sep + "A1,Nx", "m" + sep + "A-1", "m" + sep + "A99999999999999999999", "m" + sep + "A1,N5,X"} {
		base, info := ParseName(foreign)
		// Issue 11 item 7: only agentspool's own suffix is parsed; a
		// foreign one stays part of the base (and so of the id).
		if base != foreign || info != (Info{}) {
			t.Errorf("ParseName(%q) = %q, %+v, want it all as base and zero info", foreign, base, info)
		}
	}
}

func TestIDFromName(t *testing.T) {
	for name, want := range map[string]string{
		"note.md": "note", "note.txt": "note", "note": "note", "a.b.md" + sep + "A1": "a.b",
		"1764228612.000000001.P9Q1Rab.host" + sep + "2,S": "1764228612.000000001.P9Q1Rab.host" + sep + "2,S", "x.md.bak": "x.md.bak",
		"co:lon:x.md": "co:lon:x", "x:1": "x:1", "x:2": "x:2", "x" + sep + "A1" + sep + "A2": "x",
	} {
		if got := IDFromName(name); got != want {
			t.Errorf("IDFromName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestParseMessage(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		data string
		want Message
	}{
		{"just a body\n", Message{ID: "n", Body: "just a body\n"}},
		{"---\r\nid: a1\r\npriority: HIGH\r\n---\r\nbody\r\n", Message{ID: "a1", Priority: PriorityHigh, Body: "body\r\n"}},
		{"---\nack: yes\n---\nb", Message{ID: "n", Ack: &yes, Body: "b"}},
		{"---\nack: false\nto: Agent-2\n---\nb", Message{ID: "n", Ack: &no, To: "Agent-2", Body: "b"}},
		{"---\n# only a comment\n---\nb\n---\nnot front matter\n", Message{ID: "n", Body: "b\n---\nnot front matter\n"}},
		{"----\nid: x\n---\nb", Message{ID: "n", Body: "----\nid: x\n---\nb"}},
		{"---\nid: \"q@x+1\"\nfrom: 'Agent 6'\n---\nb", Message{ID: "q@x+1", From: "Agent 6", Body: "b"}},
		{"---\nid: 12345\n---\nb", Message{ID: "12345", Body: "b"}},
	}
	for _, c := range cases {
		m, err := ParseMessage("n.md", []byte(c.data), 0)
		if err != nil {
			t.Errorf("ParseMessage(%q): %v", c.data, err)
			continue
		}
		if m.ID != c.want.ID || m.From != c.want.From || m.To != c.want.To || m.Priority != c.want.Priority || m.Body != c.want.Body ||
			(m.Ack == nil) != (c.want.Ack == nil) || m.Ack != nil && *m.Ack != *c.want.Ack || string(m.Raw) != c.data {
			t.Errorf("ParseMessage(%q) = %+v, want %+v", c.data, m, c.want)
		}
		if h := scanHeader([]byte(c.data)); h.prio != m.Priority || (h.id != "" && h.id != m.ID) {
			t.Errorf("scanHeader(%q) = %+v, disagrees with %+v", c.data, h, m)
		}
	}
	if _, err := ParseMessage("n", []byte("12345"), 4); !IsTooLarge(err) {
		t.Errorf("limit 4: %v", err)
	}
}

func TestPriority(t *testing.T) {
	for s, want := range map[string]Priority{"": PriorityNormal, "normal": PriorityNormal, "high": PriorityHigh, "Urgent": PriorityUrgent} {
		if p, err := ParsePriority(s); err != nil || p != want {
			t.Errorf("ParsePriority(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParsePriority("asap"); err == nil {
		t.Error("ParsePriority(asap) succeeded")
	}
	if PriorityUrgent.String() != "urgent" || Priority(9).String() != "Priority(9)" {
		t.Error("Priority.String")
	}
}

func TestFind(t *testing.T) {
	s := openTest(t)
	a := enqueue(t, s, "A", "---\nid: wanted\n---\nx\n")
	b := enqueue(t, s, "B", "---\nid: wanted\n---\ny\n")
	c := enqueue(t, s, "A", "other\n")
	ca, _ := s.Claim(a)
	s.Done(ca)
	es, err := s.Find("wanted")
	if err != nil || len(es) != 2 {
		t.Fatalf("Find(wanted) = %+v, %v", es, err)
	}
	if es[0].State != StateNew || es[0].Name != b.Name || es[1].State != StateDone {
		t.Errorf("Find = %+v", es)
	}
	if es, _ := s.Find(c.Name); len(es) != 1 || es[0].Name != c.Name {
		t.Errorf("Find(base name) = %+v", es)
	}
	r, _ := s.Claim(c)
	r, _ = s.Retry(r, time.Now())
	if es, _ := s.Find(c.Name); len(es) != 1 || es[0].Name != r.Name {
		t.Errorf("Find(base name after retry) = %+v", es)
	}
	if es, _ := s.Find("nothing"); len(es) != 0 {
		t.Errorf("Find(nothing) = %+v", es)
	}
}

func TestSweepTmp(t *testing.T) {
	s := openTest(t)
	now := time.Now()
	old, fresh := filepath.Join(s.Root, "tmp", "old"), filepath.Join(s.Root, "tmp", "fresh")
	os.WriteFile(old, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	os.Chtimes(old, now.Add(-37*time.Hour), now.Add(-37*time.Hour))
	n, err := s.SweepTmp(36*time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("SweepTmp = %d, %v", n, err)
	}
	if left := dirEntries(t, filepath.Join(s.Root, "tmp")); !slices.Equal(left, []string{"fresh"}) {
		t.Errorf("tmp/ = %v", left)
	}
}

// A new Spool on the same root finds every message exactly once, in the
// state it was left in.
func TestRestart(t *testing.T) {
	s := openTest(t)
	want := map[string]State{}
	for i := range 30 {
		agent := fmt.Sprintf("Agent-%d", i%3)
		e := enqueue(t, s, agent, fmt.Sprintf("---\nid: m%d\n---\nbody %d\n", i, i))
		var err error
		switch i % 6 {
		case 1:
			e, err = s.Claim(e)
		case 2:
			e, _ = s.Claim(e)
			e, err = s.Done(e)
		case 3:
			e, err = s.Fail(e, "broken")
		case 4:
			e, err = s.Hold(e, "parked")
		case 5:
			e, _ = s.Claim(e)
			e, err = s.Retry(e, time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		want[e.ID] = e.State
	}
	s2, err := Open(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, st := range States {
		for _, e := range scan(t, s2, st, "") {
			seen[e.ID]++
			if want[e.ID] != st {
				t.Errorf("%s found in %s, left in %s", e.ID, st, want[e.ID])
			}
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s seen %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("saw %d ids, want %d", len(seen), len(want))
	}
}

func TestUniqueNames(t *testing.T) {
	var seen sync.Map
	for g := range 8 {
		t.Run(fmt.Sprint(g), func(t *testing.T) {
			t.Parallel()
			for range 2000 {
				n := UniqueName()
				if _, dup := seen.LoadOrStore(n, true); dup {
					t.Fatalf("duplicate name %s", n)
				}
				if strings.ContainsAny(n, "/"+sep) {
					t.Fatalf("name %q has a separator", n)
				}
				// NewID is short by design (24 random bits per second), so
				// only its form is checked here, not uniqueness at this rate.
				if id := NewID(); !validID(id) {
					t.Fatalf("NewID %q is not a valid id", id)
				}
			}
		})
	}
}
