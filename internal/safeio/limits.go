package safeio

// DefaultMaxMessageBytes is the size limit of a message file when none is
// configured (DESIGN §3: max_message_bytes, default 256 KiB). Its home is
// this leaf because both sides need it and neither may import the other:
// config (the key's default) and spool (a Spool built without a config)
// both import safeio (DESIGN §9).
const DefaultMaxMessageBytes = 256 << 10
