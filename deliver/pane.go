// The tmux channel (platform-neutral, needs tmux): one delivery into an
// agent's tmux pane. A pane has no shared clipboard and no focus: the text
// goes in through a tmux buffer of its own, loaded from stdin; the pane is
// read back (capture-pane) to see the message whole in the input before
// the submit, and the input cleared after. A paste that had not shown when
// its attempt stopped waiting is recorded beside the pane's lock
// (unseenPaste): it is its own message's, and no other message is pasted
// into the pane until it is resolved. One lock per pane: deliveries to
// different panes run side by side.

package deliver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Pane is an agent's tmux pane (Target.Pane).
type Pane struct {
	// Target is any tmux target-pane: "work:2.1", "%5", "agents:claude".
	Target string
	// Socket is the tmux server's socket path (tmux -S); "" is the
	// user's default server.
	Socket string
}

func (p Pane) String() string {
	if p.Socket == "" {
		return "tmux pane " + p.Target
	}
	return "tmux pane " + p.Target + " (server " + p.Socket + ")"
}

// Steps of the tmux channel whose latencies are learned.
const (
	// StepPaneLanded is paste-buffer → the pane shows the message whole
	// in the input.
	StepPaneLanded = "pane_landed"
	// StepPaneSubmitted is the submit key → the pane's input no longer
	// holds the message.
	StepPaneSubmitted = "pane_submitted"
)

// ErrPaneGone: the agent's pane does not exist any more, or its program
// ended (the pane is dead). Test with errors.Is.
var ErrPaneGone = errors.New("the agent's tmux pane is gone")

// ErrNoPrompt: the pane shows no input prompt (a dialog, a program at
// work, a pane running something else): there is nothing to paste into.
// Test with errors.Is.
var ErrNoPrompt = errors.New("the pane shows no input prompt")

// ErrAtWork: the pane shows its agent CLI at work on a turn (its screen
// says how to stop it): a submit then is no prompt of its own, so nothing
// is pasted or submitted until it is done. Test with errors.Is.
var ErrAtWork = errors.New("the agent's CLI is at work on a turn (its screen says esc to cancel or interrupt)")

// Panes is the tmux channel.
type Panes struct {
	// Tmux is the tmux program ("" is "tmux" on PATH).
	Tmux string
	// LockDir holds one lock file per pane ("" takes no lock: one process
	// only).
	LockDir string
	// Timings learns how long each step takes (nil: defaults).
	Timings *Timings
	// QuietFor: a key a person typed in a client attached to the pane's
	// session this recently makes the delivery wait. tmux counts client
	// activity in whole seconds, so the wait is up to a second longer.
	QuietFor time.Duration
	// QuietMaxWait is how long a person (or copy mode) is waited out;
	// then a non-urgent delivery gives up for now (IsNotQuiet).
	QuietMaxWait time.Duration
	Log          *slog.Logger
	// Inspect finds the program running in a pane from its process
	// (tests replace it).
	Inspect func(panePID int) Program
	// AfterStep, when set, is called as each step of a delivery ends
	// ("quiet", "looked", "pasted", "submitted", …): a test seam, as
	// Deliverer.AfterStep.
	AfterStep func(step string)

	mu    sync.Mutex
	locks map[string]*DesktopLock
	// unseen: pastes that had not shown (noteUnseen), without a LockDir.
	unseen map[string]unseenPaste
}

// paneState is what tmux says of a pane.
type paneState struct {
	id      string // %N
	pid     int
	session string
	dead    bool
	mode    string // "copy-mode", … ("": none)
	width   int    // columns
	// activity is the session's last activity (a person's key in an
	// attached client, an attach; whole seconds) as tmux gave it.
	activity string
	command  string // what runs in the pane in front (tmux's pane_current_command)
}

