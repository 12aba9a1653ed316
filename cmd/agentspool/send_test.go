package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/spool"
)

var generatedID = regexp.MustCompile(`^\d{8}T\d{6}-[0-9a-f]{6}$`)

// readMessage parses the one queued file with id.
func (f *fixture) readMessage(id string) (*spool.Message, spool.Entry) {
	f.t.Helper()
	e := f.entry(id)
	m, err := f.open().Read(e)
	if err != nil {
		f.t.Fatalf("queued message %s does not parse: %v", id, err)
	}
	return m, e
}

func TestSendText(t *testing.T) {
	f := newFixture(t)
	r := f.run(nil, "send", "--to", "Agent-2", "--priority", "urgent", "--from", "Bob: the builder #1",
		"--ack=false", "-m", "Please review PR 42\n").want(t, 0)
	id := strings.TrimSpace(r.stdout)
	if !generatedID.MatchString(id) {
		t.Fatalf("printed id %q is not a generated id", id)
	}
	m, e := f.readMessage(id)
	if e.State != spool.StateNew || e.Agent != "Agent-2" {
		t.Errorf("queued in %s/%s, want new/Agent-2", e.State, e.Agent)
	}
	if m.ID != id || m.From != "Bob: the builder #1" || m.To != "Agent-2" || m.Priority != spool.PriorityUrgent ||
		m.Ack == nil || *m.Ack || m.Body != "Please review PR 42\n" {
		t.Errorf("message = %+v", m)
	}
	if n := len(f.scan(spool.StateNew)); n != 1 {
		t.Errorf("%d messages queued, want 1", n)
	}
	if des, _ := os.ReadDir(filepath.Join(f.spool, "tmp")); len(des) != 0 {
		t.Errorf("tmp/ not empty: %v", des)
	}
}

func TestSendFileAndStdin(t *testing.T) {
	f := newFixture(t)
	file := filepath.Join(f.dir, "notes.md")
	os.WriteFile(file, []byte("# Notes\n\nline two\n"), 0o600)

	id := strings.TrimSpace(f.run(nil, "send", "--to", "Agent-1", "--id", "file-1", file).want(t, 0).stdout)
	if id != "file-1" {
		t.Fatalf("printed %q, want file-1", id)
	}
	if m, _ := f.readMessage("file-1"); m.Body != "# Notes\n\nline two\n" {
		t.Errorf("body %q", m.Body)
	}

	// Flags after the operand work too.
	f.run(nil, "send", file, "--to", "Agent-1", "--id", "file-2").want(t, 0)
	f.readMessage("file-2")

	// stdin: piped with no argument, and with "-".
	id = strings.TrimSpace(f.run([]byte("from a pipe\n"), "send", "--to", "Agent-3").want(t, 0).stdout)
	if m, _ := f.readMessage(id); m.Body != "from a pipe\n" {
		t.Errorf("body %q", m.Body)
	}
	id = strings.TrimSpace(f.run([]byte("dash"), "send", "--to", "Agent-3", "--priority", "high", "-").want(t, 0).stdout)
	if m, _ := f.readMessage(id); m.Body != "dash" || m.Priority != spool.PriorityHigh {
		t.Errorf("message %+v", m)
	}

	// A file with its own front matter keeps it; flags override.
	os.WriteFile(file, []byte("---\nid: own-id\npriority: urgent\nfrom: Agent-9\n---\nbody\n"), 0o600)
	f.run(nil, "send", "--to", "Agent-2", "--from", "Agent-1", file).want(t, 0).contains(t, "stdout", "own-id")
	if m, _ := f.readMessage("own-id"); m.Priority != spool.PriorityUrgent || m.From != "Agent-1" || m.Body != "body\n" {
		t.Errorf("message %+v", m)
	}

	// No body at all: stdin is /dev/null (a character device, like a tty).
	f.run(nil, "send", "--to", "Agent-1").want(t, 2).contains(t, "stderr", "no message")
}

