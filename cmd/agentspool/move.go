package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agentspool/agentspool/spool"
)

// operatorHoldReason is the reason recorded when an operator holds.
const operatorHoldReason = "held by operator"

var retryCommand = &command{
	name:    "retry",
	order:   30,
	summary: "move failed messages back to the queue",
	usage:   "retry ID... | retry --all [--agent AGENT]",
	help: `Moves failed messages from failed/ back to new/ as fresh ones (the
attempt count starts again at 0), and prints each one moved. Give ids, or
--all for every failed message (of one agent with --agent).

Fix the cause first (see "agentspool show ID"): a message that failed for
its content fails again.

Works without a config: it then uses the --spool directory (default
./spool).

Example:
  agentspool retry 20261127T073012-9f3a1c
  agentspool retry --all --agent Agent-4`,
	run: runRetry,
}

var holdCommand = &command{
	name:    "hold",
	order:   31,
	summary: "park an agent's queue, or one message, in hold/",
	usage:   "hold AGENT|ID",
	help: `With an agent name (configured, or with a directory in the spool), moves
every message queued for it (in new/) to hold/, with the reason "held by
operator", and pauses the agent: the daemon delivers nothing to it, not even
messages that arrive later, until "agentspool release AGENT". With an id, holds that one queued message. Prints what moved.
Messages already being delivered (cur/) are left to finish. Release them
with "agentspool release".

Works without a config: it then uses the --spool directory (default
./spool).

Example:
  agentspool hold Agent-3
  agentspool hold 20261127T073012-9f3a1c`,
	run: func(e *env, args []string) error { return runHoldRelease(e, args, true) },
}

var releaseCommand = &command{
	name:    "release",
	order:   32,
	summary: "move held messages back to the queue",
	usage:   "release AGENT|ID",
	help: `With an agent name, moves every message of that agent in hold/ back to
new/, whether the daemon or an operator held it. With an id, releases that
one message. Prints what moved.

Works without a config: it then uses the --spool directory (default
./spool).

Example:
  agentspool release Agent-3
  agentspool release 20261127T073012-9f3a1c`,
	run: func(e *env, args []string) error { return runHoldRelease(e, args, false) },
}

// moved prints one transition, as all three commands report it.
func (e *env) moved(from, to spool.Entry) {
	fmt.Fprintf(e.stdout, "%s\t%s\t%s -> %s\n", from.ID, from.Agent, from.State, to.State)
}

func runRetry(e *env, args []string) error {
	fs := e.flagSet()
	all := fs.Bool("all", false, "every failed message")
	agent := fs.String("agent", "", "only messages for `AGENT`")
	ids, err := e.parse(fs, args, 0, -1)
	if err != nil {
		return err
	}
	switch {
	case *all && len(ids) > 0:
		return &usageError{cmd: e.cmd, flags: fs, err: errors.New("give ids or --all, not both")}
	case !*all && len(ids) == 0:
		return &usageError{cmd: e.cmd, flags: fs, err: errors.New("give the ids to retry, or --all")}
	case *agent != "" && !spool.ValidAgentName(*agent):
		return &usageError{cmd: e.cmd, flags: fs, err: fmt.Errorf("--agent: %q is not an agent name", *agent)}
	}
	sp, _, err := e.openSpool(false)
	if err != nil {
		return err
	}
	if *all {
		es, err := sp.Scan(spool.StateFailed, *agent)
		if err != nil {
			return err
		}
		var errs []error
		for _, en := range es {
			to, err := sp.Requeue(en)
			if err != nil {
				errs = append(errs, fmt.Errorf("retry %s: %w", en.ID, err))
				continue
			}
			e.moved(en, to)
		}
		if len(es) == 0 {
			fmt.Fprintln(e.stdout, "no failed messages")
		}
		return joinErrs(errs, len(es))
	}
	var errs []error
	for _, id := range ids {
		en, err := findIn(sp, id, *agent, spool.StateFailed)
		if err == nil {
			var to spool.Entry
			if to, err = sp.Requeue(en); err == nil {
				e.moved(en, to)
				continue
			}
		}
		errs = append(errs, err)
	}
	return joinErrs(errs, len(ids))
}

func runHoldRelease(e *env, args []string, hold bool) error {
	fs := e.flagSet()
	rest, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	arg := rest[0]
	sp, cfg, err := e.openSpool(false)
	if err != nil {
		return err
	}
	from, verb := spool.StateHold, "release"
	if hold {
		from, verb = spool.StateNew, "hold"
	}
	move := func(en spool.Entry) (spool.Entry, error) {
		if hold {
			return sp.Hold(en, operatorHoldReason)
		}
		return sp.Release(en)
	}

	isAgent, err := knownAgent(sp, cfg, arg)
	if err != nil {
		return err
	}
	if !isAgent {
		en, err := findIn(sp, arg, "", from)
		if err != nil {
			return err
		}
		to, err := move(en)
		if err != nil {
			return fmt.Errorf("%s %s: %w", verb, arg, err)
		}
		e.moved(en, to)
		return nil
	}
	// The agent itself is paused (or resumed) first, so the daemon claims
	// nothing of it while its queue moves, nor after.
	if hold {
		if err := sp.HoldAgent(arg, operatorHoldReason); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: deliveries paused\n", arg)
	} else {
		if _, held := sp.AgentHeld(arg); held {
			fmt.Fprintf(e.stdout, "%s: deliveries resumed\n", arg)
		}
		if err := sp.ReleaseAgent(arg); err != nil {
			return err
		}
	}
	es, err := sp.Scan(from, arg)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		fmt.Fprintf(e.stdout, "nothing to %s: %s has no messages in %s/\n", verb, arg, from)
		return nil
	}
	var errs []error
	for _, en := range es {
		to, err := move(en)
		if spool.IsGone(err) {
			continue // the daemon claimed it meanwhile: not ours to move
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", verb, en.ID, err))
			continue
		}
		e.moved(en, to)
	}
	return joinErrs(errs, len(es))
}

// findIn finds the one message with id in state (for agent, if not ""),
// or says clearly where it is instead.
func findIn(sp *spool.Spool, id, agent string, state spool.State) (spool.Entry, error) {
	es, err := sp.Find(id)
	if err != nil {
		return spool.Entry{}, err
	}
	var match, elsewhere []spool.Entry
	for _, en := range es {
		if agent != "" && en.Agent != agent {
			continue
		}
		if en.State == state {
			match = append(match, en)
		} else {
			elsewhere = append(elsewhere, en)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) > 1:
		return spool.Entry{}, fmt.Errorf("id %s names %d messages in %s/ (%s); use the file name", id, len(match), state, where(match))
	case len(elsewhere) > 0:
		return spool.Entry{}, fmt.Errorf("message %s is in %s, not in %s/", id, where(elsewhere), state)
	case agent != "" && len(es) > 0:
		return spool.Entry{}, fmt.Errorf("message %s is not for %s (it is in %s)", id, agent, where(es))
	}
	return spool.Entry{}, fmt.Errorf("no message with id %s", id)
}

// where is "new/Agent-1, done/Agent-2".
func where(es []spool.Entry) string {
	s := make([]string, len(es))
	for i, en := range es {
		s[i] = string(en.State) + "/" + en.Agent
	}
	return strings.Join(s, ", ")
}

// joinErrs is nil, the one error, or "N of M not moved: a; b".
func joinErrs(errs []error, of int) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	s := make([]string, len(errs))
	for i, err := range errs {
		s[i] = err.Error()
	}
	return fmt.Errorf("%d of %d not moved: %s", len(errs), of, strings.Join(s, "; "))
}
