package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/config"
)

// cli runs the command in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// admin runs a command ("org", "user add", …) in-process through the
// command table and returns its output and error.
func admin(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	_, err := execute(context.Background(), append(strings.Fields(name), args...), &env{stdout: &out, stderr: io.Discard, now: time.Now})
	if errors.Is(err, errHelp) {
		err = nil
	}
	return out.String(), err
}

func mustAdmin(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := admin(t, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// settingsFor binds settings as a command with those setting flags would,
// from a command line.
func settingsFor(t *testing.T, settings []string, args ...string) *config.Settings {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := config.AddFlags(fs, settings...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
