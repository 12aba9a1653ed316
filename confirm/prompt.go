package confirm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// How a submitted prompt is matched against the message the daemon
// pasted. The agent tools change a long paste on its way to the hook:
//
//   - Claude Code (2.1.332, its bundled cli: zgt/R9t and the parser Kgt)
//     wraps a long paste in a block
//
//     <pasted_content id="ab12">
//     ...the paste...
//     </pasted_content id="ab12">
//
//     whose id is 4 lowercase hex digits, repeated in the closing tag;
//     the model and the UserPromptSubmit hook see the block. Up to two
//     newlines around a block belong to it.
//   - Codex (0.171.0, tui chat_composer), Qwen Code (0.24.4,
//     InputPrompt) and Gemini CLI (0.61.0, text-buffer.ts) show a long
//     paste as a placeholder in the input — "[Pasted Content 1234 chars]",
//     "[Pasted Text: 12 lines]", Claude Code "[Pasted text #1 +12 lines]" —
//     and put the text back in its place on submit, so the hook sees the
//     text. A placeholder whose text was lost stays in the prompt as it is:
//     PastePlaceholders finds those.

// pastedBlockOpen is the start of a Claude Code paste block.
const pastedBlockOpen = `<pasted_content id="`

// pastedBlock is one Claude Code paste block in a prompt: prompt[From:To]
// is the block with the newlines that belong to it, prompt[BodyFrom:BodyTo]
// the paste.
type pastedBlock struct{ From, To, BodyFrom, BodyTo int }

// pastedBlocks finds Claude Code's paste blocks in prompt, as Claude Code
// parses them: an opening tag with a 4-hex-digit id, then the first
// closing tag with the same id at the start of a line.
func pastedBlocks(prompt string) []pastedBlock {
	var out []pastedBlock
	end, at := 0, 0
	for {
		i := strings.Index(prompt[at:], pastedBlockOpen)
		if i < 0 {
			return out
		}
		i += at
		idAt := i + len(pastedBlockOpen)
		if len(prompt) < idAt+4+3 || !hex4(prompt[idAt:idAt+4]) || prompt[idAt+4:idAt+7] != "\">\n" {
			at = idAt
			continue
		}
		id := prompt[idAt : idAt+4]
		bodyFrom := idAt + 7
		closer := "\n</pasted_content id=\"" + id + "\">"
		c := strings.Index(prompt[bodyFrom-1:], closer)
		if c < 0 {
			return out
		}
		bodyTo := bodyFrom - 1 + c // the newline before the closing tag is the tag's
		from := i
		for n := 0; n < 2 && from > end && prompt[from-1] == '\n'; n++ {
			from--
		}
		to := bodyTo + len(closer)
		for n := 0; n < 2 && to < len(prompt) && prompt[to] == '\n'; n++ {
			to++
		}
		out = append(out, pastedBlock{From: from, To: to, BodyFrom: bodyFrom, BodyTo: max(bodyTo, bodyFrom)})
		end, at = to, to
	}
}

func hex4(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return len(s) == 4
}

// Envelope is one envelope line in a submitted prompt, prompt[Start:End]:
// it names the message ID, and the agent it is To ("" when the envelope
// template names none).
type Envelope struct {
	ID, To     string
	Start, End int
}

// For reports whether e may name a message of agent's: an envelope to
// another agent is someone else's message pasted here, not agent's to ack.
func (e Envelope) For(agent string) bool { return e.To == "" || e.To == agent }

// Pasted is a message the daemon pasted, as a hook finds it in the spool:
// its id and its body. Unread: the body could not be read (the daemon may
// have moved the message meanwhile); then only a pointer paste is the
// message alone.
type Pasted struct {
	ID     string
	Body   string
	Unread bool
}

// MatchMessage says how a submitted prompt holds the message m that the
// daemon pasted after the envelope line e: SubmitAlone when it holds the
// pasted text and nothing else (whitespace and line endings aside; in a
// tool's paste block, see above), else SubmitMerged with a short why.
// envelopes is the number of envelope lines in the prompt.
func MatchMessage(prompt string, e Envelope, envelopes int, m Pasted) (submit, why string) {
	return matchPrompt(prompt, e.Start, e.End, envelopes, func(rest string) bool {
		return isPasted(rest, m)
	})
}

// PointerLine is what the daemon pastes after the envelope line in
// pointer mode (and for a message too long to paste): where a copy of the
// message is, for the agent to read. isPasted knows it for the message
// alone.
func PointerLine(path, id string) string { return pointerStart + path + " " + pointerEnd(id) }

