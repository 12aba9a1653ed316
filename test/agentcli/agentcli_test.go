//go:build unix

package agentcli

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
	"github.com/agentspool/agentspool/test/mockmodel"
)

// turnTimeout bounds one prompt's way from the keyboard to the model and
// the agent's turn to its end (the hooks included).
const turnTimeout = 60 * time.Second

func startModel(t *testing.T, name string) *mockmodel.Server {
	t.Helper()
	m, err := mockmodel.Start(mockmodel.Options{Name: name, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func stopAtEnd(t *testing.T, a *Agent) {
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
		if left := sessionMembers(a.cliSID); len(left) > 0 {
			t.Errorf("%s's session still has %v after Stop", a.Program, left)
		}
		if left := procsUnder(a.Dir + "/"); len(left) > 0 {
			t.Errorf("processes of %s left after Stop: %v", a.Dir, left)
		}
	})
}

// TestPane starts each CLI in a tmux pane, types a prompt and Enter, and
// checks that the model got it exactly once, alone, and that the hooks
// fired with it.
func TestPane(t *testing.T) {
	for _, program := range Programs {
		t.Run(program, func(t *testing.T) {
			if err := Missing(program, "", ""); err != nil {
				t.Skip(err)
			}
			a, err := StartPane(Options{Program: program, Dir: t.TempDir(), Model: startModel(t, program), Hooks: true, Log: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			stopAtEnd(t, a)
			checkTurn(t, a, fmt.Sprintf("agentcli pane %s %d", program, time.Now().UnixNano()), false)
		})
	}
}

// TestWindow does the same in terminal windows on a virtual desktop: each
// CLI in xterm, typed into with xdotool, and in lxterminal, pasted into
// with the terminal's paste key.
func TestWindow(t *testing.T) {
	if missing := desktoptest.MissingTools(); len(missing) > 0 {
		t.Skipf("desktop tools missing: %v (scripts/deps.sh desktop installs them)", missing)
	}
	desk := desktoptest.StartT(t, desktoptest.Options{Dir: t.TempDir(), NoAgents: true, Log: t.Logf})
	for _, terminal := range Terminals {
		for _, program := range Programs {
			t.Run(terminal+"/"+program, func(t *testing.T) {
				if err := Missing(program, terminal, ""); err != nil {
					t.Skip(err)
				}
				a, err := StartWindow(Options{
					Program: program, Dir: t.TempDir(), Model: startModel(t, program), Hooks: true, Log: t.Logf,
					Display: desk.Display, XAuthority: desk.XAuthority, Terminal: terminal,
				})
				if err != nil {
					t.Fatal(err)
				}
				stopAtEnd(t, a)
				if a.WindowID == 0 || a.TerminalPID == 0 || a.CLIPID == 0 || a.PasteKey == "" {
					t.Fatalf("agent not described whole: %+v", a)
				}
				checkTurn(t, a, fmt.Sprintf("agentcli %s %s %d", terminal, program, time.Now().UnixNano()), terminal == LXTerminal)
			})
		}
	}
}

// checkTurn enters prompt (typed, or pasted), waits until the input shows
// it whole, submits it, and checks what the model and the hooks got.
func checkTurn(t *testing.T, a *Agent, prompt string, paste bool) {
	t.Helper()
	enter := a.Type
	if paste {
		enter = a.Paste
	}
	if err := enter(prompt); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitScreen(turnTimeout, prompt); err != nil {
		t.Fatal(err)
	}
	// A person pauses before the Enter. Gemini CLI takes an Enter soon
	// after a paste for a newline (until it renders again: longer on a
	// loaded machine), as agentspool's deliveries know; and xdotool's
	// typing, a burst of keys, it takes for a paste too (a clean-clone
	// CI run saw the typed prompt in xterm never submitted).
	time.Sleep(time.Second)
	if err := a.Key("Return"); err != nil {
		t.Fatal(err)
	}
	turned := func(turns []mockmodel.Turn) bool { return len(turns) > 0 }
	if a.Program == Gemini && a.Model.Wait(10*time.Second, turned) != nil {
		// The Enter was a newline: take it out and submit, as a person
		// (and agentspool's second tap) would.
		t.Logf("gemini took the Enter for a newline; submitting again")
		if err := a.Key("BackSpace"); err != nil {
			t.Fatal(err)
		}
		if err := a.Key("Return"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Model.Wait(turnTimeout, turned); err != nil {
		t.Fatalf("%v; calls: %s", err, describeCalls(a.Model.Calls()))
	}
	submit, stop := HookEvents(a.Program)
	var calls []HookCall
	err := waitFor(turnTimeout, "the "+stop+" hook", func() (bool, error) {
		var err error
		calls, err = a.HookCalls()
		return slices.ContainsFunc(calls, func(c HookCall) bool { return c.Event == stop }), err
	})
	if err != nil {
		t.Fatalf("%v; hook calls so far: %+v", err, calls)
	}
	if err := a.WaitScreen(turnTimeout, mockmodel.DefaultReply); err != nil {
		t.Error(err)
	}
	// The turn is over (its stop hook ran): whatever the model was to
	// get for it, it has.
	if got := a.Prompts(); !slices.Equal(got, []string{prompt}) {
		t.Errorf("model got prompts %q, want exactly [%q]; calls: %s", got, prompt, describeCalls(a.Model.Calls()))
	}
	var submits []string
	for _, c := range calls {
		t.Logf("%s hook %s payload: %v", a.Program, c.Event, c.Payload)
		if c.Event == submit {
			submits = append(submits, c.Prompt)
		}
	}
	if !slices.Equal(submits, []string{prompt}) {
		t.Errorf("%s hook got prompts %q, want exactly [%q]", submit, submits, prompt)
	}
}

func describeCalls(calls []mockmodel.Call) string {
	s := ""
	for _, c := range calls {
		s += fmt.Sprintf("\n  %s %s main=%v (%s)", c.Method, c.Path, c.Main, c.Why)
	}
	return s
}
