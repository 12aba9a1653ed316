package safeio

import (
	"runtime"
	"testing"
)

// TestReservedNames: on Windows a device name (alone or before a dot) or a
// final "." can be neither an id nor an agent name; elsewhere they are
// ordinary names, as they always were.
func TestReservedNames(t *testing.T) {
	windows := runtime.GOOS == "windows"
	for _, n := range []string{"CON", "con", "Nul", "nul.txt", "aux.tar.gz", "PRN", "COM1", "com9", "LPT0", "lpt5.x", "Agent."} {
		if got := ValidID(n); got == windows {
			t.Errorf("ValidID(%q) = %v on %s", n, got, runtime.GOOS)
		}
		if got := ValidAgentName(n); got == windows {
			t.Errorf("ValidAgentName(%q) = %v on %s", n, got, runtime.GOOS)
		}
	}
	for _, n := range []string{"CONSOLE", "null", "nul1", "COM", "COM10", "LPTX", "Agent-1", "connect.v2", "a.con", "x-nul"} {
		if !ValidID(n) || !ValidAgentName(n) {
			t.Errorf("%q refused (ValidID %v, ValidAgentName %v)", n, ValidID(n), ValidAgentName(n))
		}
	}
}