const pointerStart = "The message is in "

func pointerEnd(id string) string { return "(read it, then ack " + id + ")" }

// isPasted reports whether rest, the prompt after the envelope line, is
// m's body (as the daemon pastes it: trailing newlines cut) or the one line
// of a pointer paste. Tools change white space (line endings; Claude Code
// turns a pasted tab into spaces), so only the words are compared: every
// run of white space counts as one space. Other text is what makes a
// submit merged, never white space.
func isPasted(rest string, m Pasted) bool {
	norm := func(s string) string {
		return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	}
	if line := strings.TrimFunc(rest, unicode.IsSpace); strings.HasPrefix(line, pointerStart) && !strings.Contains(line, "\n") &&
		strings.HasSuffix(line, pointerEnd(m.ID)) {
		return true
	}
	return !m.Unread && norm(rest) == norm(m.Body)
}

// matchPrompt is MatchMessage for the envelope line prompt[envStart:envEnd]
// and isMessage, which reports whether the text after it is the message
// the daemon pasted after it.
func matchPrompt(prompt string, envStart, envEnd, envelopes int, isMessage func(rest string) bool) (submit, why string) {
	if envelopes > 1 {
		return SubmitMerged, fmt.Sprintf("%d messages in one prompt", envelopes)
	}
	if envStart < 0 || envEnd < envStart || envEnd > len(prompt) {
		return SubmitMerged, "the envelope is not in the prompt"
	}
	region, start, end := prompt, envStart, envEnd
	for _, b := range pastedBlocks(prompt) {
		if envStart < b.BodyFrom || envEnd > b.BodyTo {
			continue
		}
		// The message is the paste in a block: what is outside the
		// block is other text.
		if blank(prompt[:b.From]) && blank(prompt[b.To:]) {
			region, start, end = prompt[b.BodyFrom:b.BodyTo], envStart-b.BodyFrom, envEnd-b.BodyFrom
			break
		}
		return SubmitMerged, "other text beside the tool's paste block"
	}
	switch {
	case !blank(region[:start]):
		return SubmitMerged, "other text before the envelope"
	case !isMessage(region[end:]):
		return SubmitMerged, "other text than the message after the envelope"
	}
	return SubmitAlone, ""
}

func blank(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == "" }

// Placeholder is a tool's stand-in for a long paste, left in a submitted
// prompt when the tool lost the text it stands for.
type Placeholder struct {
	Text  string // as it stands in the prompt
	N     int    // the count it gives
	Lines bool   // N counts lines (else characters)
}

// placeholderRe matches the placeholders of Codex and Qwen Code ("[Pasted
// Content 1234 chars]", "... #2"), Gemini CLI ("[Pasted Text: 12 lines]",
// "[Pasted Text: 501 chars #2]") and Claude Code ("[Pasted text #1 +12
// lines]", which counts the newlines).
var placeholderRe = regexp.MustCompile(`\[Pasted Content (\d+) chars\](?: #\d+)?|\[Pasted Text: (\d+) (lines|chars)(?: #\d+)?\]|\[Pasted text #\d+ \+(\d+) lines\]`)

// PastePlaceholders returns the paste placeholders in prompt, in order.
func PastePlaceholders(prompt string) []Placeholder {
	var out []Placeholder
	for _, m := range placeholderRe.FindAllStringSubmatch(prompt, -1) {
		p := Placeholder{Text: m[0]}
		switch {
		case m[1] != "":
			p.N, _ = strconv.Atoi(m[1])
		case m[2] != "":
			p.N, _ = strconv.Atoi(m[2])
			p.Lines = m[3] == "lines"
		default:
			// Claude Code counts line breaks, one less than lines.
			n, _ := strconv.Atoi(m[4])
			p.N, p.Lines = n+1, true
		}
		out = append(out, p)
	}
	return out
}

// Fits reports whether p could stand for pasted: its count of lines, or of
// characters as the tools count them (Unicode characters in Codex, UTF-16
// units in the JavaScript tools), after the terminal's paste turned CRLF
// into LF.
func (p Placeholder) Fits(pasted string) bool {
	pasted = strings.ReplaceAll(pasted, "\r\n", "\n")
	if p.Lines {
		return p.N == strings.Count(pasted, "\n")+1
	}
	if p.N == utf8.RuneCountInString(pasted) {
		return true
	}
	units := 0
	for _, r := range pasted {
		units += len(utf16.Encode([]rune{r}))
	}
	return p.N == units
}
