package main

import (
	"fmt"

	"github.com/agentspool/agentspool/confirm"
	"github.com/agentspool/agentspool/spool"
)

var ackCommand = &command{
	name:    "ack",
	order:   40,
	summary: "acknowledge a message (for agents that have a shell)",
	usage:   "ack ID [--agent AGENT]",
	help: `Writes the ack file <ID>.ack in the inbox of the agent the message was
sent to, and prints its path. The daemon sees it and moves the message to
done/. The agent is found from the spool; give --agent when the message is
no longer there (or to say which agent acks when several got the id).

Example:
  agentspool ack 20261127T073012-9f3a1c
  agentspool ack 20261127T073012-9f3a1c --agent Agent-2`,
	run: runAck,
}

func runAck(e *env, args []string) error {
	fs := e.flagSet()
	agent := fs.String("agent", "", "the `AGENT` that acks (default: the message's)")
	rest, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id := rest[0]
	if !spool.ValidID(id) {
		// Before issue 11, "x\ny" was written as the file x\ny.ack.
		return &usageError{cmd: e.cmd, flags: fs, err: fmt.Errorf("bad message id %q (want [A-Za-z0-9][A-Za-z0-9._@+-]{0,127})", id)}
	}
	sp, cfg, err := e.openSpool(true)
	if err != nil {
		return err
	}
	if *agent != "" {
		if _, ok := cfg.Agent(*agent); !ok {
			return unknownAgentErr(cfg, *agent)
		}
	}
	es, err := sp.Find(id)
	if err != nil {
		return err
	}
	ackID, who := id, *agent
	var agents []string
	seen := map[string]bool{}
	for _, en := range es {
		if *agent != "" && en.Agent != *agent {
			continue
		}
		if !seen[en.Agent] {
			seen[en.Agent] = true
			agents = append(agents, en.Agent)
		}
		ackID = en.ID // the id the daemon waits for, if id was a file name
	}
	switch {
	case len(es) == 0 && who == "":
		return fmt.Errorf("no message with id %s in the spool; give --agent to ack it anyway", id)
	case len(es) > 0 && len(agents) == 0:
		return fmt.Errorf("message %s is not for %s (it is in %s)", id, who, where(es))
	case len(agents) > 1:
		return fmt.Errorf("id %s was sent to %d agents (%s); give --agent", id, len(agents), where(es))
	case len(agents) == 1:
		who = agents[0]
	}
	a, ok := cfg.Agent(who)
	if !ok {
		return fmt.Errorf("message %s is for %s, which is not in %s: no inbox known", id, who, cfgName(cfg))
	}
	if !spool.ValidAgentName(who) || a.Inbox == "" {
		return fmt.Errorf("agent %s has no inbox", who)
	}
	p, err := confirm.WriteAck(a.Inbox, ackID)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, p)
	return nil
}
