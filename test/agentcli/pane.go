//go:build unix

package agentcli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StartPane starts the CLI in a tmux pane of Options.Cols x Options.Rows,
// on a tmux server of the agent's own (socket <Dir>/tmux.sock, no user
// configuration), and returns once its input is ready. On failure it stops
// what it started.
func StartPane(o Options) (*Agent, error) {
	a, err := prepare(&o, nil)
	if err != nil {
		return nil, err
	}
	if o.Cols == 0 {
		o.Cols = 120
	}
	if o.Rows == 0 {
		o.Rows = 40
	}
	a.TmuxSocket = filepath.Join(a.Dir, "tmux.sock")
	// remain-on-exit keeps a CLI's last screen for the error when it dies
	// at start.
	conf := filepath.Join(a.Dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g history-limit 10000\n"), 0o644); err != nil {
		return nil, fmt.Errorf("agentcli: %w", err)
	}
	_, err = a.tmux("-f", conf, "new-session", "-d", "-s", "agent",
		"-x", strconv.Itoa(o.Cols), "-y", strconv.Itoa(o.Rows), "-c", a.WorkDir,
		"exec sh "+shellQuote(filepath.Join(a.Dir, "run.sh")))
	if err != nil {
		_ = a.Stop()
		return nil, fmt.Errorf("agentcli: %w", err)
	}
	out, err := a.tmux("display-message", "-p", "-t", "agent", "#{pane_id} #{pid}")
	if err == nil {
		f := strings.Fields(out)
		if len(f) == 2 {
			a.Pane = f[0]
			a.tmuxPID, _ = strconv.Atoi(f[1])
		} else {
			err = fmt.Errorf("agentcli: tmux display-message said %q", out)
		}
	}
	return a.ready(err)
}

// tmux runs a tmux command on the agent's server.
func (a *Agent) tmux(args ...string) (string, error) {
	return run(baseEnv(), append([]string{"tmux", "-S", a.TmuxSocket}, args...)...)
}
