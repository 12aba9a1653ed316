package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentspool/agentspool/internal/jsonedit"
)

// runHome runs agentspool with --config and HOME=home.
func (f *fixture) runHome(home string, stdin []byte, args ...string) result {
	f.t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", f.config}, args...)...)
	cmd.Dir = f.dir
	cmd.Env = append(cleanEnv(), "HOME="+home)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A person's Cursor hooks file: other events, another beforeSubmitPrompt
// hook, another key; written as the tools write JSON.
const cursorUserHooks = `{
  "version": 1,
  "hooks": {
    "afterFileEdit": [
      {
        "command": "./hooks/format.sh"
      }
    ],
    "beforeSubmitPrompt": [
      {
        "command": "./hooks/audit.sh --log /tmp/a&b.log"
      }
    ]
  },
  "x-note": "mine"
}
`

func TestHooksInstallCursorKeepsUserHooksAndUninstallRestores(t *testing.T) {
	f := newFixture(t)
	proj := filepath.Join(f.dir, "proj")
	path := filepath.Join(proj, ".cursor", "hooks.json")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(cursorUserHooks), 0o644)
	args := []string{"--agent", "Agent-3", "--for", "cursor", "--project", proj}

	f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0).contains(t, "stdout", "installed")
	got := readFile(t, path)
	for _, keep := range []string{
		"    \"afterFileEdit\": [\n      {\n        \"command\": \"./hooks/format.sh\"\n      }\n    ],",
		"      {\n        \"command\": \"./hooks/audit.sh --log /tmp/a&b.log\"\n      },",
		`"x-note": "mine"`,
		`"version": 1,`,
	} {
		if !strings.Contains(got, keep) {
			t.Errorf("install lost %q:\n%s", keep, got)
		}
	}
	var doc struct {
		Version int
		Hooks   map[string][]struct{ Command string }
	}
	if err := json.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Hooks["beforeSubmitPrompt"]) != 2 || len(doc.Hooks["stop"]) != 1 || len(doc.Hooks["afterFileEdit"]) != 1 {
		t.Fatalf("hooks after install: %+v", doc)
	}
	ours := doc.Hooks["beforeSubmitPrompt"][1].Command
	if !strings.Contains(ours, " --config "+f.config+" hook --agent Agent-3 beforeSubmitPrompt") ||
		!strings.HasSuffix(doc.Hooks["stop"][0].Command, "hook --agent Agent-3 stop") {
		t.Fatalf("our commands: %q, %q", ours, doc.Hooks["stop"][0].Command)
	}
	if b := readFile(t, path+backupSuffix); b != cursorUserHooks {
		t.Fatalf("backup %q", b)
	}

	// Idempotent: nothing changes, not even the backup.
	f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0).contains(t, "stdout", "nothing changed")
	if again := readFile(t, path); again != got {
		t.Fatalf("a second install changed the file:\n%s", again)
	}

	// The command as written runs: the tool's shell gets the ack written.
	id := f.claimed("Agent-3", hookBody)
	sh := exec.Command("sh", "-c", ours)
	sh.Dir = proj
	sh.Stdin = bytes.NewReader(payload(t, "cursor-beforeSubmitPrompt.json", id))
	out, err := sh.Output()
	if err != nil || string(out) != `{"continue": true}`+"\n" || !f.acked("Agent-3", id) {
		t.Fatalf("running the installed command: %q, %v, acked %v", out, err, f.acked("Agent-3", id))
	}
	f.run(nil, append([]string{"hooks", "check"}, args...)...).want(t, 0).
		contains(t, "stdout", "beforeSubmitPrompt: installed").contains(t, "stdout", "last fired").
		contains(t, "stdout", "stop: installed").contains(t, "stdout", "never fired")

	f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "as it was before install")
	if b := readFile(t, path); b != cursorUserHooks {
		t.Fatalf("after uninstall:\n%s\nwant:\n%s", b, cursorUserHooks)
	}
	if _, err := os.Stat(path + backupSuffix); !os.IsNotExist(err) {
		t.Fatalf("backup left: %v", err)
	}
	f.run(nil, append([]string{"hooks", "check"}, args...)...).want(t, 1).contains(t, "stdout", "beforeSubmitPrompt: not installed")
	f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "nothing changed")
}

