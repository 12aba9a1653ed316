package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/internal/jsonedit"
	"github.com/agentspool/agentspool/internal/safeio"
)

// backupSuffix names the copy of a hooks file as it was before agentspool
// first changed it.
const backupSuffix = ".agentspool-backup"

var hooksCommand = &command{
	name:    "hooks",
	order:   46,
	summary: "install, remove or check agentspool's hooks in an agent's tool (Cursor, Claude Code, Codex, Gemini CLI, Qwen Code)",
	usage:   "hooks install|uninstall|check --agent AGENT --for cursor|claude-code|codex|gemini|qwen-code [--project DIR | --user]",
	help: `Installs the hooks that make the agent's own tool confirm what it was
given ("agentspool hook"): on each submitted prompt the tool acks the
agent's messages in it and marks the agent busy; at the end of its turn, it
marks the agent ready (see deliver_when in coords.yaml).

  --for cursor       .cursor/hooks.json in the project (--user:
                     ~/.cursor/hooks.json), events beforeSubmitPrompt, stop
  --for claude-code  .claude/settings.json in the project (--user:
                     ~/.claude/settings.json), events UserPromptSubmit, Stop
  --for codex        .codex/hooks.json in the project (--user:
                     $CODEX_HOME/hooks.json, default ~/.codex/hooks.json),
                     events UserPromptSubmit, Stop. Codex runs a new or
                     changed hook only once you trust it in its /hooks
                     screen; until then it skips it without a word.
  --for gemini       .gemini/settings.json in the project (--user:
                     ~/.gemini/settings.json), events BeforeAgent,
                     AfterAgent (timeouts in milliseconds)
  --for qwen-code    .qwen/settings.json in the project (--user:
                     ~/.qwen/settings.json), events UserPromptSubmit, Stop

install merges agentspool's entries into the file and keeps every other
hook as it is (and every other key, in its order); running it again changes
nothing. The first change keeps a copy of the file as it was in
FILE.agentspool-backup. Entries are agentspool's when their command runs
agentspool's "hook --agent AGENT"; one for another binary path or config is
replaced. uninstall removes only agentspool's entries for AGENT; when they
were the only change, the file is put back byte for byte as it was (or
removed, if install created it). check says whether both events are
installed and when each last fired (from <spool>/agents/AGENT.state), says
so when one never fired (for Codex: whether you trusted it), and fails
when they are not installed.

The command written is this binary's absolute path and the absolute path
of the config, so the tool finds both whatever its working directory.

Example:
  agentspool hooks install --agent Agent-3 --for cursor --project ~/src/app
  agentspool hooks install --agent Agent-4 --for claude-code --user
  agentspool hooks check --agent Agent-3 --for cursor --project ~/src/app
  agentspool hooks uninstall --agent Agent-3 --for cursor --project ~/src/app`,
	run: runHooks,
}

