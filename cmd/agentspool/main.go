// Command agentspool delivers messages into AI agents' chat windows; the
// filesystem is its queue. This file only wires: it finds the command, runs
// it, and turns its error into an exit code.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// commands is the command table. Adding a command is one entry here plus
// its run function (in its own file); the help listing, `help CMD`,
// `CMD --help` and the usage on errors all come from the entry.
// An entry with a nil run is listed in the help but not built into this
// binary yet.
var commands = map[string]*command{
	"send":    sendCommand,
	"status":  statusCommand,
	"list":    listCommand,
	"show":    showCommand,
	"retry":   retryCommand,
	"hold":    holdCommand,
	"release": releaseCommand,
	"ack":     ackCommand,
	"hook":    hookCommand,
	"hooks":   hooksCommand,
	"version": versionCommand,
	"help":    helpCommand,

	// The daemon and the setup helpers: listed now, built by their own
	// files (which set run and a full help) when they land.
	"run":     runCommand,
	"service": serviceCommand,
	"coords":  coordsCommand,
	"doctor":  doctorCommand,
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// realMain runs one command line and returns the exit code: 0 success,
// 1 failure (one line on stderr), 2 usage error (with the usage).
func realMain(args []string, stdin *os.File, stdout, stderr io.Writer) (code int) {
	e := newEnv(stdin, stdout, stderr)
	defer func() {
		// A panic is a bug, but the promise is one line and exit 1.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "agentspool: internal error (a bug, please report it): %v\n", r)
			code = 1
		}
	}()
	return exitCode(e, dispatch(e, args))
}

// dispatch parses the global flags, finds the command and runs it.
func dispatch(e *env, args []string) error {
	rest, err := e.parseGlobal(args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageErr(nil, errors.New("no command given"))
	}
	name := rest[0]
	cmd, ok := commands[name]
	if !ok {
		return usageErr(nil, fmt.Errorf("unknown command %q", name))
	}
	e.cmd = cmd
	if cmd.run == nil {
		if len(rest) > 1 && isHelpFlag(rest[1]) {
			cmd.printHelp(e.stdout, nil)
			return nil
		}
		return fmt.Errorf("%s: not built into this agentspool binary (version %s)", name, version)
	}
	return cmd.run(e, rest[1:])
}

// exitCode is the one place where errors become exit codes and stderr text.
func exitCode(e *env, err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "agentspool: %s\n", oneLine(ue.err.Error()))
		if ue.cmd != nil {
			ue.cmd.printUsage(e.stderr, ue.flags)
		} else {
			printCommandList(e.stderr)
		}
		return 2
	default:
		fmt.Fprintf(e.stderr, "agentspool: %s\n", oneLine(err.Error()))
		return 1
	}
}

// oneLine folds a multi-line error (errors.Join of config problems, say)
// into the one line the exit-code contract promises.
func oneLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "; ")
}

var versionCommand = &command{
	name:    "version",
	order:   90,
	summary: "print the version",
	usage:   "version",
	help: `Prints "agentspool <version>". The version is set at build time with
-ldflags "-X main.version=...".

Example:
  agentspool version`,
	run: func(e *env, args []string) error {
		fs := e.flagSet()
		if _, err := e.parse(fs, args, 0, 0); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "agentspool %s\n", version)
		return nil
	},
}
