package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/agentspool/agentspool/config"
	"github.com/agentspool/agentspool/spool"
)

const defaultConfigPath = "./coords.yaml"

// env is what every command gets: the standard streams, the global flags,
// and the config and spool they point at, loaded on demand.
type env struct {
	stdin          *os.File
	stdout, stderr io.Writer
	now            func() time.Time

	configPath     string
	configExplicit bool // --config or AGENTSPOOL_CONFIG: a missing file is an error
	spoolDir       string

	cmd *command // the command running, for its usage

	cfg    *config.Config
	cfgErr error
	loaded bool
}

func newEnv(stdin *os.File, stdout, stderr io.Writer) *env {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now, configPath: defaultConfigPath}
	if p := os.Getenv("AGENTSPOOL_CONFIG"); p != "" {
		e.configPath, e.configExplicit = p, true
	}
	e.spoolDir = os.Getenv("AGENTSPOOL_SPOOL")
	return e
}

// addGlobalFlags registers --config and --spool on fs. Their defaults are
// the values so far, so a flag given before the command survives the
// command's own FlagSet.
func (e *env) addGlobalFlags(fs *flag.FlagSet) {
	fs.Func("config", "the configuration `PATH` (env AGENTSPOOL_CONFIG)", func(s string) error {
		if s == "" {
			return errors.New("empty path")
		}
		e.configPath, e.configExplicit = s, true
		return nil
	})
	fs.Func("spool", "the spool `DIR` (env AGENTSPOOL_SPOOL)", func(s string) error {
		if s == "" {
			return errors.New("empty path")
		}
		e.spoolDir = s
		return nil
	})
}

// parseGlobal parses the flags before the command name.
func (e *env) parseGlobal(args []string) ([]string, error) {
	fs := flag.NewFlagSet("agentspool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	e.addGlobalFlags(fs)
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandList(e.stdout)
			return nil, errHelpShown
		}
		return nil, usageErr(nil, err)
	}
	if *version {
		return []string{"version"}, nil
	}
	return fs.Args(), nil
}

// flagSet is a new FlagSet for the running command, with the global flags.
func (e *env) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(e.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors go through exitCode, help through parse
	fs.Usage = func() {}
	e.addGlobalFlags(fs)
	return fs
}

// parse parses a command's args, flags and operands in any order (operands
// after "--" are never flags), and checks the operand count: at least min,
// at most max (max < 0: any). --help prints the command's help.
func (e *env) parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	flags, operands := splitArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.cmd.printHelp(e.stdout, fs)
			return nil, errHelpShown
		}
		return nil, &usageError{cmd: e.cmd, flags: fs, err: err}
	}
	operands = append(fs.Args(), operands...)
	for _, o := range operands {
		if o == "" {
			return nil, &usageError{cmd: e.cmd, flags: fs, err: errors.New("empty argument")}
		}
	}
	switch {
	case len(operands) < min:
		return nil, &usageError{cmd: e.cmd, flags: fs, err: errors.New("missing argument")}
	case max >= 0 && len(operands) > max:
		return nil, &usageError{cmd: e.cmd, flags: fs, err: fmt.Errorf("unexpected argument %q", operands[max])}
	}
	return operands, nil
}

// splitArgs separates flags (with their values) from operands, so that
// `ack ID --agent A` works although flag stops at the first operand.
// A lone "-" is an operand (stdin); "--" ends the flags.
func splitArgs(fs *flag.FlagSet, args []string) (flags, operands []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(operands, args[i+1:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f != nil && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, operands
}

// config loads the configuration once.
func (e *env) config() (*config.Config, error) {
	if !e.loaded {
		e.cfg, e.cfgErr = config.Load(e.configPath)
		e.loaded = true
	}
	return e.cfg, e.cfgErr
}

// openSpool opens the spool. needConfig: the command must know the agents,
// so a config that cannot be loaded is an error. Otherwise (inspection
// commands) a config that is missing or unreadable, and not asked for by
// name, falls back to --spool or ./spool, so an operator can still look; a
// config that is there but wrong is always an error, naming its line.
// The returned config is nil in the fallback.
func (e *env) openSpool(needConfig bool) (*spool.Spool, *config.Config, error) {
	cfg, err := e.config()
	if err != nil {
		unreadable := errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
		if needConfig || e.configExplicit || !unreadable {
			return nil, nil, err
		}
		cfg = nil
	}
	root := e.spoolDir
	var max int64
	if cfg != nil {
		if root == "" {
			root = cfg.Spool
		}
		max = cfg.MaxMessageBytes
	} else {
		if root == "" {
			root = config.DefaultSpool
		}
		// Without a config nothing says this is a spool: do not create one.
		if fi, serr := os.Stat(root); serr != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("no config (%s: not found) and no spool at %s; give --config or --spool", e.configPath, root)
		}
	}
	sp, err := spool.Open(root)
	if err != nil {
		return nil, nil, err
	}
	sp.MaxMessageBytes = max
	// What goes wrong without failing the command (a reason not written,
	// an fsync after a completed rename) is a warning, on stderr: the
	// exit code still says the message was queued or moved, so it is not
	// sent twice.
	sp.Log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sp.OnSyncDir = func(dir string, err error) {
		if err != nil {
			fmt.Fprintf(e.stderr, "agentspool: warning: the change is made, but the fsync of %s failed, so it may not survive a crash: %v\n", dir, err)
		}
	}
	return sp, cfg, nil
}

// knownAgent reports whether name is an agent: configured, or with a
// directory in the spool.
func knownAgent(sp *spool.Spool, cfg *config.Config, name string) (bool, error) {
	if cfg != nil {
		if _, ok := cfg.Agent(name); ok {
			return true, nil
		}
	}
	if !spool.ValidAgentName(name) {
		return false, nil
	}
	names, err := sp.Agents()
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n == name {
			return true, nil
		}
	}
	return false, nil
}

// unknownAgentErr says name is not configured, listing the agents that are.
func unknownAgentErr(cfg *config.Config, name string) error {
	names := cfg.Names()
	if len(names) == 0 {
		return fmt.Errorf("unknown agent %q: %s configures no agents", name, cfgName(cfg))
	}
	return fmt.Errorf("unknown agent %q (configured in %s: %s)", name, cfgName(cfg), strings.Join(names, ", "))
}

func cfgName(cfg *config.Config) string {
	if cfg.Path != "" {
		return cfg.Path
	}
	return "the config"
}
