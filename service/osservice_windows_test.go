package service

import "testing"

func TestWindowsRunManagedRefuses(t *testing.T) {
	if err := RunManaged("agentspool", nil); err == nil {
		t.Error("RunManaged ran under the SCM, which cannot reach the desktop")
	}
}
