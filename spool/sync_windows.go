package spool

// syncDir is a no-op on Windows: directories cannot be opened for fsync
// there, and NTFS journals the metadata of a rename itself.
var syncDir = realSyncDir

var realSyncDir = func(dir string) error { return nil }
