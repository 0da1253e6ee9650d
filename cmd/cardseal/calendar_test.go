package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestArt19CalendarCoverage: 'config check' warns when the working-day
// calendar does not list the holidays of the current or the next year
// (the Art. 19 time limits would count only weekends), and says that
// serve will not start with a calendar file that does not parse.
func TestArt19CalendarCoverage(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "calendar-passphrase")
	base := t.TempDir()
	demo := filepath.Join(base, "demo")
	if code, _, stderr := cli(t, "init", "--dir", demo, "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	old := filepath.Join(base, "old.toml")
	os.WriteFile(old, []byte("[2020]\nholidays = [\"2020-01-01\"]\nworkdays = []\n"), 0o600)
	t.Setenv("CARDSEAL_CALENDAR", old)
	code, stdout, stderr := cli(t, "config", "check", "--dir", demo)
	if code != 0 || !strings.Contains(stdout, "config ok") {
		t.Fatalf("config check with an old calendar: %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "warning: calendar: the working-day calendar "+old+" does not list the holidays of"); n != 2 {
		t.Errorf("%d calendar warnings, want 2 (this year and next):\n%s", n, stdout)
	}
	// A calendar covering both years: no warning.
	y := time.Now().Year()
	both := filepath.Join(base, "both.toml")
	os.WriteFile(both, []byte(strings.Join([]string{
		"[" + strconv.Itoa(y-1) + "]", "holidays = []", "workdays = []",
		"[" + strconv.Itoa(y) + "]", "holidays = []", "workdays = []",
		"[" + strconv.Itoa(y+1) + "]", "holidays = []", "workdays = []",
		"[" + strconv.Itoa(y+2) + "]", "holidays = []", "workdays = []", ""}, "\n")), 0o600)
	t.Setenv("CARDSEAL_CALENDAR", both)
	if _, stdout, _ := cli(t, "config", "check", "--dir", demo); strings.Contains(stdout, "warning: calendar") {
		t.Errorf("a covering calendar warned:\n%s", stdout)
	}
	bad := filepath.Join(base, "bad.toml")
	os.WriteFile(bad, []byte("[twenty]\n"), 0o600)
	t.Setenv("CARDSEAL_CALENDAR", bad)
	if _, stdout, _ := cli(t, "config", "check", "--dir", demo); !strings.Contains(stdout, "warning: calendar:") || !strings.Contains(stdout, "serve will not start") {
		t.Errorf("a malformed calendar: %d\n%s", code, stdout)
	}
}
