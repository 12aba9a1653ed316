package service

import (
	"strings"
	"testing"
)

func TestUnitQuoting(t *testing.T) {
	unit, err := Unit(Spec{Binary: "/opt/a b/agentspool", Config: `/home/me/100%/"c".yaml`, Spool: "/home/me/$spool", Display: ":0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ExecStart="/opt/a b/agentspool" "--config" "/home/me/100%%/\"c\".yaml" "--spool" "/home/me/$$spool" "service" "run" "--name" "agentspool"`,
		`WorkingDirectory=/home/me/100%%`,
		`Environment="DISPLAY=:0"`,
	} {
		if !strings.Contains(string(unit), want+"\n") {
			t.Errorf("unit lacks %s:\n%s", want, unit)
		}
	}
	if strings.Contains(string(unit), "XAUTHORITY") {
		t.Error("XAUTHORITY written though none was given")
	}
	for _, bad := range []Spec{
		{Binary: "agentspool", Config: "/c.yaml", Spool: "/s", Display: ":0"},
		{Binary: "/b", Config: "/c.yaml", Spool: "/s"},
		{Binary: "/b", Config: "/c\n.yaml", Spool: "/s", Display: ":0"},
		{Name: "../x", Binary: "/b", Config: "/c.yaml", Spool: "/s", Display: ":0"},
	} {
		if _, err := Unit(bad); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
}

func TestUnitDirFollowsXDG(t *testing.T) {
	t.Setenv("HOME", "/home/me")
	t.Setenv("XDG_CONFIG_HOME", "/elsewhere")
	if d, _ := UnitDir(); d != "/elsewhere/systemd/user" {
		t.Errorf("UnitDir = %s", d)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	if d, _ := UnitDir(); d != "/home/me/.config/systemd/user" {
		t.Errorf("UnitDir = %s", d)
	}
}
