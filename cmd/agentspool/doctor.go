package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/deliver"
	"github.com/agentspool/agentspool/spool"
)

var doctorCommand = &command{
	name: "doctor", order: 52,
	summary: "check the config, the spool, the desktop and the inboxes",
	usage:   "doctor",
	help: `Checks everything a delivery needs, one line each, "ok" or "FAIL" with
the fix ("skip" when an earlier failure makes a check meaningless):

  config         coords.yaml loads
  display        $DISPLAY can be reached
  xtest          the XTEST extension (synthetic clicks and keys) is there
  window manager an EWMH window manager runs (clicks focus windows)
  desktop lock   the lock every process driving this desktop shares
  clipboard      text offered on the CLIPBOARD reads back (under the lock);
                 when another app holds the clipboard, only reading it is
                 checked, so your clipboard is never lost
  spool          the spool exists or can be made, and can be written
  tmp -> new     a file renames from tmp/ into new/ (one filesystem)
  inbox          each acking agent's inbox folder exists
  AGENT          its point is on a screen, inside a window whose title
                 matches window:

Exits 1 when any check fails.

Example:
  agentspool doctor`,
	run: runDoctor,
}

func runDoctor(e *env, args []string) error {
	if _, err := e.parse(e.flagSet(), args, 0, 0); err != nil {
		return err
	}
	c := &checklist{w: e.stdout}
	cfg, err := e.config()
	if err != nil {
		c.fail("config", err.Error(), "fix the lines named above (coords.yaml in the repository is a commented example)")
		cfg = nil
	} else {
		c.ok("config", "%s: %d agents", cfg.Path, len(cfg.Agents))
		if e.spoolDir != "" {
			cfg.Spool = e.spoolDir
		}
	}

	doctorDesktop(c, cfg)
	if cfg == nil {
		for _, w := range []string{"spool", "tmp -> new", "inbox"} {
			c.skip(w, "no config")
		}
		return c.result("doctor")
	}
	doctorSpool(c, cfg.Spool)
	for _, a := range cfg.Agents {
		if !a.Ack {
			c.ok("inbox", "%s: ack off, no inbox needed", a.Name)
			continue
		}
		fi, err := os.Stat(a.Inbox)
		switch {
		case err == nil && fi.IsDir() && a.AckPattern != nil:
			// Named, so that a loose pattern is seen by the person it
			// would fool (README, Acks).
			c.ok("inbox", "%s: %s (acks: <id>.ack, or files of ack_pattern %s)", a.Name, a.Inbox, strings.TrimSuffix(strings.TrimPrefix(a.AckPattern.String(), "^(?:"), ")$"))
		case err == nil && fi.IsDir():
			c.ok("inbox", "%s: %s", a.Name, a.Inbox)
		case err == nil:
			c.fail("inbox", fmt.Sprintf("%s: %s is not a folder", a.Name, a.Inbox), "remove it, or set the agent's inbox: to its ack folder")
		default:
			c.fail("inbox", fmt.Sprintf("%s: %s: %v", a.Name, a.Inbox, errors.Unwrap(err)),
				fmt.Sprintf("mkdir -p %s (the daemon also makes it at start), and have the agent write its acks there", shellQuote(a.Inbox)))
		}
	}
	doctorHooks(c, cfg, e.now())
	doctorHookFiles(c, cfg)
	return c.result("doctor")
}