func runHooks(e *env, args []string) error {
	fs := e.flagSet()
	agent := fs.String("agent", "", "the `AGENT` whose tool this is (required)")
	forTool := fs.String("for", "", "the `TOOL`: "+hookToolNames+" (required)")
	project := fs.String("project", "", "the project `DIR` whose hooks file to edit (default: the current directory)")
	user := fs.Bool("user", false, "edit the user's hooks file in the home directory instead")
	rest, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	action := rest[0]
	bad := func(format string, a ...any) error {
		return &usageError{cmd: e.cmd, flags: fs, err: fmt.Errorf(format, a...)}
	}
	switch {
	case action != "install" && action != "uninstall" && action != "check":
		return bad("unknown action %q: want install, uninstall or check", action)
	case *agent == "":
		return bad("--agent is required")
	case hookTools[*forTool] == nil:
		return bad("--for %q: want %s", *forTool, hookToolNames)
	case *user && *project != "":
		return bad("give --project or --user, not both")
	}
	tool := hookTools[*forTool]
	cfg, err := e.config()
	if err != nil {
		return err
	}
	if _, ok := cfg.Agent(*agent); !ok {
		return unknownAgentErr(cfg, *agent)
	}
	path, err := hooksFile(tool, *project, *user)
	if err != nil {
		return err
	}
	// A hooks file kept by a dotfiles manager is a symlink: edit its
	// target, so the link stays.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if path, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
	}
	cmdFor, err := e.hookCommandLine(*agent, tool)
	if err != nil {
		return err
	}
	// The exact command counts too: a binary renamed away from
	// "agentspool" must not get a duplicate entry per install.
	ours := func(c string) bool { return isOurHook(c, *agent) || c == cmdFor(tool.submit) || c == cmdFor(tool.stop) }
	switch action {
	case "install":
		changed, err := installHooks(path, tool, cmdFor, ours)
		if err != nil {
			return err
		}
		if changed {
			fmt.Fprintf(e.stdout, "installed %s and %s hooks for %s in %s\n", tool.submit, tool.stop, *agent, path)
		} else {
			fmt.Fprintf(e.stdout, "already installed for %s in %s: nothing changed\n", *agent, path)
		}
	case "uninstall":
		how, err := uninstallHooks(path, tool, ours)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", path, how)
	case "check":
		return e.checkHooks(path, tool, *agent, ours)
	}
	return nil
}

// hooksFile is the absolute path of tool's hooks file: in the project
// dir (default: the current directory), or the user's.
func hooksFile(tool *hookTool, project string, user bool) (string, error) {
	dir := filepath.Join(project, tool.dir)
	switch {
	case user && tool.userDir != nil:
		d, err := tool.userDir()
		if err != nil {
			return "", err
		}
		dir = d
	case user:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, tool.dir)
	case project == "":
		dir = tool.dir
	}
	return filepath.Abs(filepath.Join(dir, tool.file))
}

// hookCommandLine is the command agentspool writes into the tool's file
// for agent and an event: this binary and the config, by absolute paths.
func (e *env) hookCommandLine(agent string, tool *hookTool) (func(event string) string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("hooks: this binary's path: %w", err)
	}
	cfgPath, err := filepath.Abs(e.configPath)
	if err != nil {
		return nil, err
	}
	return func(event string) string {
		cmd := shellQuote(exe) + " --config " + shellQuote(cfgPath) + " hook --agent " + agent + " "
		if tool.forFlag {
			cmd += "--for " + tool.name + " "
		}
		return cmd + event
	}, nil
}

// isOurHook reports whether a hook command is agentspool's hook for agent.
func isOurHook(cmd, agent string) bool {
	return strings.Contains(cmd, "agentspool") && strings.Contains(cmd+" ", " hook --agent "+agent+" ")
}

// hooksDoc is a tools' hooks file, parsed.
type hooksDoc struct {
	top    jsonedit.Object
	hooks  jsonedit.Object // the "hooks" object
	exists bool
	raw    []byte
	perm   fs.FileMode // the file's, kept when it is rewritten
	// hadHooks: the file had a "hooks" key; without it, an empty one is
	// left out again, so uninstall gives back what install was given.
	hadHooks bool
}

