package spool

// infoSep separates a file's base name from its Maildir-style info suffix.
// ':' is not allowed in NTFS file names (it names an alternate data stream),
// so Windows uses ';' as emersion/go-maildir does.
const infoSep = ';'
