//go:build linux

package winetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/agentspool/agentspool/test/desktoptest"
)

// startRig is the set-up the Windows proof, the tools test and the GUI
// benchmark share: a work dir named after pattern (os.MkdirTemp), kept and
// logged when the test fails (the journal, the logs, every window's
// submits); a virtual desktop with no agent windows; a fresh prefix on it,
// stopped at the end; and the Go program pkg built for Windows as exe.
func startRig(tb testing.TB, pattern, exe, pkg string) (dir string, d *desktoptest.Desktop, p *Prefix, exePath string) {
	tb.Helper()
	Require(tb)
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("work dir kept: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	d = desktoptest.StartT(tb, desktoptest.Options{Dir: filepath.Join(dir, "desktop"), NoAgents: true})
	p, err = New(Options{Dir: filepath.Join(dir, "wine"), Desktop: d, Log: tb.Logf})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Stop() })
	if exePath, err = p.GoBuild("../..", exe, pkg); err != nil {
		tb.Fatal(err)
	}
	return dir, d, p, exePath
}
