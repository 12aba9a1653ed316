package confirm

// syncDir is a no-op: Windows cannot open a directory for FlushFileBuffers
// through os.Open, and NTFS journals the rename's metadata itself.
func syncDir(dir string) error { return nil }
