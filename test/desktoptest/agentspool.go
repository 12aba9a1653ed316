package desktoptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// MainWithAgentspool is the TestMain of tests that run the agentspool
// binary as a user would (test/proof, test/terminal, cmd/agentspool): it
// builds cmd/agentspool with buildFlags (-ldflags ...) into a temp dir,
// sets *bin to the binary, runs the tests, removes the dir and exits with
// the tests' code.
func MainWithAgentspool(m interface{ Run() int }, bin *string, buildFlags ...string) {
	dir, err := os.MkdirTemp("", "agentspool-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "agentspool")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := append(append([]string{"build"}, buildFlags...), "-o", *bin, "github.com/agentspool/agentspool/cmd/agentspool")
	build := exec.Command(goTool, args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "desktoptest: go build agentspool:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
