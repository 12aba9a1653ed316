//go:build !windows

package spool

// infoSep separates a file's base name from its Maildir-style info suffix.
const infoSep = ':'
