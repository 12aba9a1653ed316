package service

import (
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestTaskXML(t *testing.T) {
	s := Spec{Name: "agentspool", Binary: `C:\Program Files\agentspool\agentspool.exe`, Config: `C:\Users\Me & You\coords.yaml`, Spool: `C:\Users\me\spool\`}
	doc := TaskXML(s, `PC\me`)
	var task struct {
		Triggers struct {
			Logon struct{ UserId string } `xml:"LogonTrigger"`
		}
		Principals struct {
			Principal struct{ UserId, LogonType, RunLevel string }
		}
		Settings struct {
			MultipleInstancesPolicy, ExecutionTimeLimit string
			RestartOnFailure                            struct{ Interval, Count string }
		}
		Actions struct {
			Exec struct{ Command, Arguments string }
		}
	}
	// encoding/xml does not read a UTF-16 declaration: the body is plain.
	if err := xml.Unmarshal([]byte(strings.Replace(doc, `encoding="UTF-16"`, ``, 1)), &task); err != nil {
		t.Fatalf("not XML: %v\n%s", err, doc)
	}
	if task.Triggers.Logon.UserId != `PC\me` || task.Principals.Principal.UserId != `PC\me` {
		t.Errorf("user: trigger %q, principal %q", task.Triggers.Logon.UserId, task.Principals.Principal.UserId)
	}
	if p := task.Principals.Principal; p.LogonType != "InteractiveToken" || p.RunLevel != "LeastPrivilege" {
		t.Errorf("principal %+v: want the interactive session, not elevated", p)
	}
	if st := task.Settings; st.MultipleInstancesPolicy != "IgnoreNew" || st.ExecutionTimeLimit != "PT0S" || st.RestartOnFailure.Interval != "PT1M" {
		t.Errorf("settings %+v", st)
	}
	if task.Actions.Exec.Command != s.Binary {
		t.Errorf("command %q", task.Actions.Exec.Command)
	}
	want := `--config "C:\Users\Me & You\coords.yaml" --spool C:\Users\me\spool\ run`
	if task.Actions.Exec.Arguments != want {
		t.Errorf("arguments\n%q, want\n%q", task.Actions.Exec.Arguments, want)
	}
	f := TaskXMLFile(s, `PC\me`)
	if f[0] != 0xff || f[1] != 0xfe || len(f)%2 != 0 {
		t.Fatalf("file does not start with a UTF-16LE BOM: % x", f[:4])
	}
	u := make([]uint16, (len(f)-2)/2)
	for i := range u {
		u[i] = uint16(f[2+2*i]) | uint16(f[3+2*i])<<8
	}
	if back := string(utf16.Decode(u)); back != strings.ReplaceAll(doc, "\n", "\r\n") {
		t.Errorf("file does not decode to the document with CRLF line ends")
	}
}

func TestWinQuote(t *testing.T) {
	for in, want := range map[string]string{
		`C:\a\b.yaml`: `C:\a\b.yaml`,
		`C:\my dir\x`: `"C:\my dir\x"`,
		`C:\my dir\`:  `"C:\my dir\\"`,
		`say "hi"`:    `"say \"hi\""`,
		``:            `""`,
		`a\\"b c`:     `"a\\\\\"b c"`,
	} {
		if got := winQuote(in); got != want {
			t.Errorf("winQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