// A file in another layout (one line) comes back byte for byte too, from
// the backup; a hook the person added meanwhile is kept.
func TestHooksUninstallRestoresAnyLayoutAndKeepsLaterHooks(t *testing.T) {
	f := newFixture(t)
	proj := filepath.Join(f.dir, "p")
	path := filepath.Join(proj, ".claude", "settings.json")
	orig := `{"model":"opus","hooks":{"Stop":[{"matcher":"","hooks":[{"type":"command","command":"notify-send done"}]}]}}`
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(orig), 0o644)
	args := []string{"--agent", "Agent-1", "--for", "claude-code", "--project", proj}
	f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
	var doc struct {
		Model string
		Hooks map[string][]struct {
			Hooks []struct{ Type, Command string }
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Model != "opus" || len(doc.Hooks["Stop"]) != 2 || doc.Hooks["Stop"][0].Hooks[0].Command != "notify-send done" ||
		len(doc.Hooks["UserPromptSubmit"]) != 1 || doc.Hooks["UserPromptSubmit"][0].Hooks[0].Type != "command" ||
		!strings.HasSuffix(doc.Hooks["UserPromptSubmit"][0].Hooks[0].Command, "hook --agent Agent-1 UserPromptSubmit") {
		t.Fatalf("after install: %+v", doc)
	}
	// Another agent's hooks in the same file are not ours to touch.
	f.run(nil, "hooks", "install", "--agent", "Agent-2", "--for", "claude-code", "--project", proj).want(t, 0)
	f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "every other hook is kept")
	s := readFile(t, path)
	if strings.Contains(s, "--agent Agent-1 ") || !strings.Contains(s, "--agent Agent-2 UserPromptSubmit") || !strings.Contains(s, "notify-send done") {
		t.Fatalf("after uninstalling Agent-1:\n%s", s)
	}
	f.run(nil, "hooks", "uninstall", "--agent", "Agent-2", "--for", "claude-code", "--project", proj).want(t, 0)
	if b := readFile(t, path); b != orig {
		t.Fatalf("after both uninstalls:\n%s\nwant:\n%s", b, orig)
	}
}

// --user writes in the home directory; a file install created is removed
// by uninstall.
func TestHooksUserFileCreatedAndRemoved(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ tool, rel string }{{"claude-code", ".claude/settings.json"}, {"cursor", ".cursor/hooks.json"}} {
		home := t.TempDir()
		args := []string{"--agent", "Agent-2", "--for", tc.tool, "--user"}
		f.runHome(home, nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
		path := filepath.Join(home, tc.rel)
		s := readFile(t, path)
		if tc.tool == "cursor" && !strings.HasPrefix(s, "{\n  \"version\": 1,\n  \"hooks\": {\n    \"beforeSubmitPrompt\": [") {
			t.Errorf("new cursor file:\n%s", s)
		}
		if tc.tool == "claude-code" && !strings.Contains(s, "\"UserPromptSubmit\": [\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",") {
			t.Errorf("new claude file:\n%s", s)
		}
		if _, err := os.Stat(path + backupSuffix); !os.IsNotExist(err) {
			t.Errorf("a backup of a file that did not exist: %v", err)
		}
		f.runHome(home, nil, append([]string{"hooks", "check"}, args...)...).want(t, 0)
		f.runHome(home, nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "is removed")
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall: %v", path, err)
		}
	}
}

