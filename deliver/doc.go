// Package deliver puts one message into one agent's chat input on the desktop:
// click, verify focus, offer the text on the CLIPBOARD, paste, wait until the
// window has fetched it, submit, and give the person's clipboard back, all
// under a cross-process desktop lock and with deadlines learned from the
// desktop's own recent latencies.
//
// The package knows nothing of spools or config files: it takes a Target and
// a text. The GUI itself sits behind the small Desktop interface; the one real
// implementation speaks X11 (see x11_linux.go).
package deliver
