package spool

import (
	"crypto/rand"
	"encoding/hex"
	"github.com/agentspool/agentspool/internal/safeio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	uniqueCounter atomic.Uint64
	hostOnce      sync.Once
	hostPart      string
)

// maildirHost is the host name as Maildir writers put it in a file name:
// '/' and ':' would split the name, so they become octal escapes.
func maildirHost() string {
	hostOnce.Do(func() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		h = strings.ReplaceAll(h, "/", `\057`)
		h = strings.ReplaceAll(h, ":", `\072`)
		h = strings.ReplaceAll(h, string(infoSep), "_")
		hostPart = h
	})
	return hostPart
}

// UniqueName returns a Maildir-unique file name:
//
//	<unix-seconds>.<nanos-within-second>.P<pid>Q<counter>R<random hex>.<host>
//
// The nanoseconds are zero-padded to 9 digits so that, when two files entered
// new/ within the same (coarse) ctime tick, ordering by name is ordering by
// time. The counter separates goroutines, the pid processes, the random part
// pid reuse and clock steps, and the host machines sharing a spool.
func UniqueName() string {
	now := time.Now()
	var r [6]byte
	rand.Read(r[:]) // never fails (crypto/rand, Go ≥ 1.24)
	b := make([]byte, 0, 80)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	ns := strconv.Itoa(now.Nanosecond())
	b = append(b, "000000000"[len(ns):]...)
	b = append(b, ns...)
	b = append(b, ".P"...)
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, 'Q')
	b = strconv.AppendUint(b, uniqueCounter.Add(1), 10)
	b = append(b, 'R')
	b = hex.AppendEncode(b, r[:])
	b = append(b, '.')
	b = append(b, maildirHost()...)
	return string(b)
}