func TestHooksRefusesBadFilesAndUsage(t *testing.T) {
	f := newFixture(t)
	proj := filepath.Join(f.dir, "p")
	path := filepath.Join(proj, ".cursor", "hooks.json")
	os.MkdirAll(filepath.Dir(path), 0o755)
	bad := "{\"hooks\": {\"stop\": [ // a comment\n]}}"
	os.WriteFile(path, []byte(bad), 0o644)
	f.run(nil, "hooks", "install", "--agent", "Agent-1", "--for", "cursor", "--project", proj).want(t, 1).contains(t, "stderr", "nothing changed")
	if readFile(t, path) != bad {
		t.Fatal("a file that does not parse was changed")
	}
	os.WriteFile(path, []byte(`{"hooks": {"stop": {"command": "x"}}}`), 0o644)
	f.run(nil, "hooks", "install", "--agent", "Agent-1", "--for", "cursor", "--project", proj).want(t, 1).contains(t, "stderr", "not a list")
	f.run(nil, "hooks", "install", "--agent", "Agent-9", "--for", "cursor", "--project", proj).want(t, 1).contains(t, "stderr", "unknown agent")
	f.run(nil, "hooks", "install", "--agent", "Agent-1", "--for", "vim").want(t, 2)
	f.run(nil, "hooks", "frob", "--agent", "Agent-1", "--for", "cursor").want(t, 2)
	f.run(nil, "hooks", "install", "--for", "cursor").want(t, 2)
	f.run(nil, "hooks", "install", "--agent", "Agent-1", "--for", "cursor", "--user", "--project", proj).want(t, 2)
}

// A hooks file that is a symlink (a dotfiles manager) is edited through
// the link, which stays; the file's mode is kept.
func TestHooksSymlinkAndModeKept(t *testing.T) {
	f := newFixture(t)
	home := t.TempDir()
	target := filepath.Join(f.dir, "dotfiles", "settings.json")
	os.MkdirAll(filepath.Dir(target), 0o755)
	orig := "{\n  \"model\": \"opus\"\n}\n"
	os.WriteFile(target, []byte(orig), 0o600)
	link := filepath.Join(home, ".claude", "settings.json")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	args := []string{"--agent", "Agent-1", "--for", "claude-code", "--user"}
	f.runHome(home, nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(readFile(t, target), "hook --agent Agent-1 UserPromptSubmit") {
		t.Fatalf("target not edited:\n%s", readFile(t, target))
	}
	f.runHome(home, nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0)
	if readFile(t, target) != orig {
		t.Fatalf("after uninstall:\n%s", readFile(t, target))
	}
}

// A person's Claude Code settings.json as Claude Code writes it (two-space
// indent): other keys, a hook of theirs on the same event, escapes and a
// number literal that a decode and re-encode would change.
const claudeUserSettings = `{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": [
      "Bash(npm run lint)",
      "Read(~/.zshrc)"
    ],
    "deny": []
  },
  "env": {
    "GREETING": "caf\u00e9 <b>&amp;</b> é ✓",
    "RATIO": 1.50e2
  },
  "hooks": {
    "UserPromptSubmit": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "\"$CLAUDE_PROJECT_DIR\"/.claude/hooks/context.sh",
            "timeout": 30
          }
        ]
      }
    ],
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "jq -r '.tool_input.command' >> ~/.claude/bash-log.txt"
          }
        ]
      }
    ]
  }
}
`

// What install makes of claudeUserSettings: every byte of the person's
// file where it was, our two entries added (@CMD@: this binary --config
// the config).
const claudeInstalled = `{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": [
      "Bash(npm run lint)",
      "Read(~/.zshrc)"
    ],
    "deny": []
  },
  "env": {
    "GREETING": "caf\u00e9 <b>&amp;</b> é ✓",
    "RATIO": 1.50e2
  },
  "hooks": {
    "UserPromptSubmit": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "\"$CLAUDE_PROJECT_DIR\"/.claude/hooks/context.sh",
            "timeout": 30
          }
        ]
      },
      {
        "hooks": [
          {
            "type": "command",
            "command": "@CMD@ hook --agent Agent-3 UserPromptSubmit",
            "timeout": 10
          }
        ]
      }
    ],
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "jq -r '.tool_input.command' >> ~/.claude/bash-log.txt"
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "@CMD@ hook --agent Agent-3 Stop",
            "timeout": 10
          }
        ]
      }
    ]
  }
}
`

// What install makes of cursorUserHooks.
const cursorInstalled = `{
  "version": 1,
  "hooks": {
    "afterFileEdit": [
      {
        "command": "./hooks/format.sh"
      }
    ],
    "beforeSubmitPrompt": [
      {
        "command": "./hooks/audit.sh --log /tmp/a&b.log"
      },
      {
        "command": "@CMD@ hook --agent Agent-3 beforeSubmitPrompt"
      }
    ],
    "stop": [
      {
        "command": "@CMD@ hook --agent Agent-3 stop"
      }
    ]
  },
  "x-note": "mine"
}
`

// ourCmd is the start of the command install writes, as it reads inside a
// JSON string.
func (f *fixture) ourCmd() string {
	s := jsonedit.Marshal(shellQuote(binary) + " --config " + shellQuote(f.config))
	return string(s[1 : len(s)-1])
}

// The person's file comes back byte for byte around our entries, for each
// tool, in a project and in a home directory; installing again and again
// changes nothing (nor the backup); uninstall gives back the file as it
// was, and a second uninstall changes nothing.
func TestHooksInstallGoldenAndIdempotent(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		tool, rel, orig, installed string
		user                       bool
	}{
		{"cursor", ".cursor/hooks.json", cursorUserHooks, cursorInstalled, false},
		{"claude-code", ".claude/settings.json", claudeUserSettings, claudeInstalled, false},
		{"cursor", ".cursor/hooks.json", cursorUserHooks, cursorInstalled, true},
		{"claude-code", ".claude/settings.json", claudeUserSettings, claudeInstalled, true},
	} {
		where := "project"
		if tc.user {
			where = "user"
		}
		t.Run(tc.tool+" "+where, func(t *testing.T) {
			home, proj := t.TempDir(), t.TempDir()
			args := []string{"--agent", "Agent-3", "--for", tc.tool}
			base := proj
			if tc.user {
				args, base = append(args, "--user"), home
			} else {
				args = append(args, "--project", proj)
			}
			path := filepath.Join(base, tc.rel)
			os.MkdirAll(filepath.Dir(path), 0o755)
			os.WriteFile(path, []byte(tc.orig), 0o644)
			run := func(action string) result {
				return f.runHome(home, nil, append([]string{"hooks", action}, args...)...)
			}
			run("install").want(t, 0).contains(t, "stdout", "installed")
			got := readFile(t, path)
			if strings.ReplaceAll(got, f.ourCmd(), "@CMD@") != tc.installed {
				t.Fatalf("after install:\n%s\nwant (@CMD@ = %s):\n%s", got, f.ourCmd(), tc.installed)
			}
			for i := 0; i < 3; i++ {
				run("install").want(t, 0).contains(t, "stdout", "nothing changed")
				if again := readFile(t, path); again != got {
					t.Fatalf("install %d changed the file:\n%s", i+2, again)
				}
				if b := readFile(t, path+backupSuffix); b != tc.orig {
					t.Fatalf("install %d changed the backup:\n%s", i+2, b)
				}
			}
			run("check").want(t, 0)
			run("uninstall").want(t, 0).contains(t, "stdout", "as it was before install")
			if b := readFile(t, path); b != tc.orig {
				t.Fatalf("after uninstall:\n%s\nwant:\n%s", b, tc.orig)
			}
			run("uninstall").want(t, 0).contains(t, "stdout", "nothing changed")
			if b := readFile(t, path); b != tc.orig {
				t.Fatalf("after a second uninstall:\n%s", b)
			}
			if _, err := os.Stat(path + backupSuffix); !os.IsNotExist(err) {
				t.Fatalf("backup left: %v", err)
			}
		})
	}
}

