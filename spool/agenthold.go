package spool

import (
	"errors"
	"fmt"
	"github.com/agentspool/agentspool/internal/safeio"
	"io/fs"
	"os"
	"strings"
)

// agentHeldMark, a dot-file in hold/<agent>/ (so scans skip it), pauses all
// of an agent's deliveries: the daemon claims nothing for that agent while
// it exists. Its content is the reason.
const agentHeldMark = ".agent-held"

// HoldAgent pauses every delivery to agent until ReleaseAgent.
func (s *Spool) HoldAgent(agent, reason string) error {
	if !ValidAgentName(agent) {
		return &badAgentError{agent}
	}
	if err := os.MkdirAll(s.path(string(StateHold), agent, ""), dirPerm); err != nil {
		return fmt.Errorf("spool: hold agent: %w", err)
	}
	if err := safeio.WriteFile(s.path(string(StateHold), agent, agentHeldMark), []byte(strings.TrimRight(reason, "\n")+"\n"), filePerm); err != nil && !safeio.IsSyncDirError(err) {
		return fmt.Errorf("spool: hold agent %s: %w", agent, err)
	}
	return nil
}

// ReleaseAgent lets deliveries to agent go on. Releasing an agent that is
// not held is not an error.
func (s *Spool) ReleaseAgent(agent string) error {
	if !ValidAgentName(agent) {
		return &badAgentError{agent}
	}
	err := os.Remove(s.path(string(StateHold), agent, agentHeldMark))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: release agent %s: %w", agent, err)
	}
	return nil
}

// AgentHeld reports whether agent's deliveries are paused, and why.
func (s *Spool) AgentHeld(agent string) (reason string, held bool) {
	if !safeComponent(agent) {
		return "", false
	}
	b, err := safeio.ReadFile(s.path(string(StateHold), agent, agentHeldMark), safeio.OpenOptions{MaxBytes: 64 << 10})
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}
