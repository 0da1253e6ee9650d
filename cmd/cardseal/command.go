package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/config"
)

// A command is one subcommand of cardseal, in the manner of cmd/go's
// base.Command: its name, usage line, help and flags are data, so the
// help, the usage errors and their hints all come from this table. A
// group (keys, org, …) has subcommands instead of flags and a run
// function.
type command struct {
	// name is the full name: "seal", "keys csr".
	name string
	// args follows the name in the usage line: "--org CODE --in FILE".
	args string
	// short is the one line of 'cardseal help'; long the text of
	// 'cardseal help NAME', which also shows the flags.
	short, long string
	// settings are the config settings the command takes as flags
	// (--dir, --db, …): declared once, in package config.
	settings []string
	// flags declares the command's own flags on fs and returns the
	// function that runs it with them; args are the arguments left.
	flags func(fs *flag.FlagSet) runFunc
	// errExit is the exit status of a failure (default 1; verify's is 2,
	// "could not check").
	errExit int
	// sub are the subcommands of a group.
	sub []*command
}

type runFunc func(ctx context.Context, e *env, args []string) error

// commands is the table of cardseal's commands, in the order 'cardseal
// help' lists them. The commands are declared beside their run functions.
var commands = []*command{
	cmdInit, cmdServe, cmdCard, cmdSeal, cmdVerify,
	cmdOrg, cmdUser, cmdKeys, cmdCA, cmdConfig, cmdAudit, cmdBackup, cmdRestore, cmdDataKey, cmdPopulation, cmdRenew,
}

// env is what a running command gets besides its flags: where to write,
// its settings (bound on first use, from the file, the environment and
// the flags of command.settings), and the clock.
type env struct {
	stdout, stderr io.Writer
	flags          *config.Flags
	loaded         *config.Settings
	now            func() time.Time
}

// settings binds the command's settings once.
func (e *env) settings() (*config.Settings, error) {
	if e.loaded == nil {
		s, err := e.flags.Load()
		if err != nil {
			return nil, err
		}
		e.loaded = s
	}
	return e.loaded, nil
}

// find resolves the words of a command line to a command: the command
// and the words after its name. It returns the group reached and the
// word it did not know when the words name no command.
func find(words []string) (cmd *command, rest []string, group *command, bad string) {
	list := commands
	for i, w := range words {
		var next *command
		for _, c := range list {
			if c.leaf() == w {
				next = c
			}
		}
		if next == nil {
			return nil, nil, cmd, w
		}
		cmd = next
		if cmd.sub == nil {
			return cmd, words[i+1:], nil, ""
		}
		list = cmd.sub
	}
	if cmd != nil {
		return nil, nil, cmd, "" // a group without its subcommand
	}
	return nil, nil, nil, ""
}

// leaf is the last word of the name.
func (c *command) leaf() string { return c.name[strings.LastIndexByte(c.name, ' ')+1:] }

// usageLine is "cardseal NAME ARGS".
func (c *command) usageLine() string {
	switch {
	case c.sub != nil:
		return "cardseal " + c.name + " <command> [flags]"
	case c.args == "":
		return "cardseal " + c.name
	}
	return "cardseal " + c.name + " " + c.args
}

// flagSet declares the command's flags (settings first) on a new set.
func (c *command) flagSet() (*flag.FlagSet, *config.Flags, runFunc) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := config.AddFlags(fs, c.settings...)
	return fs, f, c.flags(fs)
}

// help writes the text of 'cardseal help NAME' (and of NAME -h).
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.usageLine(), strings.TrimSpace(c.long))
	if c.sub != nil {
		fmt.Fprintln(w, "\ncommands:")
		listCommands(w, c.sub)
		fmt.Fprintf(w, "\nRun 'cardseal help %s <command>' for a command's flags.\n", c.name)
		return
	}
	fs, _, _ := c.flagSet()
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		switch {
		case name == "int":
			name = "N"
		case name != "string" && name != "value":
		case placeholders[f.Name] != "":
			name = placeholders[f.Name]
		default:
			name = strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		}
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && !strings.Contains(usage, "(default") {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, line+"\n        "+usage)
	})
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nflags:\n%s\n", strings.Join(lines, "\n"))
	}
}

// placeholders name the values of flags in help texts.
var placeholders = map[string]string{
	"dir": "DIR", "db": "URL", "addr": "HOST:PORT", "public-url": "URL", "redirect-http": "HOST:PORT",
	"tls-cert": "FILE", "tls-key": "FILE", "calendar": "FILE", "issuers": "POLICY", "demo-password": "PASSWORD",
	"org": "CODE", "code": "CODE", "into": "CODE", "username": "NAME", "name": "NAME", "reason": "TEXT",
	"in": "FILE", "out": "FILE", "cert": "FILE", "trust": "FILE", "trust-bundle": "FILE", "status": "FILE", "root": "FILE",
}

// listCommands writes one line per command (the leaves of groups).
func listCommands(w io.Writer, list []*command) {
	var rows [][2]string
	var walk func([]*command)
	walk = func(list []*command) {
		for _, c := range list {
			if c.sub != nil {
				walk(c.sub)
				continue
			}
			rows = append(rows, [2]string{c.name, c.short})
		}
	}
	walk(list)
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], r[1])
	}
}

// mainHelp is the text of 'cardseal help'.
func mainHelp(w io.Writer) {
	fmt.Fprint(w, "usage: cardseal <command> [flags]\n\n"+
		"cardseal issues, seals and verifies Jilin Province fertility service cards.\n\ncommands:\n")
	listCommands(w, commands)
	fmt.Fprint(w, "\nRun 'cardseal help <command>' or 'cardseal <command> -h' for a command's flags.\n")
}

// subcommandHint lists a group's commands for a usage error.
func subcommandHint(g *command) string {
	var names []string
	for _, c := range g.sub {
		names = append(names, "'cardseal "+c.name+"'")
	}
	if len(names) == 1 {
		return "try " + names[0]
	}
	return "try " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// usageError is a mistake in the command line; its hint is the command's
// usage line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// hinted carries a hint line for the user.
type hinted struct {
	err  error
	hint string
}

func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return hinted{err, hint}
}

// exitCode lets a command choose its exit status (verify: 1 invalid).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// errHelp: the command line asked for help, which was printed.
var errHelp = errors.New("help printed")

// execute finds the command of a command line, parses its flags and runs
// it. It returns the command (nil when none was found) and its error.
func execute(ctx context.Context, args []string, e *env) (*command, error) {
	cmd, rest, group, bad := find(args)
	switch {
	case cmd == nil && group == nil:
		return nil, withHint(usageError{fmt.Sprintf("unknown command %q", bad)}, "run 'cardseal help' for the commands")
	case cmd == nil && (bad == "-h" || bad == "--help" || bad == "-help"):
		group.help(e.stdout)
		return group, errHelp
	case cmd == nil && bad == "":
		return group, withHint(usageError{"missing " + group.name + " command"}, subcommandHint(group))
	case cmd == nil:
		return group, withHint(usageError{fmt.Sprintf("unknown %s command %q", group.name, bad)}, subcommandHint(group))
	}
	fs, f, run := cmd.flagSet()
	if err := fs.Parse(rest); errors.Is(err, flag.ErrHelp) {
		cmd.help(e.stdout)
		return cmd, errHelp
	} else if err != nil {
		return cmd, usageError{err.Error()}
	}
	e.flags = f
	return cmd, run(ctx, e, fs.Args())
}
