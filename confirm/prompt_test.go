package confirm

import (
	"strings"
	"testing"
)

func TestMatchPrompt(t *testing.T) {
	const env = "[agentspool id=m1 from=a to=Agent-3]"
	const body = "Please rebase.\nThen run the tests."
	isBody := func(rest string) bool {
		return strings.TrimSpace(strings.ReplaceAll(rest, "\r\n", "\n")) == body
	}
	block := func(id, paste string) string {
		return `<pasted_content id="` + id + "\">\n" + paste + "\n</pasted_content id=\"" + id + "\">\n"
	}
	for _, c := range []struct {
		name, prompt string
		envelopes    int
		want, why    string
	}{
		{"plain", env + "\n" + body, 1, SubmitAlone, ""},
		{"plain, CRLF and blank ends", "\n" + env + "\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\n\n", 1, SubmitAlone, ""},
		{"draft before", "my draft " + env + "\n" + body, 1, SubmitMerged, "other text before the envelope"},
		{"text after", env + "\n" + body + "\nmore", 1, SubmitMerged, "other text than the message after the envelope"},
		{"two messages", env + "\n" + body, 2, SubmitMerged, "2 messages in one prompt"},
		// Claude Code's paste block: the message alone.
		{"claude block", block("ab12", env+"\n"+body), 1, SubmitAlone, ""},
		{"claude block, newlines around", "\n\n" + block("0f9e", env+"\n"+body) + "\n", 1, SubmitAlone, ""},
		{"claude block, typed text before", "look at this\n\n" + block("ab12", env+"\n"+body), 1, SubmitMerged, "other text beside the tool's paste block"},
		{"claude block, typed text after", block("ab12", env+"\n"+body) + "\nthanks", 1, SubmitMerged, "other text beside the tool's paste block"},
		{"claude block, draft inside", block("ab12", "draft "+env+"\n"+body), 1, SubmitMerged, "other text before the envelope"},
		{"claude block, another block after", block("ab12", env+"\n"+body) + block("cd34", "a log"), 1, SubmitMerged, "other text beside the tool's paste block"},
		// Not a block: an id that is not 4 hex digits, or no closing tag
		// with the same id; the tags are then other text.
		{"not a block: bad id", block("AB12", env+"\n"+body), 1, SubmitMerged, "other text before the envelope"},
		{"not a block: closer of another id", `<pasted_content id="ab12">` + "\n" + env + "\n" + body + "\n</pasted_content id=\"ab13\">", 1, SubmitMerged, "other text before the envelope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			i := strings.Index(c.prompt, env)
			submit, why := matchPrompt(c.prompt, i, i+len(env), c.envelopes, isBody)
			if submit != c.want || why != c.why {
				t.Fatalf("matchPrompt(%q) = %q, %q; want %q, %q", c.prompt, submit, why, c.want, c.why)
			}
		})
	}
	if s, _ := matchPrompt("x", 5, 9, 1, isBody); s != SubmitMerged {
		t.Fatal("an envelope outside the prompt matched")
	}
}

// MatchMessage compares the text after the envelope with the message the
// daemon pasted: its body (trailing newlines cut, as pasted; CRLF and the
// ends' whitespace aside) or the one line of a pointer paste naming it. An
// unread body matches nothing but the pointer line. (The hook's tests in
// cmd/agentspool run the same cases through the command.)
func TestMatchMessage(t *testing.T) {
	const body = "Please rebase the hooks branch.\nThen run the tests."
	const env = "[agentspool id=m1 from=Agent-6 to=Agent-3]"
	const pointer = "The message is in /spool/cur/Agent-3/m1.md (read it, then ack m1)"
	msg := Pasted{ID: "m1", Body: body + "\n"}
	unread := Pasted{ID: "m1", Unread: true}
	const tabbed = "a column\tthere\nnext line"
	tabMsg := Pasted{ID: "m1", Body: tabbed}
	for _, c := range []struct {
		name, prompt string
		envelopes    int
		m            Pasted
		want, why    string
	}{
		{"alone, CRLF and blank ends", "\n" + env + "\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\n\n", 1, msg, SubmitAlone, ""},
		{"a tab turned to spaces (Claude Code)", env + "\n" + strings.ReplaceAll(tabbed, "\t", "    "), 1, tabMsg, SubmitAlone, ""},
		{"a word added beside the tab", env + "\n" + strings.ReplaceAll(tabbed, "\t", " x "), 1, tabMsg, SubmitMerged, "other text than the message after the envelope"},
		{"a person's draft before", "half-typed draft of a person " + env + "\n" + body, 1, msg, SubmitMerged, "other text before the envelope"},
		{"a person's draft after", env + "\n" + body + "\nand a person's draft", 1, msg, SubmitMerged, "other text than the message after the envelope"},
		{"two messages", env + "\n" + body, 2, msg, SubmitMerged, "2 messages in one prompt"},
		{"another body", env + "\nsomething else", 1, msg, SubmitMerged, "other text than the message after the envelope"},
		{"pointer paste", env + "\n" + pointer + "\n", 1, msg, SubmitAlone, ""},
		{"pointer paste, body unread", env + "\n" + pointer, 1, unread, SubmitAlone, ""},
		{"pointer paste of another id", env + "\n" + strings.ReplaceAll(pointer, "m1", "m2"), 1, msg, SubmitMerged, "other text than the message after the envelope"},
		{"pointer paste and more", env + "\n" + pointer + "\nthanks", 1, msg, SubmitMerged, "other text than the message after the envelope"},
		{"body unread", env + "\n" + body, 1, unread, SubmitMerged, "other text than the message after the envelope"},
		{"body unread, nothing after", env, 1, unread, SubmitMerged, "other text than the message after the envelope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			i := strings.Index(c.prompt, env)
			e := Envelope{ID: "m1", To: "Agent-3", Start: i, End: i + len(env)}
			submit, why := MatchMessage(c.prompt, e, c.envelopes, c.m)
			if submit != c.want || why != c.why {
				t.Fatalf("MatchMessage(%q) = %q, %q; want %q, %q", c.prompt, submit, why, c.want, c.why)
			}
		})
	}
}

