package spool

import (
	"errors"
	"fmt"
)

// messageKind says what is wrong with a message. Every kind is permanent:
// the same bytes will fail the same way on every attempt, so the daemon
// moves such a message to failed/ instead of retrying it.
type messageKind int

const (
	kindEmpty messageKind = iota + 1
	kindTooLarge
	kindNotUTF8
	kindBadFrontMatter
	kindNotRegular
	kindSymlink
	kindNotOwned
	kindBadName
	kindUnreadable
)

func (k messageKind) String() string {
	switch k {
	case kindEmpty:
		return "empty message"
	case kindTooLarge:
		return "message too large"
	case kindNotUTF8:
		return "message is not UTF-8 text"
	case kindBadFrontMatter:
		return "broken front matter"
	case kindNotRegular:
		return "message file is not a regular file"
	case kindSymlink:
		return "message file is a symbolic link (never followed: it could point at any file of yours)"
	case kindNotOwned:
		return "message file is owned by another user (only the daemon's user may feed the spool)"
	case kindBadName:
		return "bad message file name"
	case kindUnreadable:
		return "message file could not be read"
	}
	return "bad message"
}

type messageError struct {
	kind   messageKind
	detail string
	err    error
}

func (e *messageError) Error() string {
	s := "spool: " + e.kind.String()
	if e.detail != "" {
		s += ": " + e.detail
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *messageError) Unwrap() error { return e.err }

// Permanent reports that retrying cannot help.
func (e *messageError) Permanent() bool { return true }

func badMessage(kind messageKind, detail string, err error) error {
	return &messageError{kind: kind, detail: detail, err: err}
}

func isMessageKind(err error, kind messageKind) bool {
	var me *messageError
	return errors.As(err, &me) && (kind == 0 || me.kind == kind)
}

// IsBadMessage reports whether err says a message's content is unacceptable
// (empty, too large, not UTF-8, broken front matter, not a regular file).
// Such errors are permanent.
func IsBadMessage(err error) bool { return isMessageKind(err, 0) }

// IsNotOwned reports whether err says the message file belongs to another user.
func IsNotOwned(err error) bool { return isMessageKind(err, kindNotOwned) }

// IsSymlink reports whether err says the message file is a symbolic link.
func IsSymlink(err error) bool { return isMessageKind(err, kindSymlink) }

// IsNotRegular reports whether err says the message file is a FIFO, device,
// socket or directory.
func IsNotRegular(err error) bool { return isMessageKind(err, kindNotRegular) }

// IsBadName reports whether err says the file name gives no valid id.
func IsBadName(err error) bool { return isMessageKind(err, kindBadName) }

// IsEmpty reports whether err says the message (or its body) is empty.
func IsEmpty(err error) bool { return isMessageKind(err, kindEmpty) }

// IsTooLarge reports whether err says the message exceeds the size limit.
func IsTooLarge(err error) bool { return isMessageKind(err, kindTooLarge) }

// IsNotUTF8 reports whether err says the message is not UTF-8 text (or contains NUL).
func IsNotUTF8(err error) bool { return isMessageKind(err, kindNotUTF8) }

// IsBadFrontMatter reports whether err says the YAML front matter is broken.
func IsBadFrontMatter(err error) bool { return isMessageKind(err, kindBadFrontMatter) }

type badAgentError struct{ name string }

func (e *badAgentError) Error() string {
	return fmt.Sprintf("spool: bad agent name %q (want [A-Za-z0-9][A-Za-z0-9._-]{0,63}, no \"..\")", e.name)
}

func (e *badAgentError) Permanent() bool { return true }

// IsBadAgent reports whether err says an agent name is not acceptable.
func IsBadAgent(err error) bool {
	var ae *badAgentError
	return errors.As(err, &ae)
}

// IsPermanent reports whether err is one that no retry can cure: a bad
// message or a bad agent name.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// goneError means the file a transition or read started from is no longer
// where the Entry says: another claimer took it, or an operator moved it.
type goneError struct {
	op   string
	path string
	err  error
}

func (e *goneError) Error() string {
	return fmt.Sprintf("spool: %s %s: message is gone: %v", e.op, e.path, e.err)
}

func (e *goneError) Unwrap() error { return e.err }

// IsGone reports whether err says the source message vanished (claimed by
// someone else, or moved) before the operation could act on it.
func IsGone(err error) bool {
	var ge *goneError
	return errors.As(err, &ge)
}