// tmux runs one tmux command on p's server, with stdin.
func (ps *Panes) tmux(ctx context.Context, p Pane, stdin []byte, args ...string) (string, error) {
	bin := ps.Tmux
	if bin == "" {
		bin = "tmux"
	}
	name := args[0]
	if p.Socket != "" {
		args = append([]string{"-S", p.Socket}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, "can't find") || strings.Contains(msg, "no server running") ||
			strings.Contains(msg, "error connecting") || strings.Contains(msg, "no such") ||
			strings.Contains(msg, "server exited") {
			return "", fmt.Errorf("%w: %s: %s", ErrPaneGone, p, msg)
		}
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("deliver: tmux is not installed (%v)", err)
		}
		if name != "display-message" {
			// tmux words a pane that went away mid-command in several
			// ways ("no current target", …): asked again, plainly.
			if _, serr := ps.state(ctx, p); errors.Is(serr, ErrPaneGone) {
				return "", serr
			}
		}
		return "", temporary("tmux "+name, fmt.Errorf("%v: %s", err, msg))
	}
	return out.String(), nil
}

// ExactPaneTarget is target as tmux matches it exactly. tmux takes a name
// for the first session or window whose name it prefixes ("pa" finds a
// window "pandas" in another session: a message for one agent pasted into
// another's pane); '=' before a name asks for that name alone. A target
// is "%ID" (a pane id) or SESSION:[WINDOW[.PANE]]; a bare name, which
// tmux may take for a pane, a window or a session, is refused.
func ExactPaneTarget(target string) (string, error) {
	if strings.HasPrefix(target, "%") {
		if _, err := strconv.Atoi(target[1:]); err != nil {
			return "", fmt.Errorf("%q is not a tmux pane id (%%5)", target)
		}
		return target, nil
	}
	sess, rest, ok := strings.Cut(target, ":")
	if !ok || sess == "" || sess == "=" {
		return "", fmt.Errorf("tmux target %q names no session: write SESSION: (its active pane), SESSION:WINDOW.PANE (work:2.1) or a pane id (%%5); tmux takes a bare name for a session, a window or a pane, whichever it finds first, by prefix", target)
	}
	if !strings.HasPrefix(sess, "=") && !strings.HasPrefix(sess, "$") {
		sess = "=" + sess
	}
	win, pane, hasPane := strings.Cut(rest, ".")
	if win != "" && !strings.HasPrefix(win, "=") && !strings.HasPrefix(win, "@") {
		if _, err := strconv.Atoi(win); err != nil {
			win = "=" + win
		}
	}
	out := sess + ":" + win
	if hasPane {
		out += "." + pane
	}
	return out, nil
}

func (ps *Panes) state(ctx context.Context, p Pane) (paneState, error) {
	target, err := ExactPaneTarget(p.Target)
	if err != nil {
		return paneState{}, fmt.Errorf("deliver: %w", err)
	}
	out, err := ps.tmux(ctx, p, nil, "display-message", "-p", "-t", target,
		"#{pane_id}\t#{pane_pid}\t#{session_name}\t#{pane_dead}\t#{?pane_in_mode,#{pane_mode},}\t#{pane_width}\t#{session_activity}\t#{pane_current_command}")
	if err != nil {
		return paneState{}, err
	}
	f := strings.Split(strings.TrimRight(out, "\n"), "\t")
	if len(f) == 8 && f[0] == "" {
		// tmux 3.3 answers a target it does not find with empty fields.
		return paneState{}, fmt.Errorf("%w: %s: tmux finds no such pane", ErrPaneGone, p)
	}
	if len(f) != 8 || !strings.HasPrefix(f[0], "%") {
		return paneState{}, temporary("tmux display-message", fmt.Errorf("unexpected answer %q", out))
	}
	pid, _ := strconv.Atoi(f[1])
	width, _ := strconv.Atoi(f[5])
	st := paneState{id: f[0], pid: pid, session: f[2], dead: f[3] == "1", mode: f[4], width: width, activity: f[6], command: f[7]}
	if st.dead {
		return st, fmt.Errorf("%w: %s: its program has ended", ErrPaneGone, p)
	}
	return st, nil
}

