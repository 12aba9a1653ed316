package main

import (
	"os/exec"
	"testing"
)

func TestDebVersion(t *testing.T) {
	for _, c := range []struct{ git, deb string }{
		{"v1.2.3", "1.2.3"},
		{"v2", "2"},
		{"1.2", "1.2"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-rc.1-2-gabc1234", "1.2.3~rc.1+2.gabc1234"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"abc1234", "0.0.0+gabc1234"},
		{"abc1234-dirty", "0.0.0+gabc1234.dirty"},
		// An abbreviated commit of digits only is no release.
		{"1234567", "0.0.0+g1234567"},
	} {
		got, err := debVersion(c.git)
		if err != nil || got != c.deb {
			t.Errorf("debVersion(%q) = %q, %v; want %q", c.git, got, err, c.deb)
		}
	}
	for _, bad := range []string{"", "dev", "-dirty", "release-1", "v1.2.3-beta-2", "v1..2"} {
		if got, err := debVersion(bad); err == nil {
			t.Errorf("debVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestDebVersionOrder checks with dpkg itself that the versions sort as
// the commits do: a pre-release before its release, a release before the
// commits after it, and those before the next release.
func TestDebVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg")
	}
	order := []string{"abc1234", "v1.2.3-rc1", "v1.2.3-rc1-1-gabc1234", "v1.2.3", "v1.2.3-1-gabc1234", "v1.2.3-1-gabc1234-dirty", "v1.2.3-10-gabc1234", "v1.2.4"}
	for i := 1; i < len(order); i++ {
		a, err := debVersion(order[i-1])
		if err != nil {
			t.Fatal(err)
		}
		b, err := debVersion(order[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort %s (%s) before %s (%s): %v", a, order[i-1], b, order[i], err)
		}
	}
}