func readHooksDoc(path string) (*hooksDoc, error) {
	raw, err := safeio.ReadFile(path, safeio.OpenOptions{MaxBytes: 4 << 20})
	if errors.Is(err, fs.ErrNotExist) {
		return &hooksDoc{perm: 0o644}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	d := &hooksDoc{exists: true, raw: raw, perm: 0o644}
	if fi, err := os.Stat(path); err == nil {
		d.perm = fi.Mode().Perm()
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return d, nil
	}
	if d.top, err = jsonedit.Parse(raw); err != nil {
		return nil, fmt.Errorf("hooks: %s is not a JSON object (%v): fix it by hand, nothing changed", path, err)
	}
	if h, ok := d.top.Get("hooks"); ok {
		d.hadHooks = true
		if d.hooks, err = jsonedit.Parse(h); err != nil {
			return nil, fmt.Errorf("hooks: %s: \"hooks\" is not an object (%v): nothing changed", path, err)
		}
	}
	return d, nil
}

// entries is the list of an event, and whether it is a list.
func (d *hooksDoc) entries(event string) ([]json.RawMessage, error) {
	v, ok := d.hooks.Get(event)
	if !ok {
		return nil, nil
	}
	var es []json.RawMessage
	if err := json.Unmarshal(v, &es); err != nil {
		return nil, fmt.Errorf("hooks: %q is not a list: nothing changed", event)
	}
	return es, nil
}

func (d *hooksDoc) setEntries(event string, es []json.RawMessage) {
	if len(es) == 0 {
		d.hooks = d.hooks.Delete(event)
		return
	}
	d.hooks = d.hooks.Set(event, jsonedit.Array(es))
}

func (d *hooksDoc) encode(tool *hookTool) []byte {
	top := d.top
	if !d.exists || len(bytes.TrimSpace(d.raw)) == 0 {
		top = slices.Clone(tool.skeleton)
	}
	if len(d.hooks) == 0 && !d.hadHooks {
		return top.Delete("hooks").Encode()
	}
	return slices.Clone(top).Set("hooks", d.hooks.Encode()).Encode()
}

// ourEntry reports whether an entry runs only agentspool hooks of ours.
func ourEntry(tool *hookTool, e json.RawMessage, ours func(string) bool) (all, any bool) {
	cs := tool.commands(e)
	all = len(cs) > 0
	for _, c := range cs {
		if ours(c) {
			any = true
		} else {
			all = false
		}
	}
	return all, any
}

// installHooks merges our two entries into path; it reports whether the
// file changed.
func installHooks(path string, tool *hookTool, cmdFor func(string) string, ours func(string) bool) (bool, error) {
	d, err := readHooksDoc(path)
	if err != nil {
		return false, err
	}
	for _, ev := range []string{tool.submit, tool.stop} {
		es, err := d.entries(ev)
		if err != nil {
			return false, err
		}
		want := tool.entry(cmdFor(ev))
		var kept []json.RawMessage
		have := false
		for _, e := range es {
			all, any := ourEntry(tool, e, ours)
			switch {
			case all && !have && bytes.Equal(jsonedit.Compact(e), jsonedit.Compact(want)):
				have = true
				kept = append(kept, e)
			case all:
				// Ours for another binary or config, or a duplicate: replaced.
			case any:
				return false, fmt.Errorf("hooks: %s: an entry of %s mixes agentspool's hook with others; edit it by hand", path, ev)
			default:
				kept = append(kept, e)
			}
		}
		if !have {
			kept = append(kept, want)
		}
		d.setEntries(ev, kept)
	}
	out := d.encode(tool)
	if d.exists && bytes.Equal(out, d.raw) {
		return false, nil
	}
	if d.exists {
		if _, err := os.Lstat(path + backupSuffix); errors.Is(err, fs.ErrNotExist) {
			// The first change only: the backup is the file before agentspool.
			if err := safeio.WriteFile(path+backupSuffix, d.raw, d.perm); err != nil && !safeio.IsSyncDirError(err) {
				return false, fmt.Errorf("hooks: backup: %w", err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("hooks: %w", err)
	}
	if err := safeio.WriteFile(path, out, d.perm); err != nil && !safeio.IsSyncDirError(err) {
		return false, fmt.Errorf("hooks: %w", err)
	}
	return true, nil
}

// uninstallHooks removes our entries from path and says what it did.
func uninstallHooks(path string, tool *hookTool, ours func(string) bool) (string, error) {
	d, err := readHooksDoc(path)
	if err != nil {
		return "", err
	}
	if !d.exists {
		return "no such file: nothing to remove", nil
	}
	removed := 0
	for _, ev := range []string{tool.submit, tool.stop} {
		es, err := d.entries(ev)
		if err != nil {
			return "", err
		}
		var kept []json.RawMessage
		for _, e := range es {
			if all, _ := ourEntry(tool, e, ours); all {
				removed++
				continue
			}
			kept = append(kept, e)
		}
		d.setEntries(ev, kept)
	}
	if removed == 0 {
		return "no agentspool hooks for this agent: nothing changed", nil
	}
	out := d.encode(tool)
	bare := out // without an empty "hooks": {}, as install may have added it
	if len(d.hooks) == 0 {
		d.hadHooks = false
		bare = d.encode(tool)
	}
	backup, berr := safeio.ReadFile(path+backupSuffix, safeio.OpenOptions{MaxBytes: 4 << 20})
	// An empty file install was given is no JSON to compare: it is as it
	// was when nothing but what install adds is left.
	wasEmpty := berr == nil && len(bytes.TrimSpace(backup)) == 0 && len(d.hooks) == 0 && jsonedit.Equal(bare, (&hooksDoc{}).encode(tool))
	switch {
	case berr == nil && (jsonedit.Equal(backup, out) || jsonedit.Equal(backup, bare) || wasEmpty):
		// Ours were the only change: the file as it was, byte for byte.
		out = backup
	case berr != nil && len(d.hooks) == 0 && jsonedit.Equal(bare, (&hooksDoc{}).encode(tool)):
		// install created the file and nothing else is in it.
		if err := os.Remove(path); err != nil {
			return "", fmt.Errorf("hooks: %w", err)
		}
		return fmt.Sprintf("removed %d agentspool hooks; the file held nothing else and is removed", removed), nil
	}
	if err := safeio.WriteFile(path, out, d.perm); err != nil && !safeio.IsSyncDirError(err) {
		return "", fmt.Errorf("hooks: %w", err)
	}
	if berr == nil && bytes.Equal(out, backup) {
		os.Remove(path + backupSuffix)
		return fmt.Sprintf("removed %d agentspool hooks; the file is as it was before install", removed), nil
	}
	return fmt.Sprintf("removed %d agentspool hooks; every other hook is kept", removed), nil
}

// checkHooks prints whether each event is installed and when it last
// fired; it fails when one is not installed.
func (e *env) checkHooks(path string, tool *hookTool, agent string, ours func(string) bool) error {
	d, err := readHooksDoc(path)
	if err != nil {
		return err
	}
	sp, _, err := e.openSpool(true)
	if err != nil {
		return err
	}
	st, serr := confirm.ReadState(sp.Root, agent)
	missing := 0
	fmt.Fprintf(e.stdout, "file: %s\n", path)
	for _, ev := range []string{tool.submit, tool.stop} {
		es, err := d.entries(ev)
		if err != nil {
			return err
		}
		cmd, group := "", -1
		for i, en := range es {
			for _, c := range tool.commands(en) {
				if ours(c) {
					cmd, group = c, i
				}
			}
		}
		fired := "never fired"
		switch {
		case serr != nil:
			fired = "state unreadable: " + serr.Error()
		case st != nil && !st.Events[ev].IsZero():
			at := st.Events[ev]
			fired = "last fired " + at.Local().Format("2006-01-02 15:04:05") + " (" + fmtAge(e.now().Sub(at)) + " ago)"
		case cmd != "":
			fired = "never fired: " + tool.neverFired
		}
		if cmd == "" {
			missing++
			fmt.Fprintf(e.stdout, "%s: not installed; %s\n", ev, fired)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: installed (%s); %s\n", ev, cmd, fired)
		if tool.name == "codex" {
			fmt.Fprintf(e.stdout, "%s: %s\n", ev, codexTrust(path, ev, group))
		}
	}
	if st != nil {
		fmt.Fprintf(e.stdout, "agent %s is %s since %s\n", agent, st.State, st.Since.Local().Format("2006-01-02 15:04:05"))
	}
	if missing > 0 {
		return fmt.Errorf("hooks for %s not installed in %s (%d of 2 events missing)", agent, path, missing)
	}
	return nil
}
