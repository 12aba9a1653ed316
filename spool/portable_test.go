package spool

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestdataNamesPortable: the corpus and fixtures check out on Windows
// too. A file named like a device there (the fuzz corpus once had "nul")
// reads as that device, empty, and fails the test that reads it; a ':' is
// not allowed in an NTFS name.
func TestTestdataNamesPortable(t *testing.T) {
	devices := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true}
	for _, p := range []string{"COM", "LPT"} {
		for d := '0'; d <= '9'; d++ {
			devices[p+string(d)] = true
		}
	}
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		stem, _, _ := strings.Cut(name, ".")
		if devices[strings.ToUpper(stem)] || strings.ContainsAny(name, `:*?"<>|\`) || strings.HasSuffix(name, ".") {
			t.Errorf("%s: not a file name Windows can have", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
