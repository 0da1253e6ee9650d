package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIConfigCheck(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "config-passphrase")
	base := t.TempDir()
	demo := filepath.Join(base, "demo")
	if code, _, stderr := cli(t, "init", "--dir", demo, "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	passOutside := filepath.Join(base, "pass")
	os.WriteFile(passOutside, []byte("config-passphrase\n"), 0o600)

	type setup struct {
		toml string            // appended to the demo's cardseal.toml
		env  map[string]string // environment for the check
		edit func(t *testing.T, dir string)
	}
	tests := []struct {
		name    string
		setup   setup
		want    []string // every one must be reported
		wantErr bool
	}{
		{name: "demo as made by init", want: []string{"config ok"}},
		{name: "passphrase from a private file", setup: setup{env: map[string]string{"CARDSEAL_KEY_PASSPHRASE": "", "CARDSEAL_KEY_PASSPHRASE_FILE": passOutside}}, want: []string{"config ok"}},
		{
			name:    "every mistake at once",
			setup:   setup{toml: "pubic_url = \"https://x\"\ntls_ciphers = \"a\"\n", env: map[string]string{"CARDSEAL_PUBLIC_URL": "ftp://cards.example.cn", "CARDSEAL_DB": "mysql://u@h/db", "CARDSEAL_ADDR": "localhost"}},
			want:    []string{`unknown setting "pubic_url"`, `unknown setting "tls_ciphers"`, "public_url", "ftp://", `db: unsupported scheme "mysql"`, "addr", "5 problem(s)"},
			wantErr: true,
		},
		{
			name: "passphrase file inside the data directory, readable by all",
			setup: setup{env: map[string]string{"CARDSEAL_KEY_PASSPHRASE": ""}, edit: func(t *testing.T, dir string) {
				f := filepath.Join(dir, "pass.txt")
				os.WriteFile(f, []byte("config-passphrase\n"), 0o644)
				t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", f)
			}},
			want:    []string{"lies inside the data directory", "readable by other users"},
			wantErr: true,
		},
		{name: "unreadable passphrase file", setup: setup{env: map[string]string{"CARDSEAL_KEY_PASSPHRASE": "", "CARDSEAL_KEY_PASSPHRASE_FILE": filepath.Join(base, "nope")}}, want: []string{"passphrase: read passphrase file"}, wantErr: true},
		{name: "no passphrase at all", setup: setup{env: map[string]string{"CARDSEAL_KEY_PASSPHRASE": ""}}, want: []string{"no key passphrase"}, wantErr: true},
		{name: "wrong passphrase", setup: setup{env: map[string]string{"CARDSEAL_KEY_PASSPHRASE": "wrong"}}, want: []string{"keys: load key platform: wrong passphrase"}, wantErr: true},
		{name: "PostgreSQL URL without a database", setup: setup{env: map[string]string{"CARDSEAL_DB": "postgres://u:secret@db.example.cn:5432"}}, want: []string{"needs a host and a database"}, wantErr: true},
		{name: "expired certificate", setup: setup{edit: func(t *testing.T, dir string) { expireCert(t, dir, "220102001001") }}, want: []string{"seal certificate 220102001001 (永安社区居民委员会): EXPIRED"}, wantErr: true},
		{name: "not initialised", setup: setup{edit: func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "keys")) }}, want: []string{"not initialised"}, wantErr: true},
		// serve reads CARDSEAL_DEMO_PASSWORD: config check reports it as
		// a setting from the environment, not as an ignored variable.
		{name: "demo password from the environment", setup: setup{env: map[string]string{"CARDSEAL_DEMO_PASSWORD": "demo-password-1"}},
			want: []string{"demo_password                 (set)", "env CARDSEAL_DEMO_PASSWORD", "config ok"}},
		{name: "demo password too short", setup: setup{env: map[string]string{"CARDSEAL_DEMO_PASSWORD": "short"}}, want: []string{"problem: demo_password: "}, wantErr: true},
		{name: "sources", setup: setup{toml: "calendar = \"/etc/cal.toml\"\n", env: map[string]string{"CARDSEAL_CALENDAR": "", "CARDSEAL_ADDR": "127.0.0.1:9999"}},
			want: []string{"  addr   ", "127.0.0.1:9999", "env CARDSEAL_ADDR", "/etc/cal.toml", "http://127.0.0.1:9999", "key passphrase: CARDSEAL_KEY_PASSPHRASE", "config ok"}},
		{name: "typing error in an environment variable", setup: setup{env: map[string]string{"CARDSEAL_PUBLICURL": "https://x"}}, want: []string{"warning: environment variable CARDSEAL_PUBLICURL", "config ok"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, "case"+string(rune('a'+i)))
			if err := os.CopyFS(dir, os.DirFS(demo)); err != nil {
				t.Fatal(err)
			}
			if tc.setup.toml != "" {
				f, _ := os.OpenFile(filepath.Join(dir, "cardseal.toml"), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString(tc.setup.toml)
				f.Close()
			}
			for k, v := range tc.setup.env {
				t.Setenv(k, v)
			}
			if tc.setup.edit != nil {
				tc.setup.edit(t, dir)
			}
			code, stdout, stderr := cli(t, "config", "check", "--dir", dir)
			if (code != 0) != tc.wantErr {
				t.Fatalf("exit %d, want error %v\n%s%s", code, tc.wantErr, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
			if tc.wantErr && (!strings.Contains(stderr, "hint:") || strings.Contains(stdout, "config ok")) {
				t.Errorf("a failed check must end in error + hint:\n%s%s", stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "secret") || strings.Contains(stdout+stderr, "demo-password-1") || strings.Contains(stdout+stderr, "config-passphrase") {
				t.Errorf("a password leaked:\n%s%s", stdout, stderr)
			}
		})
	}
}
