// The submit tapped again (platform-neutral): SubmitAgain, for an agent
// CLI that took the first Enter after a paste for a newline, and the gap
// between paste and submit learned per agent from it.

package deliver

import (
	"context"
	"fmt"
	"time"
)

// SubmitAgain taps the submit key once more into a terminal agent's input,
// without a paste, under the desktop lock, on a quiet desk: for an agent
// CLI whose hook did not see the first submit. Gemini CLI and Qwen Code
// take an Enter that comes soon after a paste for a newline (its React
// state clears only when it renders again, later the more loaded the
// machine: 250 ms was seen not to be enough), and the message then waits
// in the input. Only into a CLI known to ignore an Enter into an empty
// input (CLIProfile.EmptySubmitIgnored), so a first submit that did go
// through, its hook only slow, makes no second prompt.
//
// afterEnter: a submit key went after the paste already (the ack wait);
// without it (a restart after a crash before the submit) the input holds
// the paste as it landed, with no newline to take out.
func (d *Deliverer) SubmitAgain(ctx context.Context, t Target, afterEnter bool) (rep Report, err error) {
	d.ready()
	t = d.resolve(t, &rep)
	prof, ok := rep.Program.Profile()
	if !ok || !prof.EmptySubmitIgnored {
		return rep, fmt.Errorf("deliver: not submitting again into %s: not a CLI known to ignore an empty submit", rep.Program)
	}
	if afterEnter {
		d.tapAgain(t.Agent, prof)
	}
	q, err := d.lockQuiet(ctx, t, &rep)
	if err != nil {
		return rep, err
	}
	defer d.unlock()
	rep.started = time.Now()
	err = d.atDesk(ctx, t, q, &rep, func() error {
		if d.personActive(q) {
			return errPerson("before the submit")
		}
		if afterEnter && prof.NewlineAfterPaste {
			// The first Enter became a newline at the end of the input:
			// take it out, or Qwen Code sends a long paste's placeholder
			// ("[Pasted Content 2046 chars]") instead of its text, as
			// seen. In an empty input (the first submit went through)
			// a backspace does nothing.
			if err := d.guardedKey(ctx, t, []string{"backspace"}, &rep); err != nil {
				return err
			}
		}
		if err := d.guardedKey(ctx, t, t.Submit, &rep); err != nil {
			return err
		}
		rep.Submitted = true
		return nil
	})
	return rep, err
}

// maxGap bounds the learned gap between a paste and the submit.
const maxGap = 2 * time.Second

// learnedGap is the gap the agent's submit needs after a paste, as
// learned from the submits that had to be tapped again: doubled (from its
// CLI's own) each time, and a tenth less after each delivery that needed
// no second tap. Gemini CLI's and Qwen Code's newline window lasts until
// they render again, which takes longer the more loaded the machine.
func (d *Deliverer) learnedGap(agent string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.gaps[agent]
	if !d.tappedAgain[agent] {
		g = g * 9 / 10
	}
	if d.gaps == nil {
		d.gaps, d.tappedAgain = map[string]time.Duration{}, map[string]bool{}
	}
	d.gaps[agent], d.tappedAgain[agent] = g, false
	return g
}

// tapAgain notes that agent's last submit had to be tapped again.
func (d *Deliverer) tapAgain(agent string, prof CLIProfile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gaps == nil {
		d.gaps, d.tappedAgain = map[string]time.Duration{}, map[string]bool{}
	}
	d.gaps[agent] = min(2*max(d.gaps[agent], prof.SubmitGap), maxGap)
	d.tappedAgain[agent] = true
}

// NoAck tells the Deliverer that the agent's last submit, into a
// terminal, was never acked: the agent's gap between paste and submit
// grows as after a second tap (a CLI that read the Enter before it had
// taken in the paste: Qwen Code sent a long paste's placeholder to its
// model on a loaded desk, after 1.5 s).
func (d *Deliverer) NoAck(agent string) {
	d.tapAgain(agent, CLIProfile{SubmitGap: 500 * time.Millisecond})
}
