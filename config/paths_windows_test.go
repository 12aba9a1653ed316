package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWindowsPaths: coords.yaml written by a Windows user, with paths in
// Windows form, resolves as that user means them.
func TestWindowsPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "coords.yaml")
	vol := filepath.VolumeName(dir)
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{`C:\agentspool\spool`, `C:\agentspool\spool`},
		{`C:/agentspool/spool`, `C:\agentspool\spool`},
		{`d:\Queue\`, `d:\Queue`},
		{`\\server\share\spool`, `\\server\share\spool`},
		{`\shared\spool`, vol + `\shared\spool`},
		{`/shared/spool`, vol + `\shared\spool`},
		{`~\spool`, filepath.Join(home, "spool")},
		{`~/spool`, filepath.Join(home, "spool")},
		{`spool\here`, filepath.Join(dir, "spool", "here")},
		{`..\up`, filepath.Join(filepath.Dir(dir), "up")},
	} {
		c, err := Parse([]byte("spool: '"+tc.in+"'\n"+minimal), file)
		if err != nil {
			t.Errorf("spool: %s: %v", tc.in, err)
			continue
		}
		if c.Spool != tc.want {
			t.Errorf("spool: %s resolves to %q, want %q", tc.in, c.Spool, tc.want)
		}
	}
}
