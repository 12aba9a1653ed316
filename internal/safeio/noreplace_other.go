//go:build unix && !linux && !darwin

package safeio

// renameExcl: no exclusive rename known here; RenameNoReplace links.
func renameExcl(src, dst string) error { return errNoExclRename }
