package proof

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// BenchmarkDropToSubmit is the end-to-end latency on an idle desk: a file
// renamed into spool/new/<agent>/, one at a time, until the window has
// recorded its submit, through the real `agentspool run` (fsnotify, claim,
// the GUI phase, the page's report). Per window kind:
//
//	go test -run '^$' -bench DropToSubmit -benchtime 100x ./test/proof/
func BenchmarkDropToSubmit(b *testing.B) {
	kinds := []string{desktoptest.KindTk, desktoptest.KindTextarea, desktoptest.KindContentEditable, desktoptest.KindMonaco, desktoptest.KindLexical}
	work := b.TempDir()
	desk := desktoptest.StartT(b, desktoptest.Options{Agents: len(kinds), Kinds: kinds, Dir: filepath.Join(work, "desktop")})
	sp := filepath.Join(work, "spool")
	coords := filepath.Join(work, "coords.yaml")
	yaml := desk.CoordsYAML(sp) + fmt.Sprintf("lock_file: %q\n", filepath.Join(work, "desk.lock"))
	if err := os.WriteFile(coords, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", coords, "run")
	cmd.Env = desk.Env()
	logf, err := os.Create(filepath.Join(work, "daemon.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for _, a := range desk.Agents {
		waitFile(b, filepath.Join(sp, "new", a.Name))
	}
	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := desk.Agents[i%len(desk.Agents)]
		before, _ := desk.Submits(a.Name)
		tmp := filepath.Join(sp, "tmp", fmt.Sprintf("bench-%d.md", i))
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf("drop to submit %d ✓\nsecond line", i)), 0o600); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := os.Rename(tmp, filepath.Join(sp, "new", a.Name, filepath.Base(tmp))); err != nil {
			b.Fatal(err)
		}
		for {
			subs, _ := desk.Submits(a.Name)
			if len(subs) > len(before) {
				if want := fmt.Sprintf("[agentspool id=bench-%d from=- to=%s]\ndrop to submit %d ✓\nsecond line", i, a.Name, i); subs[len(before)] != want {
					b.Fatalf("%s (%s) submitted %q, want %q", a.Name, a.Kind, subs[len(before)], want)
				}
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%s (%s): no submit 30 s after the drop (daemon log %s)", a.Name, a.Kind, logf.Name())
			}
			time.Sleep(time.Millisecond)
		}
		lat[a.Kind] = append(lat[a.Kind], time.Since(start))
	}
	b.StopTimer()
	var all []time.Duration
	for kind, ds := range lat {
		all = append(all, ds...)
		b.ReportMetric(ms50(ds), kind+"-p50-ms")
	}
	b.ReportMetric(ms50(all), "p50-ms")
}

func ms50(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// waitFile waits for path to exist (the daemon makes the spool's folders).
func waitFile(b *testing.B, path string) {
	b.Helper()
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(end) {
			b.Fatalf("%s did not appear", path)
		}
	}
}
