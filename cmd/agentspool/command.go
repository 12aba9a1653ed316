package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// command is one entry of the command table.
type command struct {
	name    string
	order   int    // position in the help listing (then by name)
	summary string // one line, for the listing
	usage   string // the synopsis after "agentspool "
	help    string // what it does, and at least one "Example:"
	// run parses args with a FlagSet from env.flagSet and does the work.
	// It returns a usageError (via env.parse or usageErr) for bad usage.
	run func(e *env, args []string) error
}

// usageError is bad usage: exit code 2, and the command's usage on stderr.
type usageError struct {
	cmd   *command
	flags *flag.FlagSet // the command's flags, for the usage; may be nil
	err   error
}

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func usageErr(cmd *command, err error) error { return &usageError{cmd: cmd, err: err} }

// errHelpShown says --help was asked for and printed: exit 0.
var errHelpShown = errors.New("help shown")

const globalFlagsHelp = `Global flags (before or after the command name):
  --config PATH   the configuration (env AGENTSPOOL_CONFIG; default ./coords.yaml)
  --spool DIR     the spool directory (env AGENTSPOOL_SPOOL; overrides the config's spool:)`

func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: agentspool %s\n\n%s.\n", c.usage, upperFirst(c.summary))
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(c.help, "\n"))
	}
	if c.run == nil {
		fmt.Fprintf(w, "\nThis command is not built into this agentspool binary (version %s).\n", version)
	}
	if fs != nil && hasOwnFlags(fs) {
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, fs)
	}
	fmt.Fprintf(w, "\n%s\n", globalFlagsHelp)
}

func (c *command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: agentspool %s\n", c.usage)
	if fs != nil && hasOwnFlags(fs) {
		printFlags(w, fs)
	}
	fmt.Fprintf(w, "Run 'agentspool %s --help' for details and examples.\n", c.name)
}

func isGlobalFlag(name string) bool { return name == "config" || name == "spool" }

func hasOwnFlags(fs *flag.FlagSet) bool {
	own := false
	fs.VisitAll(func(f *flag.Flag) { own = own || !isGlobalFlag(f.Name) })
	return own
}

// printFlags lists a command's own flags, GNU style (--name), since that is
// how the help and the examples spell them; flag accepts both.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if isGlobalFlag(f.Name) {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		arg, usage := flag.UnquoteUsage(f)
		if isBoolFlag(f) {
			arg = ""
		}
		head := "  " + dash + f.Name
		if arg != "" {
			head += " " + arg
		}
		fmt.Fprintf(w, "%-24s %s\n", head, usage)
	})
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// printCommandList is `agentspool help`: every command of the table.
func printCommandList(w io.Writer) {
	cmds := make([]*command, 0, len(commands))
	for _, c := range commands {
		cmds = append(cmds, c)
	}
	sort.Slice(cmds, func(i, j int) bool {
		if cmds[i].order != cmds[j].order {
			return cmds[i].order < cmds[j].order
		}
		return cmds[i].name < cmds[j].name
	})
	fmt.Fprintf(w, "Usage: agentspool [--config PATH] [--spool DIR] COMMAND [flags] [args]\n\n")
	fmt.Fprintf(w, "agentspool delivers messages into AI agents' chat windows; the spool\ndirectory is its queue.\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range cmds {
		s := c.summary
		if c.run == nil {
			s += "; see: agentspool " + c.name + " --help"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, s)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'agentspool COMMAND --help' for a command's flags and an example.\n\n%s\n", globalFlagsHelp)
}

var helpCommand = &command{
	name:    "help",
	order:   99,
	summary: "list the commands, or explain one",
	usage:   "help [COMMAND]",
	help: `With no argument, lists every command. With a command name, prints that
command's help (the same as "agentspool COMMAND --help").

Example:
  agentspool help send`,
}

// help lists the command table, so the table cannot name it statically.
func init() { helpCommand.run = runHelp }

func runHelp(e *env, args []string) error {
	fs := e.flagSet()
	rest, err := e.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		printCommandList(e.stdout)
		return nil
	}
	c, ok := commands[rest[0]]
	if !ok {
		return usageErr(e.cmd, fmt.Errorf("unknown command %q", rest[0]))
	}
	if c.run == nil {
		c.printHelp(e.stdout, nil)
		return nil
	}
	e.cmd = c
	return c.run(e, []string{"--help"})
}

func isHelpFlag(s string) bool {
	switch s {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}
