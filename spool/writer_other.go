//go:build !linux && !windows

package spool

// openForWriting: macOS and the BSDs have no cheap way to ask whether a
// file is open for writing (no leases; lsof walks every process), so the
// answer is unknown and Settled falls back to a rest of the mtime.
func openForWriting(path string) (open, known bool) { return false, false }