func TestSendBroadcast(t *testing.T) {
	f := newFixture(t)
	r := f.run(nil, "send", "--broadcast", "--id", "all-1", "-m", "to everyone").want(t, 0)
	want := []string{"all-1-Agent-1", "all-1-Agent-2", "all-1-Agent-3"}
	if got := r.lines(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("printed %q, want %q", got, want)
	}
	for _, id := range want {
		m, e := f.readMessage(id)
		if !strings.HasSuffix(id, e.Agent) || m.To != e.Agent || m.Body != "to everyone" {
			t.Errorf("%s: in %s, message %+v", id, e.Agent, m)
		}
	}
	// Again with the same id: refused, nothing more queued.
	f.run(nil, "send", "--broadcast", "--id", "all-1", "-m", "again").want(t, 1).contains(t, "stderr", "already in the spool")
	if n := f.files(); n != 3 {
		t.Errorf("%d files in the spool, want 3", n)
	}
	// Generated ids: one base, one suffix per agent.
	r = f.run(nil, "send", "--broadcast", "-m", "x").want(t, 0)
	for i, l := range r.lines() {
		base, agent, _ := strings.Cut(l, "-Agent-")
		if !generatedID.MatchString(base) || "Agent-"+agent != want[i][len("all-1-"):] {
			t.Errorf("broadcast id %q", l)
		}
	}
}

func TestSendRefuses(t *testing.T) {
	f := newFixture(t)
	f.send("Agent-1", "first", "--id", "dup")
	big := filepath.Join(f.dir, "big.txt")
	os.WriteFile(big, bytes.Repeat([]byte("a"), 10<<20), 0o600)
	bad := filepath.Join(f.dir, "latin1.txt")
	os.WriteFile(bad, []byte("caf\xe9\n"), 0o600)
	dangling := filepath.Join(f.dir, "dangling")
	os.Symlink(filepath.Join(f.dir, "nothing-here"), dangling)
	blank := filepath.Join(f.dir, "blank.txt")
	os.WriteFile(blank, []byte(" \n\n"), 0o600)
	binFrom := filepath.Join(f.dir, "binfrom.md")
	os.WriteFile(binFrom, []byte("---\nfrom: !!binary /w==\n---\nbody\n"), 0o600)
	badFM := filepath.Join(f.dir, "badfm.md")
	os.WriteFile(badFM, []byte("---\nid: x\nbogus: 1\n---\nbody\n"), 0o600)

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown agent", []string{"--to", "Agent-9", "-m", "x"}, 1, "Agent-1, Agent-2, Agent-3"},
		{"empty -m", []string{"--to", "Agent-1", "-m", ""}, 1, "empty"},
		{"blank file", []string{"--to", "Agent-1", blank}, 1, "empty"},
		{"10 MiB file", []string{"--to", "Agent-1", big}, 1, "too large"},
		{"not UTF-8", []string{"--to", "Agent-1", bad}, 1, "UTF-8"},
		{"directory", []string{"--to", "Agent-1", f.dir}, 1, "directory"},
		{"dangling symlink", []string{"--to", "Agent-1", dangling}, 1, "symbolic link"},
		{"missing file", []string{"--to", "Agent-1", filepath.Join(f.dir, "nope")}, 1, "no such file"},
		{"broken front matter", []string{"--to", "Agent-1", badFM}, 1, "front matter"},
		{"duplicate id", []string{"--to", "Agent-2", "--id", "dup", "-m", "x"}, 1, "already in the spool"},
		{"bad id", []string{"--to", "Agent-2", "--id", "../x", "-m", "x"}, 1, "bad id"},
		{"control char in from", []string{"--to", "Agent-2", "--from", "a\nb", "-m", "x"}, 2, "from"},
		{"binary from in file", []string{"--to", "Agent-2", binFrom}, 1, "from"},
		{"empty operand", []string{"--to", "Agent-2", ""}, 2, "empty argument"},
		{"no recipient", []string{"-m", "x"}, 2, "--to"},
		{"both recipients", []string{"--to", "Agent-1", "--broadcast", "-m", "x"}, 2, "exclude"},
		{"bad priority", []string{"--to", "Agent-1", "--priority", "asap", "-m", "x"}, 2, "priority"},
		{"bad ack", []string{"--to", "Agent-1", "--ack=maybe", "-m", "x"}, 2, "ack"},
		{"unknown flag", []string{"--to", "Agent-1", "--urgent", "-m", "x"}, 2, "urgent"},
		{"two files", []string{"--to", "Agent-1", blank, bad}, 2, "unexpected argument"},
		{"-m and file", []string{"--to", "Agent-1", "-m", "x", blank}, 2, "exclude"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.run(nil, append([]string{"send"}, c.args...)...).want(t, c.code).contains(t, "stderr", c.want)
			if n := f.files(); n != 1 {
				t.Errorf("%d files in the spool, want 1 (nothing queued)", n)
			}
		})
	}

	// A large message from stdin is refused without reading it all.
	f.run(bytes.Repeat([]byte("b"), 10<<20), "send", "--to", "Agent-1").want(t, 1).contains(t, "stderr", "too large")
}