// personActive says whether a person typed into a client attached to the
// pane's session within QuietFor (whole seconds, rounded up), or the pane
// is in a mode (copy mode: a person reading back): then nothing is typed
// into it.
func (ps *Panes) personActive(ctx context.Context, p Pane, st paneState) (string, error) {
	if st.mode != "" {
		return "the pane is in " + st.mode, nil
	}
	out, err := ps.tmux(ctx, p, nil, "list-clients", "-t", st.session, "-F", "#{client_activity}")
	if err != nil {
		return "", err
	}
	last := int64(0)
	for _, l := range strings.Fields(out) {
		if n, err := strconv.ParseInt(l, 10, 64); err == nil && n > last {
			last = n
		}
	}
	quiet := int64((ps.QuietFor + time.Second - 1) / time.Second)
	if last > 0 && time.Now().Unix()-last <= quiet {
		return "a person is typing in a client attached to the pane's session", nil
	}
	return "", nil
}

// waitQuiet waits until personActive says nothing, up to QuietMaxWait
// (an urgent message goes after it anyway); st is read again each time.
func (ps *Panes) waitQuiet(ctx context.Context, t Target, rep *Report) (paneState, error) {
	start := time.Now()
	told := false
	for {
		st, err := ps.state(ctx, *t.Pane)
		if err != nil {
			return st, err
		}
		why, err := ps.personActive(ctx, *t.Pane, st)
		if err != nil || why == "" {
			rep.QuietWait = time.Since(start)
			return st, err
		}
		waited := time.Since(start)
		if waited >= ps.QuietMaxWait {
			if t.Urgent && st.mode == "" {
				rep.Forced = true
				return st, nil
			}
			return st, &quietError{waited: waited}
		}
		if !told && t.QuietWait != nil {
			t.QuietWait()
			told = true
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return st, err
		}
	}
}

// historyFor is how many lines of a pane's history a look must read to
// see text whole in an input that shows it all (a shell's line editor:
// a message longer than the screen scrolls its prompt line out of it),
// as many rows as it takes at width columns, and its prompt's.
func historyFor(text string, width int) int {
	if width <= 0 {
		width = 80
	}
	rows := 2
	for _, l := range strings.Split(text, "\n") {
		rows += utf8.RuneCountInString(l)/width + 1
	}
	return rows
}

// capture reads the pane's screen and back lines of its history above
// it, with escape sequences, wrapped lines joined.
func (ps *Panes) capture(ctx context.Context, p Pane, id string, back int) (paneInput, error) {
	args := []string{"capture-pane", "-p", "-e", "-J", "-t", id}
	if back > 0 {
		args = append(args, "-S", strconv.Itoa(-back))
	}
	out, err := ps.tmux(ctx, p, nil, args...)
	if err != nil {
		return paneInput{}, err
	}
	return readInput(out), nil
}

// lock takes the pane's own lock (by server and pane id).
func (ps *Panes) lock(ctx context.Context, p Pane, id string) (func(), time.Duration, error) {
	l, err := ps.paneLock(p, id)
	if err != nil || l == nil {
		return func() {}, 0, err
	}
	waited, err := l.Lock(ctx)
	if err != nil {
		return nil, waited, err
	}
	return func() { l.Unlock() }, waited, nil
}

// paneLock is the pane's own lock, made at its first use; nil without a
// LockDir.
func (ps *Panes) paneLock(p Pane, id string) (*DesktopLock, error) {
	if ps.LockDir == "" {
		return nil, nil
	}
	name := paneLockName(p, id)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.locks == nil {
		ps.locks = map[string]*DesktopLock{}
	}
	l := ps.locks[name]
	if l == nil {
		var err error
		if l, err = NewDesktopLock(filepath.Join(ps.LockDir, name)); err != nil {
			return nil, err
		}
		ps.locks[name] = l
	}
	return l, nil
}