// NewID returns a short, human-friendly message id such as
// 20261127T073012-9f3a1c: the UTC date and time plus 6 random hex digits.
func NewID() string {
	var r [3]byte
	rand.Read(r[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(r[:])
}

// Info is the retry state carried in a file name's info suffix. It changes
// only by rename, so it is exactly as crash-safe as the message's state.
type Info struct {
	Attempt int // deliveries tried so far
	// Entered is when the message entered new/ the first time (set at
	// its first claim from the time of the rename into new/): an ack
	// older than this is stale and never counts (issue 11 item 2).
	Entered time.Time
	// FirstSubmit is when the message was first submitted in its attempt
	// series (set with the first Submitted, kept by retries, postpones,
	// claims and releases; a requeue of a failed message drops it). An
	// ack counts only if written after it: a message never submitted is
	// never acked, and the ack of an earlier message with the same id
	// is stale for this one.
	FirstSubmit time.Time
	NotBefore   time.Time // no delivery before this instant; zero = now
	// Pasting: the daemon was about to paste it (set in cur/ before the
	// GUI steps). Found after a crash, it means a paste may be sitting in
	// the agent's input, unsubmitted.
	Pasting bool
	// Submitted: when the submit key went to the agent's window (set in
	// cur/ after it). Found after a crash, it means: wait for the ack, do
	// not paste again.
	Submitted time.Time
}

// ParseName splits a file name into its base and its retry info:
//
//	<base>:A<attempt>[,E<entered unix ms>][,F<first submit unix ms>][,N<not-before unix ms>][,P][,S<submitted unix ms>]
//
// (';' in place of ':' on Windows: see the package doc.)
//
// Only agentspool's own info suffix is parsed, after the last separator: a
// name without one, or with anything else after a ':' (a Maildir ":2,S",
// "co:lon:x.md"), is all base, with attempt 0 and no not-before. So
// "x:1" and "x:2" are two bases, never one message seen twice. (DESIGN §1
// says "up to the first ':'"; issue 11 item 7 corrects it.)
func ParseName(name string) (base string, info Info) {
	base = name
	first := true
	// A base never ends in an own suffix, so formatting it again is stable:
	// "x:A1:A2" is x at attempt 2.
	for {
		i := strings.LastIndexByte(base, infoSep)
		if i < 0 {
			return base, info
		}
		in, ok := parseInfo(base[i+1:])
		if !ok {
			return base, info
		}
		if first {
			info, first = in, false
		}
		base = base[:i]
	}
}

func parseInfo(suffix string) (info Info, ok bool) {
	if len(suffix) < 2 || suffix[0] != 'A' {
		return Info{}, false
	}
	fields := strings.Split(suffix[1:], ",")
	attempt, ok := parseDigits(fields[0])
	if !ok || attempt > int64(maxInt) {
		return Info{}, false
	}
	info.Attempt = int(attempt)
	// Each optional field at most once, in this order.
	order := "EFNPS"
	for _, f := range fields[1:] {
		if f == "" {
			return Info{}, false
		}
		at := strings.IndexByte(order, f[0])
		if at < 0 {
			return Info{}, false
		}
		order = order[at+1:]
		switch f[0] {
		case 'E', 'F', 'N', 'S':
			ms, ok := parseDigits(f[1:])
			if !ok {
				return Info{}, false
			}
			switch f[0] {
			case 'E':
				info.Entered = time.UnixMilli(ms)
			case 'F':
				info.FirstSubmit = time.UnixMilli(ms)
			case 'N':
				info.NotBefore = time.UnixMilli(ms)
			default:
				info.Submitted = time.UnixMilli(ms)
			}
		case 'P':
			if f != "P" {
				return Info{}, false
			}
			info.Pasting = true
		}
	}
	return info, true
}

const maxInt = int(^uint(0) >> 1)

// parseDigits parses a non-empty run of ASCII digits into a non-negative int64.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// FormatName is the inverse of ParseName. A zero Info gives the bare base, so
// a message that was never retried keeps the name its writer gave it.
// NotBefore is stored with millisecond precision; a negative attempt counts as 0.
func FormatName(base string, info Info) string {
	if info.Attempt < 0 {
		info.Attempt = 0
	}
	if info.Attempt == 0 && info.Entered.IsZero() && info.FirstSubmit.IsZero() && info.NotBefore.IsZero() && !info.Pasting && info.Submitted.IsZero() {
		return base
	}
	b := make([]byte, 0, len(base)+40)
	b = append(b, base...)
	b = append(b, infoSep, 'A')
	b = strconv.AppendInt(b, int64(info.Attempt), 10)
	if !info.Entered.IsZero() {
		b = append(b, ",E"...)
		b = strconv.AppendInt(b, max(info.Entered.UnixMilli(), 0), 10)
	}
	if !info.FirstSubmit.IsZero() {
		b = append(b, ",F"...)
		b = strconv.AppendInt(b, max(info.FirstSubmit.UnixMilli(), 0), 10)
	}
	if !info.NotBefore.IsZero() {
		ms := info.NotBefore.UnixMilli()
		if ms < 0 {
			ms = 0
		}
		b = append(b, ",N"...)
		b = strconv.AppendInt(b, ms, 10)
	}
	if info.Pasting {
		b = append(b, ",P"...)
	}
	if !info.Submitted.IsZero() {
		b = append(b, ",S"...)
		b = strconv.AppendInt(b, max(info.Submitted.UnixMilli(), 0), 10)
	}
	return string(b)
}

// IDFromName is the id of a message without an id in its front matter: the
// file name without agentspool's info suffix, minus a trailing .md or .txt.
// It may be no valid id (a space, a newline, a ':' or a bracket in the
// name): ParseMessage then refuses the message, so such a name never
// reaches the envelope line.
func IDFromName(name string) string {
	name, _ = ParseName(name)
	if s, ok := strings.CutSuffix(name, ".md"); ok {
		return s
	}
	if s, ok := strings.CutSuffix(name, ".txt"); ok {
		return s
	}
	return name
}

// ValidAgentName reports whether name may name an agent (and so a directory
// in the spool). It is safeio.ValidAgentName, the rule coords.yaml uses too.
func ValidAgentName(name string) bool { return safeio.ValidAgentName(name) }

// ValidID reports whether id is a valid message id
// (^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$): the rule for front matter, file
// names, `send --id` and `ack ID` alike (safeio.ValidID).
func ValidID(id string) bool { return safeio.ValidID(id) }

func validID(id string) bool { return safeio.ValidID(id) }

func idSpelling(s string) bool { return safeio.IDSpelling(s) }

// safeComponent reports whether s can be used as one path component inside a
// spool directory without escaping it. Agent directories made by hand may
// have names that are not valid agent names; they are still safe to move
// messages out of, so the daemon can fail those messages.
func safeComponent(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	if filepath.Separator != '/' && strings.ContainsRune(s, filepath.Separator) {
		return false
	}
	return !strings.ContainsAny(s, "/\x00")
}
