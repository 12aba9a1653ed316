package service

import (
	"errors"
	"strings"
	"testing"
)

func TestWindowsRefusesAndAdvises(t *testing.T) {
	spec := Spec{Binary: `C:\Program Files\agentspool\agentspool.exe`, Config: `C:\Users\me\coords.yaml`, Spool: `C:\Users\me\spool`}
	_, err := Install(spec)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "session 0") {
		t.Fatalf("Install = %v, want an UnsupportedError about session 0", err)
	}
	want := `schtasks /Create /TN agentspool /SC ONLOGON /RL LIMITED /F /TR "\"C:\Program Files\agentspool\agentspool.exe\" --config \"C:\Users\me\coords.yaml\" run"`
	if !strings.Contains(ue.Advice, want) {
		t.Errorf("advice lacks\n%s\n%s", want, ue.Advice)
	}
	if err := RunManaged("agentspool", nil); err == nil {
		t.Error("RunManaged ran under the SCM")
	}
}