// paneLockName is the pane's lock file's name in LockDir: its server's
// socket (hashed) and its pane id.
func paneLockName(p Pane, id string) string {
	h := fnv.New64a()
	h.Write([]byte(p.Socket))
	return fmt.Sprintf("pane-%x-%s.lock", h.Sum64(), strings.TrimPrefix(id, "%"))
}

// unseenPaste is a paste that went into a pane and had not shown in its
// input when its delivery stopped waiting for it (a CLI on a loaded desk
// took six seconds to draw one): it may show yet. Until its message's
// next attempt finds it (or finds the input empty and pastes afresh), it
// is that message's: another message is not pasted into the pane (it
// would land beside it), nor takes a placeholder there for its own paste
// (Qwen Code shows a long paste as "[Pasted Content 1234 chars]", which
// another message of the same length would pass for, and submit).
type unseenPaste struct {
	sum string    // the text's SHA-256, hex
	at  time.Time // when it was pasted
}

// unseenExpiry is how long another message's paste that never showed
// keeps a pane from new pastes while the input stays empty: then it is
// taken for lost.
const unseenExpiry = time.Minute

func textSum(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// unseenSidecar is the unseen paste's record beside the pane's lock
// (DesktopLock.WriteSidecar): read and written under that lock only.
const unseenSidecar = "unseen"

// noteUnseen records that text's paste into pane id did not show. Beside
// the pane's lock (so a restarted daemon, or another on the same pane,
// knows it), or in memory without a LockDir.
func (ps *Panes) noteUnseen(p Pane, id, text string) {
	u := unseenPaste{sum: textSum(text), at: time.Now()}
	l, err := ps.paneLock(p, id)
	if err == nil && l != nil {
		err = l.WriteSidecar(unseenSidecar, fmt.Appendf(nil, "%s %d\n", u.sum, u.at.UnixNano()))
	}
	if err != nil {
		ps.Log.Warn("cannot record a paste that has not shown yet", "pane", p.String(), "err", err)
		return
	}
	if l == nil {
		ps.mu.Lock()
		if ps.unseen == nil {
			ps.unseen = map[string]unseenPaste{}
		}
		ps.unseen[paneLockName(p, id)] = u
		ps.mu.Unlock()
	}
}

// unseenOf is the pane's paste that has not shown, if one is recorded.
func (ps *Panes) unseenOf(p Pane, id string) (unseenPaste, bool) {
	l, err := ps.paneLock(p, id)
	if err != nil {
		return unseenPaste{}, false
	}
	if l == nil {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		u, ok := ps.unseen[paneLockName(p, id)]
		return u, ok
	}
	data, err := l.ReadSidecar(unseenSidecar)
	if errors.Is(err, fs.ErrNotExist) {
		return unseenPaste{}, false
	}
	sum, at, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	ns, perr := strconv.ParseInt(at, 10, 64)
	if err != nil || perr != nil || len(sum) != 2*sha256.Size {
		// Unreadable, or refused (not a file of ours): as old as can
		// be, of no message's.
		return unseenPaste{sum: "?"}, true
	}
	return unseenPaste{sum: sum, at: time.Unix(0, ns)}, true
}

// clearUnseen forgets the pane's paste that had not shown.
func (ps *Panes) clearUnseen(p Pane, id string) {
	l, err := ps.paneLock(p, id)
	switch {
	case err != nil:
	case l == nil:
		ps.mu.Lock()
		delete(ps.unseen, paneLockName(p, id))
		ps.mu.Unlock()
	default:
		if err = os.Remove(l.sidecarPath(unseenSidecar)); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		ps.Log.Warn("cannot clear the record of a paste that had not shown", "pane", p.String(), "err", err)
	}
}

func (ps *Panes) ready() {
	if ps.Timings == nil {
		ps.Timings = NewTimings(5*time.Millisecond, 5*time.Second)
	}
	if ps.Log == nil {
		ps.Log = slog.New(slog.DiscardHandler)
	}
	if ps.QuietMaxWait == 0 {
		ps.QuietMaxWait = 2 * time.Minute
	}
}

// ProgramOf is the program running in t's pane: "tmux" as the terminal,
// and the agent CLI in it, if one is.
func (ps *Panes) ProgramOf(t Target) Program {
	st, err := ps.state(context.Background(), *t.Pane)
	if err != nil {
		return Program{Terminal: "tmux"}
	}
	return ps.program(st.pid)
}

func (ps *Panes) program(pid int) Program {
	if ps.Inspect != nil {
		return ps.Inspect(pid)
	}
	p := Program{Terminal: "tmux"}
	procs, err := processes()
	if err != nil {
		return p
	}
	for _, pr := range procs {
		if pr.PID == pid {
			if k := cliOf(pr); k != "" {
				p.CLI, p.CLIPID = k, pid
				return p
			}
		}
	}
	p.CLI, p.CLIPID = findCLI(procs, pid)
	return p
}

// PaneLook is what doctor is told of an agent's pane.
type PaneLook struct {
	ID      string  // the pane's id (%N)
	Program Program // the agent CLI in it, if one is recognised
	Command string  // what runs in the pane in front (bash, node, …)
	// Prompt: the screen shows an input prompt agentspool reads (a line
	// that begins with >, › or ❯); Draft is what that input holds.
	Prompt bool
	Draft  string
	// AtWork: the screen shows the CLI at work on a turn (ErrAtWork).
	AtWork bool
}

// Describe says which pane t's target is now, what runs in it, and
// whether its screen shows an input to paste into, for doctor.
func (ps *Panes) Describe(t Target) (PaneLook, error) {
	ctx := context.Background()
	st, err := ps.state(ctx, *t.Pane)
	if err != nil {
		return PaneLook{}, err
	}
	look := PaneLook{ID: st.id, Program: ps.program(st.pid), Command: st.command}
	in, err := ps.capture(ctx, *t.Pane, st.id, 0)
	if err != nil {
		return look, err
	}
	look.Prompt, look.Draft, look.AtWork = in.Found, in.Text, in.AtWork
	return look, nil
}

// PromptMarks are the marks an input prompt line begins with, as a
// person reads them.
const PromptMarks = ">, › or ❯"

// AgentAbsent reports whether t's pane is gone (closed, or its program
// ended).
func (ps *Panes) AgentAbsent(t Target) (Window, bool, error) {
	_, err := ps.state(context.Background(), *t.Pane)
	if errors.Is(err, ErrPaneGone) {
		return Window{}, true, nil
	}
	return Window{}, false, err
}

// bufferName is a tmux buffer of this delivery's own.
func bufferName() string {
	var b [6]byte
	rand.Read(b[:])
	return "agentspool-" + hex.EncodeToString(b[:])
}

// paneKey is a key combo as tmux's send-keys names it ("enter" → Enter,
// ctrl+slash → C-/); ok is false for one that must never reach a terminal
// program (Harmful) or that tmux has no name for.
func paneKey(combo []string) (string, bool) {
	if len(combo) == 0 || Harmful(combo) {
		return "", false
	}
	names := map[string]string{"enter": "Enter", "return": "Enter", "tab": "Tab", "backspace": "BSpace",
		"escape": "Escape", "esc": "Escape", "space": "Space", "slash": "/", "underscore": "_", "minus": "-"}
	key := strings.ToLower(combo[len(combo)-1])
	name, ok := names[key]
	if !ok {
		if len([]rune(key)) != 1 {
			return "", false
		}
		name = key
	}
	prefix := ""
	for _, m := range combo[:len(combo)-1] {
		switch strings.ToLower(m) {
		case "ctrl":
			prefix += "C-"
		case "alt":
			prefix += "M-"
		case "shift":
			prefix += "S-"
		default:
			return "", false
		}
	}
	return prefix + name, true
}