// A message at exactly the configured limit (header included) is queued;
// one byte more is not.
func TestSendLimit(t *testing.T) {
	f := newFixture(t)
	f.writeConfig("max_message_bytes: 100\n" + "spool: " + f.spool + "\n" + testAgents)
	head := "---\nid: lim\nto: Agent-1\n---\n"
	body := strings.Repeat("x", 100-len(head))
	f.run(nil, "send", "--to", "Agent-1", "--id", "lim", "-m", body).want(t, 0)
	f.run(nil, "send", "--to", "Agent-1", "--id", "lim2", "-m", body+"x").want(t, 1).contains(t, "stderr", "too large")
}

func TestSendSpoolOverride(t *testing.T) {
	f := newFixture(t)
	other := filepath.Join(f.dir, "other-spool")
	// --spool after the command name, and AGENTSPOOL_SPOOL, both win over
	// the config's spool.
	f.run(nil, "send", "--spool", other, "--to", "Agent-1", "--id", "o1", "-m", "x").want(t, 0)
	if des, _ := os.ReadDir(filepath.Join(other, "new", "Agent-1")); len(des) != 1 {
		t.Errorf("new/Agent-1 of --spool has %d files, want 1", len(des))
	}
	if n := f.files(); n != 0 {
		t.Errorf("config's spool has %d files", n)
	}
}

// A control character is refused before anything is queued for an agent
// known to be a terminal (a tmux pane, kind: terminal), where it would be
// a key; a chat window gets the text as it is.
func TestSendRefusesAControlCharacterForATerminal(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(fmt.Sprintf("spool: %s\ninbox_root: %s\n%s  Pane-1: {tmux: \"work:1.0\"}\n  Term-1: {x: 70, y: 20, window: \"Term-1\", kind: terminal}\n",
		f.spool, f.inbox, testAgents))
	for _, args := range [][]string{
		{"--to", "Pane-1", "-m", "stop\x03 here"},
		{"--to", "Term-1", "-m", "an \x1b[201~ end"},
		{"--broadcast", "-m", "stop\x03 here"},
	} {
		f.run(nil, append([]string{"send"}, args...)...).want(t, 1).contains(t, "stderr", "control character").contains(t, "stderr", "nothing queued")
		if n := f.files(); n != 0 {
			t.Fatalf("send %q: %d files in the spool, want none", args, n)
		}
	}
	f.run(nil, "send", "--to", "Agent-1", "-m", "a bell\x07 for a chat panel").want(t, 0)
	f.run(nil, "send", "--to", "Pane-1", "-m", "tabs\tand\r\nline ends").want(t, 0)
	if n := f.files(); n != 2 {
		t.Errorf("%d files in the spool, want 2", n)
	}
}
