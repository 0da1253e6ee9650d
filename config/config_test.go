package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInside(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	os.MkdirAll(filepath.Join(data, "keys"), 0o700)
	os.Symlink(data, filepath.Join(base, "link"))
	t.Chdir(base)
	tests := []struct {
		path string
		want bool
	}{
		{filepath.Join(data, "pass"), true},
		{filepath.Join(data, "keys", "pass"), true},
		{"data/pass", true},
		{"./data/../data/pass", true},
		{filepath.Join(base, "link", "pass"), true}, // through a symbolic link
		{filepath.Join(base, "pass"), false},
		{filepath.Join(base, "data-other", "pass"), false}, // a prefix of the name is not inside
		{"/etc/cardseal/pass", false},
	}
	for _, tc := range tests {
		if got := Inside(tc.path, "data"); got != tc.want {
			t.Errorf("Inside(%q, data) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want []string // settings at fault, sorted
	}{
		{"defaults", Config{Dir: "d", PublicURL: "http://127.0.0.1:8080"}, nil},
		{"postgres", Config{Dir: "d", PublicURL: "https://cards.example.cn/check", DB: "postgresql://u@h:5432/db?sslmode=require", Addr: ":8443"}, nil},
		{"sqlite URL", Config{Dir: "d", PublicURL: "https://x", DB: "sqlite:///var/lib/cardseal/c.db"}, nil},
		{"everything wrong", Config{Dir: "d", PublicURL: "cards.example.cn", DB: "mysql://u@h/db", Addr: "localhost:http", PassphraseFile: "d/pass"}, []string{"addr", "db", "passphrase_file", "public_url"}},
		{"postgres without database", Config{Dir: "d", PublicURL: "https://x", DB: "postgres://u:pw@h:5432"}, []string{"db"}},
		{"public_url with query", Config{Dir: "d", PublicURL: "https://x/?a=1"}, []string{"public_url"}},
		{"empty sqlite", Config{Dir: "d", PublicURL: "https://x", DB: "sqlite://"}, []string{"db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range tc.c.Problems() {
				got = append(got, p.Setting)
				if strings.Contains(p.Msg, ":pw@") {
					t.Errorf("password in %q", p.Msg)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("problems in %v, want %v: %v", got, tc.want, tc.c.Problems())
			}
			if (tc.c.Check() == nil) != (len(tc.want) == 0) {
				t.Fatalf("Check() = %v", tc.c.Check())
			}
		})
	}
}

func TestCalendarSetting(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("calendar = \"/etc/cardseal/calendar.toml\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil || c.Calendar != "/etc/cardseal/calendar.toml" {
		t.Fatalf("file: %q %v", c.Calendar, err)
	}
	t.Setenv("CARDSEAL_CALENDAR", "/tmp/other.toml")
	if c, err = Load(dir); err != nil || c.Calendar != "/tmp/other.toml" {
		t.Fatalf("environment: %q %v", c.Calendar, err)
	}
}