// An envelope to another agent is not the agent's to ack; one that names
// no agent may be.
func TestEnvelopeFor(t *testing.T) {
	for _, c := range []struct {
		to, agent string
		want      bool
	}{{"Agent-3", "Agent-3", true}, {"", "Agent-3", true}, {"Agent-1", "Agent-3", false}} {
		if got := (Envelope{ID: "m1", To: c.to}).For(c.agent); got != c.want {
			t.Errorf("Envelope to %q .For(%q) = %v", c.to, c.agent, got)
		}
	}
}

// The block parser takes what Claude Code's takes: the body between the
// tags, without the newline before the closing tag.
func TestPastedBlocks(t *testing.T) {
	p := "hi\n\n\n<pasted_content id=\"ab12\">\nline 1\nline 2\n</pasted_content id=\"ab12\">\n\n\nbye"
	bs := pastedBlocks(p)
	if len(bs) != 1 {
		t.Fatalf("%d blocks", len(bs))
	}
	b := bs[0]
	if got := p[b.BodyFrom:b.BodyTo]; got != "line 1\nline 2" {
		t.Fatalf("body %q", got)
	}
	// Two newlines on each side belong to the block, a third does not.
	if p[:b.From] != "hi\n" || p[b.To:] != "\nbye" {
		t.Fatalf("outside %q, %q", p[:b.From], p[b.To:])
	}
	if bs := pastedBlocks("<pasted_content id=\"ab12\">\n\n</pasted_content id=\"ab12\">"); len(bs) != 1 || bs[0].BodyFrom != bs[0].BodyTo {
		t.Fatalf("empty block: %+v", bs)
	}
}

func TestPastePlaceholders(t *testing.T) {
	prompt := "a [Pasted Content 1234 chars] b [Pasted Content 1234 chars] #2 [Pasted Text: 12 lines] [Pasted Text: 501 chars #2] [Pasted text #1 +3 lines] [Pasted text #2] [Image #1]"
	got := PastePlaceholders(prompt)
	want := []Placeholder{
		{"[Pasted Content 1234 chars]", 1234, false},
		{"[Pasted Content 1234 chars] #2", 1234, false},
		{"[Pasted Text: 12 lines]", 12, true},
		{"[Pasted Text: 501 chars #2]", 501, false},
		{"[Pasted text #1 +3 lines]", 4, true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}
	text := "[agentspool id=m1 from=a to=B]\r\nsmile 😀\nend"
	for _, c := range []struct {
		p    Placeholder
		fits bool
	}{
		{Placeholder{N: 3, Lines: true}, true},
		{Placeholder{N: 2, Lines: true}, false},
		{Placeholder{N: len([]rune(strings.ReplaceAll(text, "\r\n", "\n")))}, true},     // Codex counts characters
		{Placeholder{N: len([]rune(strings.ReplaceAll(text, "\r\n", "\n"))) + 1}, true}, // JavaScript, UTF-16 units: the emoji is two
		{Placeholder{N: len(text)}, false},
	} {
		if c.p.Fits(text) != c.fits {
			t.Errorf("%+v fits: %v", c.p, !c.fits)
		}
	}
}
