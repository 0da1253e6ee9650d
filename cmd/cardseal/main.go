// Command cardseal issues, seals and verifies Jilin Province fertility
// service cards. It turns flags into settings (package config), wires the
// packages together and runs one subcommand; the work is done by the
// packages. The subcommands are one table (command.go): each is declared
// beside its run function, and help, usage errors and their hints come
// from the table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs a command line and returns the exit status: 0 done, 1 failed
// (or the status the command chose: verify's 1 is "invalid"), and for
// the commands whose 1 means a verdict (verify, audit verify), 2 when
// they could not check. A failure is reported as "error: …" and, when
// there is one, "hint: …".
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mainHelp(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		if len(args) == 1 || args[0] != "help" || args[1] == "help" {
			mainHelp(stdout)
			return 0
		}
		cmd, _, group, bad := find(args[1:])
		switch {
		case cmd != nil:
			cmd.help(stdout)
		case group != nil && bad == "":
			group.help(stdout)
		default:
			return report(stderr, nil, withHint(fmt.Errorf("unknown command %q", bad), "run 'cardseal help' for the commands"))
		}
		return 0
	}
	cmd, err := execute(context.Background(), args, &env{stdout: stdout, stderr: stderr, now: time.Now})
	return report(stderr, cmd, err)
}

// report writes a command's error and returns the exit status.
func report(stderr io.Writer, cmd *command, err error) int {
	var code exitCode
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	var h hinted
	var u usageError
	switch {
	case errors.As(err, &h):
		fmt.Fprintf(stderr, "hint: %s\n", h.hint)
	case errors.As(err, &u) && cmd != nil:
		fmt.Fprintf(stderr, "hint: usage: %s (see 'cardseal help %s')\n", cmd.usageLine(), cmd.name)
	default:
		if hint := hintFor(err); hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", hint)
		}
	}
	if cmd != nil && cmd.errExit != 0 {
		return cmd.errExit
	}
	return 1
}
