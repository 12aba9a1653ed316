package service

import (
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/agentspool/agentspool/internal/safeio"
	"github.com/agentspool/agentspool/spool"
)

// What the daemon tells the world: one log event per state change, and
// <spool>/status.json for `agentspool status`.

func (d *Daemon) logMove(e spool.Entry, from, to spool.State, err error, more ...any) {
	attrs := []any{"id", e.ID, "agent", e.Agent, "from", string(from), "to", string(to), "attempt", e.Attempt}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	attrs = append(attrs, more...)
	d.log.Info("state", attrs...)
	d.mu.Lock()
	d.dirty = true
	d.mu.Unlock()
}

func (d *Daemon) setState(agent, state, detail string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.agent(agent)
	if st.state != state || st.detail != detail {
		st.state, st.detail = state, detail
		d.dirty = true
	}
}

func (d *Daemon) setAll(state string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range d.agents {
		st.state, st.detail = state, ""
	}
	d.dirty = true
}

// Status is what <spool>/status.json says, for `agentspool status`.
type Status struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	Running bool      `json:"running"`
	// Degraded names what keeps failing (the journal, the status file, a
	// move in the spool), with the last error; empty when all is well.
	Degraded map[string]string      `json:"degraded,omitempty"`
	Agents   map[string]AgentStatus `json:"agents"`
	// Alerts are the daemon's own alerts in force (service/alerts.go).
	Alerts []AlertStatus `json:"alerts,omitempty"`
}

// AgentStatus is one agent's line in Status.
type AgentStatus struct {
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	// Merged counts submits the agent's hook saw merged with other text.
	Merged int `json:"merged_submits,omitempty"`
}

func (d *Daemon) writeStatus(running bool) {
	d.mu.Lock()
	if !d.dirty && running {
		d.mu.Unlock()
		return
	}
	d.dirty = false
	s := Status{PID: os.Getpid(), Started: d.start, Updated: d.now(), Running: running, Agents: map[string]AgentStatus{}}
	if len(d.degraded) > 0 {
		s.Degraded = make(map[string]string, len(d.degraded))
		for k, v := range d.degraded {
			s.Degraded[k] = v
		}
	}
	names := make([]string, 0, len(d.agents))
	for n := range d.agents {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.Agents[n] = AgentStatus{State: d.agents[n].state, Detail: d.agents[n].detail, Merged: d.agents[n].merged}
	}
	d.mu.Unlock()
	s.Alerts = d.alerts.list()
	switch err := writeJSON(filepath.Join(d.sp.Root, "status.json"), s); {
	case safeio.IsSyncDirError(err):
		// Written; only its durability is in doubt.
		d.clearDegraded("status file")
		d.syncedDir(d.sp.Root, err)
	case err != nil:
		d.degrade("status file", err)
	default:
		d.clearDegraded("status file")
	}
}
