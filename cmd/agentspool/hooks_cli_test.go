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

// runWith runs agentspool with --config and extra environment (HOME,
// CODEX_HOME), in dir.
func (f *fixture) runWith(env []string, stdin []byte, args ...string) result {
	f.t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", f.config}, args...)...)
	cmd.Dir = f.dir
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "CODEX_HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
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

// The terminal CLIs' hooks: each in its own file (Codex's in $CODEX_HOME),
// in its shape, with its timeout unit, and --for where the events' names
// are Claude Code's; the command as written acks and answers as the tool
// needs; check says an event never fired, and for Codex whether it was
// trusted in /hooks; uninstall removes the file install made.
func TestHooksForTheTerminalCLIs(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		tool, rel      string
		submit, stop   string
		timeout        float64
		payload, usage string
	}{
		{"codex", "codexhome/hooks.json", "UserPromptSubmit", "Stop", 10, "codex-UserPromptSubmit.json", "--for codex UserPromptSubmit"},
		{"gemini", ".gemini/settings.json", "BeforeAgent", "AfterAgent", 10000, "gemini-BeforeAgent.json", "--for gemini BeforeAgent"},
		{"qwen-code", ".qwen/settings.json", "UserPromptSubmit", "Stop", 10, "qwen-code-UserPromptSubmit.json", "--for qwen-code UserPromptSubmit"},
	} {
		t.Run(c.tool, func(t *testing.T) {
			home := t.TempDir()
			env := []string{"HOME=" + home, "CODEX_HOME=" + filepath.Join(home, "codexhome")}
			args := []string{"--agent", "Agent-3", "--for", c.tool, "--user"}
			f.runWith(env, nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
			path := filepath.Join(home, c.rel)
			var doc struct {
				Hooks map[string][]struct {
					Hooks []struct {
						Type, Command string
						Timeout       float64
					}
				}
			}
			if err := json.Unmarshal([]byte(readFile(t, path)), &doc); err != nil {
				t.Fatal(err)
			}
			for _, ev := range []string{c.submit, c.stop} {
				g := doc.Hooks[ev]
				if len(g) != 1 || len(g[0].Hooks) != 1 || g[0].Hooks[0].Type != "command" || g[0].Hooks[0].Timeout != c.timeout ||
					!strings.HasSuffix(g[0].Hooks[0].Command, " hook --agent Agent-3 --for "+c.tool+" "+ev) {
					t.Fatalf("%s after install: %+v", ev, g)
				}
			}
			f.runWith(env, nil, append([]string{"hooks", "install"}, args...)...).want(t, 0).contains(t, "stdout", "nothing changed")

			// The installed command, run by the tool's shell.
			id := f.claimed("Agent-3", hookBody)
			sh := exec.Command("sh", "-c", doc.Hooks[c.submit][0].Hooks[0].Command)
			sh.Stdin = bytes.NewReader(payload(t, c.payload, id))
			out, err := sh.Output()
			if err != nil || !f.acked("Agent-3", id) {
				t.Fatalf("running the installed command: %q, %v, acked %v; log:\n%s", out, err, f.acked("Agent-3", id), f.hookLog())
			}
			checkAnswer(t, c.tool, true, result{stdout: string(out)})

			r := f.runWith(env, nil, append([]string{"hooks", "check"}, args...)...).want(t, 0)
			r.contains(t, "stdout", c.submit+": installed").contains(t, "stdout", "last fired").
				contains(t, "stdout", c.stop+": installed").contains(t, "stdout", "never fired: "+hookTools[c.tool].neverFired)
			if c.tool == "codex" {
				r.contains(t, "stdout", "Stop: not trusted in Codex yet")
				// The person trusts it in /hooks: Codex writes the hash
				// into config.toml.
				key := path + ":stop:0:0"
				trust := "model = \"x\"\n\n[hooks.state." + string(jsonedit.Marshal(key)) + "]\ntrusted_hash = \"sha256:0123\"\n"
				os.WriteFile(filepath.Join(home, "codexhome", "config.toml"), []byte(trust), 0o600)
				f.runWith(env, nil, append([]string{"hooks", "check"}, args...)...).want(t, 0).
					contains(t, "stdout", "Stop: trusted in Codex's /hooks").contains(t, "stdout", "UserPromptSubmit: not trusted")
			}
			dr := f.runWith(append(env, "DISPLAY="), nil, "doctor")
			if want := "Agent-3: " + c.tool + " hook " + c.stop + " in " + path + " has never fired"; !strings.Contains(dr.stdout, want) {
				t.Errorf("doctor lacks %q:\n%s", want, dr.stdout)
			}

			f.runWith(env, nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "is removed")
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s left after uninstall: %v", path, err)
			}
		})
	}
}

// A project's file: .codex/hooks.json next to a person's own hooks, which
// stay byte for byte; uninstall gives the file back as it was.
func TestHooksCodexProjectFileKeepsOtherHooks(t *testing.T) {
	f := newFixture(t)
	proj := filepath.Join(f.dir, "proj")
	path := filepath.Join(proj, ".codex", "hooks.json")
	orig := `{
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "python3 .codex/hooks/stop.py",
            "timeout": 30
          }
        ]
      }
    ]
  }
}
`
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(orig), 0o644)
	args := []string{"--agent", "Agent-3", "--for", "codex", "--project", proj}
	f.run(nil, append([]string{"hooks", "install"}, args...)...).want(t, 0)
	got := readFile(t, path)
	if !strings.Contains(got, `"command": "python3 .codex/hooks/stop.py",`) || strings.Count(got, "--for codex") != 2 {
		t.Fatalf("after install:\n%s", got)
	}
	f.run(nil, append([]string{"hooks", "uninstall"}, args...)...).want(t, 0).contains(t, "stdout", "as it was before install")
	if b := readFile(t, path); b != orig {
		t.Fatalf("after uninstall:\n%s", b)
	}
}
