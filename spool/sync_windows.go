package spool

// syncDir is a no-op on Windows: directories cannot be opened for fsync
// there, and NTFS journals the metadata of a rename itself.
var syncDir = func(dir string) error { return nil }
