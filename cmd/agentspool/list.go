package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentspool/agentspool/spool"
)

var listCommand = &command{
	name:    "list",
	order:   21,
	summary: "list the messages in the spool",
	usage:   "list [--state new|cur|done|failed|hold] [--agent AGENT] [--json]",
	help: `Lists message files: state, agent, id, attempt, priority, age (time in
its current state) and file name. States come in their life order
(new, cur, done, failed, hold); within new/, messages are in the order the
daemon delivers them.

Works without a config: it then reads the --spool directory (default
./spool).

Example:
  agentspool list --state failed
  agentspool list --agent Agent-2 --json`,
	run: runList,
}

// listEntry is one object of `list --json`.
type listEntry struct {
	State     string     `json:"state"`
	Agent     string     `json:"agent"`
	ID        string     `json:"id"`
	Attempt   int        `json:"attempt"`
	Priority  string     `json:"priority"`
	Queued    time.Time  `json:"queued"`
	AgeSecs   float64    `json:"age_seconds"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	Size      int64      `json:"size"`
	Name      string     `json:"name"`
	OrigName  string     `json:"orig_name,omitempty"` // the sender's name, once the daemon named the message
	Path      string     `json:"path"`
}

func stateNames() string {
	s := make([]string, len(spool.States))
	for i, st := range spool.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// parseState checks a --state value.
func parseState(s string) (spool.State, error) {
	st := spool.State(strings.ToLower(s))
	if !slices.Contains(spool.States, st) {
		return "", fmt.Errorf("unknown state %q (want %s)", s, stateNames())
	}
	return st, nil
}

func runList(e *env, args []string) error {
	fs := e.flagSet()
	var states []spool.State
	fs.Func("state", "only messages in `STATE`: "+stateNames(), func(s string) error {
		st, err := parseState(s)
		if err != nil {
			return err
		}
		states = []spool.State{st}
		return nil
	})
	agent := fs.String("agent", "", "only messages for `AGENT`")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *agent != "" && !spool.ValidAgentName(*agent) {
		return &usageError{cmd: e.cmd, flags: fs, err: fmt.Errorf("--agent: %q is not an agent name", *agent)}
	}
	if states == nil {
		states = spool.States
	}
	sp, _, err := e.openSpool(false)
	if err != nil {
		return err
	}
	now := e.now()
	var out []listEntry
	for _, st := range states {
		es, err := sp.Scan(st, *agent)
		if err != nil {
			return err
		}
		for _, en := range es {
			le := listEntry{
				State: string(en.State), Agent: en.Agent, ID: en.ID, Attempt: en.Attempt,
				Priority: en.Priority.String(), Queued: en.Queued,
				AgeSecs: now.Sub(en.Queued).Round(time.Millisecond).Seconds(),
				Size:    en.Size, Name: en.Name, OrigName: en.OrigName, Path: sp.Path(en),
			}
			if !en.NotBefore.IsZero() {
				nb := en.NotBefore
				le.NotBefore = &nb
			}
			out = append(out, le)
		}
	}
	if *asJSON {
		if out == nil {
			out = []listEntry{} // [] rather than null
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(out) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tAGENT\tID\tATTEMPT\tPRIORITY\tAGE\tNAME")
	for _, le := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", le.State, le.Agent, le.ID, le.Attempt,
			le.Priority, fmtAge(now.Sub(le.Queued)), le.Name)
	}
	return tw.Flush()
}