// Files in other layouts (one line, CRLF and tabs, no final newline, an
// empty file) are restored byte for byte by uninstall, and installs after
// the first change nothing.
func TestHooksUninstallRestoresEveryLayout(t *testing.T) {
	f := newFixture(t)
	for name, orig := range map[string]string{
		"one line":      `{"version":1,"hooks":{"stop":[{"command":"say done"}]}}`,
		"crlf and tabs": "{\r\n\t\"version\": 1,\r\n\t\"hooks\": {\r\n\t\t\"beforeSubmitPrompt\": [ { \"command\": \"./audit.sh\" } ]\r\n\t}\r\n}\r\n",
		"no newline":    "{\n  \"version\": 1\n}",
		"no hooks key":  "{\n    \"version\": 1,\n    \"x\": [1, 2]\n}\n",
		"empty file":    "",
	} {
		for _, tool := range []string{"cursor", "claude-code"} {
			t.Run(tool+" "+name, func(t *testing.T) {
				proj := t.TempDir()
				path := filepath.Join(proj, hookTools[tool].dir, hookTools[tool].file)
				os.MkdirAll(filepath.Dir(path), 0o755)
				os.WriteFile(path, []byte(orig), 0o644)
				args := []string{"--agent", "Agent-1", "--for", tool, "--project", proj}
				f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
				installed := readFile(t, path)
				var doc struct{ Hooks map[string][]json.RawMessage }
				if err := json.Unmarshal([]byte(installed), &doc); err != nil || len(doc.Hooks[hookTools[tool].submit]) == 0 || len(doc.Hooks[hookTools[tool].stop]) == 0 {
					t.Fatalf("after install (%v):\n%s", err, installed)
				}
				f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0).contains(t, "stdout", "nothing changed")
				if readFile(t, path) != installed {
					t.Fatal("a second install changed the file")
				}
				f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0)
				if b := readFile(t, path); b != orig {
					t.Fatalf("after uninstall %q, want %q", b, orig)
				}
			})
		}
	}
}

