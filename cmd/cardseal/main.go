// Command cardseal issues, seals and verifies Jilin Province fertility
// service cards. It turns flags into a config, wires the packages together
// and runs one subcommand; the work is done by the packages.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// usageError is a mistake in the command line.
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

const usage = `usage: cardseal <command> [flags]

commands:
  init        create a data directory (demo CA, platform key; --demo adds a demo province;
              --root trust.pem: a server keystore trusting an offline root, no root key)
  card render render an unsealed card from an application JSON file
  seal        apply an organisation's seal to a card PDF
  serve       run the service: staff API, QR verification pages, citizen download
  verify      check every seal of a PDF (exit 0 valid, 1 invalid or incomplete, 2 could not check)
  ca init     create the province root CA on the offline machine
  ca sign     check a certificate request and issue its certificate (offline machine)
  ca bundle   sign other provinces' roots into a trust bundle (Art. 7a; offline machine)
  keys csr    new pending seal key (--org CODE) or QR-signing key (--platform) and its request
  keys import install a certificate issued for a pending key; the old one is archived
  keys status list certificates and when they end (exit 1 if any expired or missing)
  config check report every problem of the config file, environment and keystore
  org         list|add|rename|retire|import: organisations in the registry
  user        list|add|disable|enable|reset-password: staff accounts
  audit verify check the audit log's hash chain and signed checkpoints (exit 0 intact, 1 tampered, 2 could not check)
  audit sign  sign the audit log's head now (for cron)
  backup      online SQLite snapshot (PostgreSQL: checks pg_dump and prints the commands)
  restore     put a snapshot in place and re-verify every card
  data-key rotate  re-encrypt every stored document under a new data key (servers stopped)

Run 'cardseal <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "init":
		err = cmdInit(args[1:], stdout)
	case "card":
		if len(args) < 2 || args[1] != "render" {
			err = usageError{"unknown card command; try 'cardseal card render'"}
		} else {
			err = cmdRender(args[2:], stdout)
		}
	case "seal":
		err = cmdSeal(args[1:], stdout)
	case "verify":
		err = cmdVerify(args[1:], stdout)
	case "ca":
		err = cmdCA(args[1:], stdout)
	case "keys":
		err = cmdKeys(args[1:], stdout)
	case "config":
		err = cmdConfig(args[1:], stdout)
	case "serve":
		err = cmdServe(args[1:], stdout, stderr)
	case "audit":
		err = cmdAudit(args[1:], stdout)
	case "org":
		err = cmdOrg(args[1:], stdout)
	case "user":
		err = cmdUser(args[1:], stdout)
	case "backup":
		err = cmdBackup(args[1:], stdout)
	case "restore":
		err = cmdRestore(args[1:], stdout)
	case "data-key":
		err = cmdDataKey(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	var code exitCode
	switch {
	case err == nil:
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
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "hint: run 'cardseal help' for the commands and 'cardseal %s -h' for flags\n", args[0])
	default:
		if hint := hintFor(err); hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", hint)
		}
	}
	if args[0] == "verify" || (args[0] == "audit" && len(args) > 1 && args[1] == "verify") {
		return 2
	}
	return 1
}