// doctorDesktop checks the display, its extensions and window manager, the
// desktop lock, the clipboard and (with a config) each agent's window.
func doctorDesktop(c *checklist, cfg *config.Config) {
	if runtime.GOOS == "windows" {
		doctorWindowsDesktop(c, cfg)
		return
	}
	doctorWayland(c)
	if cfg != nil {
		doctorPanes(c, cfg)
	}
	p, err := deliver.OpenProbe()
	if err != nil && cfg != nil && cfg.WindowAgents() == 0 && len(cfg.Agents) > 0 {
		// Every agent is in a tmux pane: no desktop is needed.
		for _, w := range []string{"display", "xtest", "quiet desk", "window manager", "desktop lock", "clipboard", "agents"} {
			c.skip(w, "every agent is in a tmux pane: no desktop needed")
		}
		return
	}
	if err != nil {
		c.fail("display", err.Error(), "run agentspool in your desktop session, or set DISPLAY (e.g. :0) and XAUTHORITY (e.g. ~/.Xauthority) to it")
		for _, w := range []string{"xtest", "quiet desk", "window manager", "desktop lock", "clipboard", "agents"} {
			c.skip(w, "no display")
		}
		return
	}
	defer p.Close()
	c.ok("display", "%s", p.Display())
	if err := p.XTEST(); err != nil {
		c.fail("xtest", err.Error(), "use an X server with XTEST (Xorg and Xvfb have it; under Wayland run the agents' apps in XWayland)")
	} else {
		c.ok("xtest", "present")
	}
	switch err := p.InputClock(); {
	case err == nil:
		c.ok("quiet desk", "idle time and server clock readable")
	case cfg != nil && cfg.QuietFor <= 0:
		c.skip("quiet desk", "quiet_for is 0")
	default:
		c.fail("quiet desk", err.Error()+"; the daemon would deliver without waiting for a person to stop typing",
			"use an X server with MIT-SCREEN-SAVER and SYNC (Xorg, Xvfb and XWayland have both), or set quiet_for: 0 to deliver without waiting on purpose")
	}
	wm, wmErr := p.WindowManager()
	if wmErr != nil {
		c.fail("window manager", wmErr.Error(), "start your desktop's window manager (any EWMH one: openbox, xfwm4, mutter, kwin...); without one a click does not focus a window")
	} else {
		c.ok("window manager", "%s", wm)
	}

	lockOK := doctorLock(c, cfg)
	if lockOK {
		doctorClipboard(c, cfg)
	} else {
		c.skip("clipboard", "no desktop lock")
	}

	if cfg == nil {
		c.skip("agents", "no config")
		return
	}
	if wmErr != nil {
		c.skip("agents", "no window manager to list the windows")
		return
	}
	screens, err := p.Screens()
	if err != nil {
		c.fail("screens", err.Error(), "")
		return
	}
	windows, err := p.Windows()
	if err != nil {
		c.fail("windows", err.Error(), "")
		return
	}
	checkAgents(c, cfg, screens, windows)
}

// doctorWindowsDesktop is doctorDesktop on Windows: the session, input
// injection and the hooks, DPI awareness, the foreground lock, the desktop
// lock, the clipboard, and each agent's window (elevated ones refused),
// with Windows fixes.
func doctorWindowsDesktop(c *checklist, cfg *config.Config) {
	p, err := deliver.OpenProbe()
	if err != nil {
		c.fail("session", err.Error(), "run agentspool in the session you log in to (agentspool service install makes a logon task), not as a Windows service")
		for _, w := range []string{"input", "desktop lock", "clipboard", "agents"} {
			c.skip(w, "no desktop")
		}
		return
	}
	defer p.Close()
	c.ok("session", "%s", p.Display())
	if err := p.XTEST(); err != nil {
		c.fail("input", err.Error(), "")
	} else if err := p.InputClock(); err != nil {
		c.fail("input", err.Error(), "")
	} else {
		c.ok("input", "SendInput, and low-level hooks that tell a person's input from ours")
	}
	if doctorLock(c, cfg) {
		doctorClipboard(c, cfg)
	} else {
		c.skip("clipboard", "no desktop lock")
	}
	var found map[string][]deliver.ProbedWindow
	if cfg == nil {
		c.skip("agents", "no config")
	} else if screens, err := p.Screens(); err != nil {
		c.fail("screens", err.Error(), "")
	} else if windows, err := p.Windows(); err != nil {
		c.fail("windows", err.Error(), "")
	} else {
		found = checkAgents(c, cfg, screens, windows)
	}
	for _, pc := range p.PlatformChecks(found) {
		if pc.OK {
			c.ok(pc.What, "%s", pc.Detail)
		} else {
			c.fail(pc.What, pc.Detail, pc.Fix)
		}
	}
}

