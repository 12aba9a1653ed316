package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Roles the test binary plays when TestMultiProcess re-executes it.
const (
	envRole  = "SPOOL_TEST_ROLE"
	envRoot  = "SPOOL_TEST_ROOT"
	envIndex = "SPOOL_TEST_INDEX"
	envOut   = "SPOOL_TEST_OUT"
)

const (
	mpSenders   = 8
	mpPerSender = 500
	mpClaimers  = 4
	mpAgents    = 4
	mpTotal     = mpSenders * mpPerSender
)

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case "sender":
		os.Exit(runSender())
	case "claimer":
		os.Exit(runClaimer())
	}
	os.Exit(m.Run())
}

func runSender() int {
	s, err := Open(os.Getenv(envRoot))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	idx := os.Getenv(envIndex)
	for i := range mpPerSender {
		msg := fmt.Sprintf("---\nid: s%s-%d\nfrom: sender-%s\n---\nmessage %d from sender %s\n", idx, i, idx, i, idx)
		if _, err := s.Enqueue(fmt.Sprintf("Agent-%d", i%mpAgents), []byte(msg)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// runClaimer claims whatever it finds until cur/ holds every message. It
// polls because that is what it tests: Scan and Claim racing other claimers
// and senders, with no coordination except rename(2).
func runClaimer() int {
	s, err := Open(os.Getenv(envRoot))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, err := os.Create(os.Getenv(envOut))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := bufio.NewWriter(out)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		es, err := s.Scan(StateNew, "")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, e := range es {
			c, err := s.Claim(e)
			if IsGone(err) {
				continue
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintf(w, "%s/%s\n", c.Agent, c.Name)
		}
		if len(es) == 0 {
			claimed, err := s.Scan(StateCur, "")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if len(claimed) >= mpTotal {
				if err := w.Flush(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				return 0
			}
		}
	}
	fmt.Fprintln(os.Stderr, "claimer: deadline passed")
	return 1
}

func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 12 processes")
	}
	root := t.TempDir()
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	type proc struct {
		cmd    *exec.Cmd
		stderr strings.Builder
	}
	var procs []*proc
	start := func(role string, i int) {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		p.cmd.Env = append(os.Environ(), envRole+"="+role, envRoot+"="+root, envIndex+"="+strconv.Itoa(i),
			envOut+"="+filepath.Join(outDir, fmt.Sprintf("claimer-%d", i)))
		p.cmd.Stderr = &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for i := range mpSenders {
		start("sender", i)
	}
	for i := range mpClaimers {
		start("claimer", i)
	}
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("%v: %v\n%s", p.cmd.Env[len(p.cmd.Env)-4:], err, p.stderr.String())
		}
	}
	if t.Failed() {
		return
	}

	counts := map[string]int{}
	for i := range mpClaimers {
		data, err := os.ReadFile(filepath.Join(outDir, fmt.Sprintf("claimer-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Fields(string(data)) {
			counts[line]++
		}
	}
	for name, n := range counts {
		if n != 1 {
			t.Errorf("%s claimed %d times", name, n)
		}
	}
	if len(counts) != mpTotal {
		t.Errorf("%d distinct messages claimed, want %d", len(counts), mpTotal)
	}
	s, _ := Open(root)
	cur, err := s.Scan(StateCur, "")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range cur {
		if counts[e.Agent+"/"+e.Name] != 1 {
			t.Errorf("%s/%s is in cur/ but no claimer reported it", e.Agent, e.Name)
		}
		ids[e.ID] = true
	}
	if len(cur) != mpTotal || len(ids) != mpTotal {
		t.Errorf("cur/ holds %d files with %d distinct ids, want %d", len(cur), len(ids), mpTotal)
	}
	if left, _ := s.Scan(StateNew, ""); len(left) != 0 {
		t.Errorf("%d messages left in new/", len(left))
	}
	if tmp, _ := os.ReadDir(filepath.Join(root, "tmp")); len(tmp) != 0 {
		t.Errorf("%d files left in tmp/", len(tmp))
	}
	var missing []string
	for i := range mpSenders {
		for j := range mpPerSender {
			if id := fmt.Sprintf("s%d-%d", i, j); !ids[id] {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("missing %d ids, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
}
