package service

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCrashAfterRefusesBadValues(t *testing.T) {
	for _, v := range []string{"pasted", "pasted:", "pasted:0", ":3", "pasted:x"} {
		if _, err := crashAfter(v); err == nil || !strings.Contains(err.Error(), CrashAfterEnv) {
			t.Errorf("%q: err %v, want one naming %s", v, err, CrashAfterEnv)
		}
	}
	if f, err := crashAfter(""); f != nil || err != nil {
		t.Errorf(`"": %v, %v: want none`, f != nil, err)
	}
}

// TestCrashAfterKillsAtTheNthStep runs itself again as a child that
// crashes after its second "pasted" and never reaches the third.
func TestCrashAfterKillsAtTheNthStep(t *testing.T) {
	if os.Getenv("AGENTSPOOL_CRASH_CHILD") != "" {
		f, err := crashAfter("pasted:2")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"focused", "pasted", "offered", "pasted", "pasted"} {
			os.Stdout.WriteString(s + "\n")
			f(s)
		}
		os.Stdout.WriteString("survived\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAfterKillsAtTheNthStep$")
	cmd.Env = append(os.Environ(), "AGENTSPOOL_CRASH_CHILD=1")
	out, err := cmd.Output()
	if err == nil || strings.Contains(string(out), "survived") {
		t.Fatalf("the child ran on: err %v, out %q", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 4 {
		t.Errorf("steps before the crash %q, want focused pasted offered pasted", got)
	}
}
