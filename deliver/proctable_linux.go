// The process table on Linux, from /proc: what runs under an agent's
// terminal window.

package deliver

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// processes reads every process's parent, command line and executable
// name from /proc. A process that ends while it is read is skipped.
func processes() ([]Process, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		end := bytes.LastIndexByte(stat, ')')
		start := bytes.IndexByte(stat, '(')
		if end < 0 || start < 0 || start > end {
			continue
		}
		f := strings.Fields(string(stat[end+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		p := Process{PID: pid, PPID: ppid, Name: string(stat[start+1 : end])}
		if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmd) > 0 {
			p.Args = strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
			if len(p.Args) > 0 && p.Args[0] != "" {
				p.Name = filepath.Base(p.Args[0])
			}
		}
		out = append(out, p)
	}
	return out, nil
}