func doctorLock(c *checklist, cfg *config.Config) bool {
	lcfg := cfg
	if lcfg == nil {
		lcfg = config.Default()
	}
	lock, err := desktopLock(lcfg)
	if err != nil {
		c.fail("desktop lock", err.Error(), "set lock_file: in coords.yaml to a file in a folder you can write")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waited, err := lock.Lock(ctx)
	if err != nil {
		c.fail("desktop lock", err.Error(), "set lock_file: to a file you can write; or, if a delivery holds it, run doctor again")
		return false
	}
	if err := lock.Unlock(); err != nil {
		c.fail("desktop lock", err.Error(), "")
		return false
	}
	c.ok("desktop lock", "%s (waited %v)", lock.Path(), waited.Round(time.Millisecond))
	return true
}

// doctorClipboard offers a text on the CLIPBOARD and reads it back, as a
// delivery does, under the desktop lock.
func doctorClipboard(c *checklist, cfg *config.Config) {
	lcfg := cfg
	if lcfg == nil {
		lcfg = config.Default()
	}
	lock, err := desktopLock(lcfg)
	if err != nil {
		c.fail("clipboard", err.Error(), "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := lock.Lock(ctx); err != nil {
		c.fail("clipboard", err.Error(), "")
		return
	}
	defer lock.Unlock()
	desk, err := deliver.NewDesktop()
	if err != nil {
		c.fail("clipboard", err.Error(), "")
		return
	}
	defer desk.Close()
	// Restoring a clipboard needs its owner to stay alive, and doctor
	// exits at once: so with something on the clipboard, only reading it
	// is checked, and the person's text stays where it is.
	if saved, err := desk.Clipboard(); err != nil {
		c.fail("clipboard", err.Error(), "an app owns the clipboard and does not answer: copy something in an app that works. Meanwhile deliveries are retried every 5s (your clipboard is not taken while it cannot be saved) and go to failed/ after 20 tries (agentspool retry ID)")
		return
	} else if saved != nil {
		c.ok("clipboard", "readable (%d bytes held by another app; the write test is skipped so your clipboard stays as it is)", len(saved))
		return
	}
	probe := []byte(fmt.Sprintf("agentspool doctor %d", time.Now().UnixNano()))
	offer, err := desk.Offer(probe, 0)
	if err != nil {
		c.fail("clipboard", err.Error(), "a clipboard manager may be taking the CLIPBOARD at once; see docs/calibrate.md")
		return
	}
	var got []byte
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if got, _ = desk.Clipboard(); bytes.Equal(got, probe) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	offer.Close()
	if !bytes.Equal(got, probe) {
		c.fail("clipboard", fmt.Sprintf("offered %q, read back %q", probe, got), "a clipboard manager or another app is rewriting the CLIPBOARD; turn that off for this desktop")
		return
	}
	c.ok("clipboard", "offer and read-back work")
}

// doctorSpool checks the spool can be made and written, and that a rename
// from tmp/ into new/ works (one filesystem: the rename is the send).
func doctorSpool(c *checklist, root string) {
	sp, err := spool.Open(root)
	if err != nil {
		c.fail("spool", err.Error(), "spool: (or --spool) must name a folder you can write; change it in coords.yaml")
		c.skip("tmp -> new", "no spool")
		return
	}
	f, err := os.CreateTemp(filepath.Join(sp.Root, "tmp"), ".doctor-*")
	if err == nil {
		_, err = f.WriteString("agentspool doctor\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.fail("spool", fmt.Sprintf("%s: cannot write: %v", sp.Root, err), "make the spool writable by this user, or move it (spool: in coords.yaml)")
		c.skip("tmp -> new", "spool not writable")
		if f != nil {
			os.Remove(f.Name())
		}
		return
	}
	if err := sp.CheckModes(); err != nil {
		c.fail("spool modes", err.Error(), "the daemon refuses to start on a spool another user could feed")
	}
	c.ok("spool", "%s", sp.Root)
	// A dot-file: the daemon and scanners skip it, so it is never a message.
	dst := filepath.Join(sp.Root, "new", filepath.Base(f.Name()))
	if err := os.Rename(f.Name(), dst); err != nil {
		os.Remove(f.Name())
		c.fail("tmp -> new", err.Error(), "tmp/ and new/ must be on one filesystem (a rename is the send): do not mount either separately")
		return
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.fail("tmp -> new", err.Error(), "")
		return
	}
	c.ok("tmp -> new", "one filesystem (a test file renamed)")
}

// doctorPanes checks each agent in a tmux pane: the pane is there, and
// what runs in it.
func doctorPanes(c *checklist, cfg *config.Config) {
	ps := &deliver.Panes{}
	for _, a := range cfg.Agents {
		if a.Tmux == "" {
			continue
		}
		t := deliver.Target{Agent: a.Name, Pane: &deliver.Pane{Target: a.Tmux, Socket: a.TmuxSocket}}
		look, err := ps.Describe(t)
		if err != nil {
			c.fail("pane", fmt.Sprintf("%s: %v", a.Name, err), "start the agent in a tmux pane and name it in coords.yaml (tmux: SESSION:WINDOW.PANE or %ID; tmux display -p '#{pane_id}' in the pane shows its id)")
			continue
		}
		runs := look.Program.CLI
		if runs == "" {
			runs = look.Command + " (no agent CLI recognised in it)"
		}
		said := fmt.Sprintf("%s: %s is pane %s, running %s", a.Name, t.Pane, look.ID, runs)
		switch {
		case !look.Prompt:
			// Not a failure: a CLI at work hides its input for a while.
			c.warn("pane", said+"; its screen shows no input prompt now (a line that begins with "+deliver.PromptMarks+"): nothing is pasted until one shows, and after half a minute without one (5 looks) the agent is held",
				"let the agent's program finish what it is doing; a shell's own prompt ($) is not an input agentspool pastes into (a message would run as commands): run the agent's program in the pane, or a program that reads lines at a > prompt (read -e -p '> ')")
		case look.AtWork:
			c.ok("pane", "%s; its CLI is at work on a turn now (its screen says how to stop it): nothing is pasted until the turn is done", said)
		case look.Draft != "":
			c.warn("pane", said+fmt.Sprintf("; its input holds text (%d characters): a draft, so nothing is pasted until it is sent or cleared", utf8.RuneCountInString(look.Draft)), "send or clear what is in the agent's input")
		default:
			c.ok("pane", "%s; its input prompt shows, empty", said)
		}
	}
}

// doctorHooks is doctor's line per agent about its tool's hooks, from the
// state file they write (doctor cannot know which project's hooks file the
// tool reads; `hooks check` looks at one).
func doctorHooks(c *checklist, cfg *config.Config, now time.Time) {
	for _, a := range cfg.Agents {
		s, err := confirm.ReadState(cfg.Spool, a.Name)
		switch {
		case err != nil:
			c.fail("hooks", fmt.Sprintf("%s: %v", a.Name, err), "remove the file; the agent's next hook event writes it again")
		case s == nil && a.DeliverWhen == config.DeliverReady:
			c.fail("hooks", fmt.Sprintf("%s: deliver_when: ready, but its hooks have never run (no %s): it is delivered to as if always", a.Name, confirm.StatePath(cfg.Spool, a.Name)),
				"agentspool hooks install --agent "+a.Name+" --for TOOL --project DIR (TOOL: "+hookToolNames+"), then submit a prompt in the agent's tool")
		case s == nil:
			c.ok("hooks", "%s: none have run (deliver_when: always)", a.Name)
		case s.State == confirm.StateBusy && now.Sub(s.Since) >= a.BusyMax:
			c.fail("hooks", fmt.Sprintf("%s: busy for %s, more than busy_max %v (last event %s): the daemon no longer waits for it", a.Name, fmtAge(now.Sub(s.Since)), a.BusyMax, s.Event),
				"check that the agent's tool still runs its stop hook: agentspool hooks check --agent "+a.Name+" --for TOOL")
		default:
			when := a.DeliverWhen
			if when == config.DeliverAuto {
				when = config.DeliverReady
			}
			c.ok("hooks", "%s: %s for %s, last event %s %s ago (deliver_when: %s)", a.Name, s.State, fmtAge(now.Sub(s.Since)), s.Event, fmtAge(now.Sub(s.At)), when)
		}
	}
}

// doctorHookFiles is doctor's word on the hooks installed in the user's
// files of each tool (a project's file doctor cannot know of): one whose
// event never fired is reported, with the tool's reason why it may not
// run (Codex: not trusted yet).
func doctorHookFiles(c *checklist, cfg *config.Config) {
	for _, a := range cfg.Agents {
		st, _ := confirm.ReadState(cfg.Spool, a.Name)
		for _, name := range []string{"cursor", "claude-code", "codex", "gemini", "qwen-code"} {
			tool := hookTools[name]
			path, err := hooksFile(tool, "", true)
			if err != nil {
				continue
			}
			d, err := readHooksDoc(path)
			if err != nil || !d.exists {
				continue
			}
			var never []string
			installed := false
			for _, ev := range []string{tool.submit, tool.stop} {
				es, _ := d.entries(ev)
				for _, en := range es {
					for _, cmd := range tool.commands(en) {
						if isOurHook(cmd, a.Name) {
							installed = true
							if st == nil || st.Events[ev].IsZero() {
								never = append(never, ev)
							}
						}
					}
				}
			}
			switch {
			case !installed:
			case len(never) > 0:
				c.fail("hooks", fmt.Sprintf("%s: %s hook %s in %s has never fired", a.Name, name, strings.Join(never, " and "), path), tool.neverFired)
			default:
				c.ok("hooks", "%s: %s hooks in %s have fired", a.Name, name, path)
			}
		}
	}
}
