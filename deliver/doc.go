// Package deliver puts one message into one agent's input through one
// channel (Channel, channel.go). On the desktop (Deliverer): click, verify
// focus, offer the text on the CLIPBOARD, paste, wait until the window has
// fetched it, submit, and give the person's clipboard back, all under a
// cross-process desktop lock and with deadlines learned from the desktop's
// own recent latencies. In a tmux pane (Panes): read the input from the
// pane's screen (never into a draft, nor into a CLI at work on a turn),
// paste through a buffer of its own, see the message whole in the input,
// submit, see it let go; one lock per pane.
//
// The package knows nothing of spools or config files: it takes a Target and
// a text. The GUI itself sits behind Desktop (desktop.go), made of small
// roles: Mouse, Focus, Selections, Keyboard and InputClock.
//
// The files, platform-neutral first:
//
//	channel.go      Channel: what the service drives, the desktop or a pane
//	pane.go         the tmux channel: Panes, a pane's state, its lock, keys
//	pane_deliver.go one delivery into a pane, step by step
//	pane_screen.go  a pane's input read from its screen (placeholders,
//	                the caret, a paste seen whole)
//	deliver.go      the Deliverer and the step sequence of one delivery
//	                (Deliver, its GUI phase, the give-back); poll
//	target.go       Target: the agent's input, how its window is known,
//	                the delivery fitted to the program behind it
//	report.go       Report: what one delivery measured, each GUI step timed
//	submitagain.go  SubmitAgain (a submit a CLI took for a newline) and
//	                the gap between paste and submit learned per agent
//	desktop.go      Desktop and its roles, Window, Input, Offer: what the
//	                steps ask of a desktop
//	quiet.go        quiet-desk policy: a person's input told from ours
//	focus.go        focus policy: the click verified, guarded keys, refocus, undo
//	click.go        where to click so that no click makes a multi-click
//	clipboard.go    clipboard policy: save, offer, read back, ownership, restore
//	paste.go        the paste: ctrl+v, the window's burst of reads, verification
//	look.go         looking into the input: draft check, take-back, leftovers
//	timing.go       learned deadlines
//	lock.go         the cross-process desktop lock
//	errors.go       the errors a caller tells apart
//	program.go      what runs behind a window: a terminal, the agent CLI in
//	                it, what each needs (keys never tapped, paste key, undo,
//	                the gap before the submit); bindings that last
//	probe.go        the setup tools' view (doctor, coords): screens, windows
//	wayland.go      what a Wayland session hides from an X11 desktop
//
// and per platform, one file each for _linux (X11), _windows (Win32) and
// _other (none yet, saying so):
//
//	backend_{linux,windows,other}.go    NewDesktop: this platform's Desktop
//	probe_{linux,windows,other}.go      Probe: the session, the monitors,
//	                                    the top-level windows
//	proctable_{linux,windows,other}.go  the process table: what runs under
//	                                    an agent's terminal window
//
// and each backend's concerns in files named for them, X11 on Linux
// (x11_other.go: NewX11 elsewhere, an error):
//
//	x11_linux.go            the connection and its event loop
//	x11_input_linux.go      the input clock (our injections vs the idle time)
//	x11clock_linux.go       the server's clock (SYNC SERVERTIME)
//	x11_grab_linux.go       the keyboard grab: a person's keys kept, replayed
//	x11_window_linux.go     window queries, the pointer, the click
//	x11_clipboard_linux.go  serving the CLIPBOARD, restricted by client
//	x11_keys_linux.go       keys, the guarded key under a server grab
//
// and Win32 on Windows, through golang.org/x/sys/windows (no cgo):
//
//	win_windows.go            the message thread, our hidden windows, the hooks
//	win32_windows.go          the user32 and kernel32 calls and their structs
//	win_input_windows.go      the input clock, as the low-level hooks see it
//	win_grab_windows.go       the keyboard grab: a person's keys kept, replayed
//	win_window_windows.go     window queries, the pointer, the click, UIPI
//	win_clipboard_windows.go  serving the clipboard by delayed rendering
//	win_keys_windows.go       keys, the guarded key (check, tap, check again)
//
// The fake for tests is deliver/fakedesktop, its files named for the same
// roles: fake.go the desk, its windows (Focus) and the pointer (Mouse);
// clipboard.go the Selections; keys.go the Keyboard; person.go the
// InputClock and a person's input.
package deliver