// A hook the person adds after install stays through uninstall, and the
// rest of their file is as it was; only our entries go.
func TestHooksUninstallKeepsWhatThePersonAddedLater(t *testing.T) {
	f := newFixture(t)
	proj := t.TempDir()
	path := filepath.Join(proj, ".cursor", "hooks.json")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(cursorUserHooks), 0o644)
	args := []string{"--agent", "Agent-3", "--for", "cursor", "--project", proj}
	f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
	// The person adds a hook of theirs to afterFileEdit, in the layout.
	edit := func(s string) string {
		return strings.Replace(s, "\"command\": \"./hooks/format.sh\"\n      }\n", "\"command\": \"./hooks/format.sh\"\n      },\n      {\n        \"command\": \"./hooks/lint.sh\"\n      }\n", 1)
	}
	installed := readFile(t, path)
	if edit(installed) == installed {
		t.Fatal("the edit does not apply")
	}
	os.WriteFile(path, []byte(edit(installed)), 0o644)
	f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "every other hook is kept")
	if b := readFile(t, path); b != edit(cursorUserHooks) {
		t.Fatalf("after uninstall:\n%s\nwant:\n%s", b, edit(cursorUserHooks))
	}
}

// Our entry for another binary or config (the binary moved, the config
// was renamed) is replaced, not doubled; the person's entries stay.
func TestHooksInstallReplacesOurOldEntry(t *testing.T) {
	f := newFixture(t)
	proj := t.TempDir()
	path := filepath.Join(proj, ".cursor", "hooks.json")
	os.MkdirAll(filepath.Dir(path), 0o755)
	old := strings.Replace(cursorInstalled, "@CMD@", "/opt/old/agentspool --config /etc/old-coords.yaml", -1)
	os.WriteFile(path, []byte(old), 0o644)
	args := []string{"--agent", "Agent-3", "--for", "cursor", "--project", proj}
	f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0).contains(t, "stdout", "installed")
	got := readFile(t, path)
	if strings.ReplaceAll(got, f.ourCmd(), "@CMD@") != cursorInstalled {
		t.Fatalf("after install over the old entries:\n%s", got)
	}
	if b := readFile(t, path+backupSuffix); b != old {
		t.Fatalf("backup:\n%s", b)
	}
	// Another agent's entries, and a lookalike command that is not ours
	// (no "agentspool" in it), are not touched.
	other := strings.Replace(got, "\"command\": \"./hooks/format.sh\"", "\"command\": \"./hooks/format.sh hook --agent Agent-3 stop\"", 1)
	os.WriteFile(path, []byte(other), 0o644)
	f.run(nil, "hooks", "install", "--agent", "Agent-1", "--for", "cursor", "--project", proj).want(t, 0)
	f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0)
	s := readFile(t, path)
	if strings.Contains(s, "--agent Agent-3 beforeSubmitPrompt") || !strings.Contains(s, "--agent Agent-1 beforeSubmitPrompt") ||
		!strings.Contains(s, "./hooks/format.sh hook --agent Agent-3 stop") || !strings.Contains(s, "./hooks/audit.sh") {
		t.Fatalf("after uninstalling Agent-3:\n%s", s)
	}
}
