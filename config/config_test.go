package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
)

// clearEnv unsets every variable cardseal reads, for the test, and points
// the user's config directory (demo passphrases) at a new directory.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, s := range table {
		if s.env != "" {
			t.Setenv(s.env, "")
		}
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
}

// bind parses a command line with the flags of every setting that has
// one, as a command would, and inspects the result.
func bind(t *testing.T, args ...string) (*Settings, []Problem, []string) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var keys []string
	for _, s := range table {
		if s.flag != "" {
			keys = append(keys, s.key)
		}
	}
	f := AddFlags(fs, keys...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Inspect()
}

func writeFile(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

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

// TestSources: each value comes from the flag, else the environment, else
// the file, else the default, and the settings say which.
func TestSources(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	writeFile(t, dir, "addr = \"127.0.0.1:9000\"\npublic_url = \"https://file.example\"\ncalendar = \"/etc/cardseal/calendar.toml\"\ntrust_proxy = true\n")
	t.Setenv("CARDSEAL_PUBLIC_URL", "https://env.example")
	t.Setenv("CARDSEAL_CALENDAR", "/env/calendar.toml")
	t.Setenv("CARDSEAL_DEMO_PASSWORD", "demo-password-1")
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "not shown")
	s, problems, warnings := bind(t, "--dir", dir, "--calendar", "/flag/calendar.toml")
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	for _, p := range problems {
		if p.Setting != "passphrase" { // there is no keystore here; the rest is sound
			t.Errorf("problem: %v", p)
		}
	}
	want := map[string]struct {
		value  string
		src    Source
		origin string
	}{
		"dir":                     {dir, Flag, "--dir"},
		"addr":                    {"127.0.0.1:9000", File, filepath.Join(dir, FileName)},
		"db":                      {filepath.Join(dir, "cardseal.db"), Default, ""},
		"public_url":              {"https://env.example", Env, "CARDSEAL_PUBLIC_URL"},
		"calendar":                {"/flag/calendar.toml", Flag, "--calendar"},
		"trust_proxy":             {"true", File, filepath.Join(dir, FileName)},
		"tls_cert":                {"", Default, ""},
		"demo_password":           {"(set)", Env, "CARDSEAL_DEMO_PASSWORD"},
		"CARDSEAL_KEY_PASSPHRASE": {"(set)", Env, "CARDSEAL_KEY_PASSPHRASE"},
	}
	seen := 0
	for _, e := range s.Report() {
		w, ok := want[e.Setting]
		if !ok {
			continue
		}
		seen++
		if e.Value != w.value || e.Source != w.src || e.Origin != w.origin {
			t.Errorf("%s = %q from %v %q, want %q from %v %q", e.Setting, e.Value, e.Source, e.Origin, w.value, w.src, w.origin)
		}
	}
	if seen != len(want) {
		t.Errorf("report has %d of the %d settings looked for: %+v", seen, len(want), s.Report())
	}
	if s.Calendar != "/flag/calendar.toml" || !s.TrustProxy || s.PublicURL != "https://env.example" || s.DemoPassword != "demo-password-1" ||
		s.DB.Backend != store.SQLite || s.DB.Path != filepath.Join(dir, "cardseal.db") {
		t.Errorf("typed settings: %+v", s)
	}
	for _, e := range s.Report() {
		if strings.Contains(e.Value, "not shown") || strings.Contains(e.Value, "demo-password-1") {
			t.Errorf("a secret is in the report: %+v", e)
		}
	}
}

// TestDemoPasswordEnvironment: CARDSEAL_DEMO_PASSWORD is a setting (serve
// reads it), so config check neither warns about it nor ignores it.
func TestDemoPasswordEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("CARDSEAL_DEMO_PASSWORD", "from-the-environment")
	s, _, warnings := bind(t, "--dir", t.TempDir())
	if len(warnings) != 0 || s.DemoPassword != "from-the-environment" {
		t.Fatalf("warnings %v, demo password %q", warnings, s.DemoPassword)
	}
	s, _, _ = bind(t, "--dir", t.TempDir(), "--demo-password", "from-the-flag")
	if src, origin := s.Source("demo_password"); s.DemoPassword != "from-the-flag" || src != Flag || origin != "--demo-password" {
		t.Fatalf("flag: %q %v %q", s.DemoPassword, src, origin)
	}
	t.Setenv("CARDSEAL_DEMOPASSWORD", "typo")
	if _, _, warnings = bind(t, "--dir", t.TempDir()); len(warnings) != 1 || !strings.Contains(warnings[0], "CARDSEAL_DEMOPASSWORD") {
		t.Fatalf("a mistyped variable: %v", warnings)
	}
}

func TestProblems(t *testing.T) {
	clearEnv(t)
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "p") // no passphrase problem
	d := t.TempDir()
	tests := []struct {
		name string
		args []string
		want []string // settings at fault, sorted
	}{
		{"defaults", nil, nil},
		{"postgres", []string{"--public-url", "https://cards.example.cn/check", "--db", "postgresql://u@h:5432/db?sslmode=require", "--addr", ":8443"}, nil},
		{"sqlite URL", []string{"--db", "sqlite:///var/lib/cardseal/c.db"}, nil},
		{"everything wrong", []string{"--public-url", "cards.example.cn", "--db", "mysql://u@h/db", "--addr", "localhost:http", "--trust-proxy=false"}, []string{"addr", "db", "public_url"}},
		{"postgres without database", []string{"--db", "postgres://u:pw@h:5432"}, []string{"db"}},
		{"public_url with query", []string{"--public-url", "https://x/?a=1"}, []string{"public_url"}},
		{"empty sqlite", []string{"--db", "sqlite://"}, []string{"db"}},
		{"TLS halves", []string{"--tls-cert", "/etc/c.pem"}, []string{"tls_key"}},
		{"redirect without TLS", []string{"--redirect-http", ":80"}, []string{"redirect_http"}},
		{"metrics address", []string{"--metrics-addr", "127.0.0.1:9090"}, nil},
		{"metrics address malformed", []string{"--metrics-addr", "localhost"}, []string{"metrics_addr"}},
		{"metrics on the service's address", []string{"--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080"}, []string{"metrics_addr"}},
		{"TLS key among the seal keys", []string{"--tls-cert", "/etc/c.pem", "--tls-key", filepath.Join(d, "keys", "tls.key")}, []string{"tls_key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, problems, _ := bind(t, append([]string{"--dir", d}, tc.args...)...)
			var got []string
			for _, p := range problems {
				got = append(got, p.Setting)
				if strings.Contains(p.Msg, ":pw@") {
					t.Errorf("password in %q", p.Msg)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("problems in %v, want %v: %v", got, tc.want, problems)
			}
			if (s.Check() == nil) != (len(tc.want) == 0) {
				t.Fatalf("Check() = %v", s.Check())
			}
			if _, err := s.Database(); (err == nil) == strings.Contains(strings.Join(tc.want, ","), "db") {
				t.Fatalf("Database() = %v", err)
			}
		})
	}
	// The passphrase files, and a boolean that is not one.
	t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", filepath.Join(d, "pass"))
	t.Setenv("CARDSEAL_TRUST_PROXY", "yes")
	writeFile(t, d, "passphrase_file = \""+filepath.Join(d, "keys", "pass")+"\"\n")
	_, problems, _ := bind(t, "--dir", d)
	var got []string
	for _, p := range problems {
		got = append(got, p.Setting)
	}
	if strings.Join(got, ",") != "CARDSEAL_KEY_PASSPHRASE_FILE,passphrase_file,trust_proxy,passphrase" {
		t.Fatalf("problems: %v", problems)
	}
}

func TestFileProblems(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	fl := func() *Flags {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f := AddFlags(fs, "dir")
		if err := fs.Parse([]string{"--dir", dir}); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct{ file, want string }{
		{"pubic_url = \"https://x\"\n", `unknown setting "pubic_url"`},
		{"key_passphrase = \"secret\"\n", `unknown setting "key_passphrase"`}, // never in the file
		{"dir = \"/elsewhere\"\n", `unknown setting "dir"`},
		{"addr = 8080\n", "addr: want a string"},
		{"trust_proxy = \"yes\"\n", "trust_proxy: want true or false"},
		{"addr = \n", "cardseal.toml"},
	} {
		writeFile(t, dir, tc.file)
		if _, err := fl().Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
}

// TestSave: init writes what the file and its flags gave, never what the
// environment gave; an existing file with nothing new is left alone.
func TestSave(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv("CARDSEAL_DB", "postgres://u:secret@h:5432/db")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := AddFlags(fs, "dir", "public_url", "trust_proxy")
	if err := fs.Parse([]string{"--dir", dir, "--public-url", "https://cards.example.cn", "--trust-proxy"}); err != nil {
		t.Fatal(err)
	}
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.File())
	if !strings.Contains(string(b), `public_url = "https://cards.example.cn"`) || !strings.Contains(string(b), "trust_proxy = true") || strings.Contains(string(b), "secret") {
		t.Fatalf("saved:\n%s", b)
	}
	writeFile(t, dir, "# the operator's comment\naddr = \"0.0.0.0:8080\"\n")
	s, err = (*Flags)(nil).Load() // CARDSEAL_DIR unset: the default directory
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CARDSEAL_DIR", dir)
	if s, err = (*Flags)(nil).Load(); err != nil || s.Save(false) != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s.File()); !strings.Contains(string(b), "the operator's comment") {
		t.Fatalf("an existing file was rewritten:\n%s", b)
	}
}

// TestPassphraseOrder: passphrase_file, then CARDSEAL_KEY_PASSPHRASE_FILE,
// then CARDSEAL_KEY_PASSPHRASE, then a demo installation's file.
func TestPassphraseOrder(t *testing.T) {
	clearEnv(t)
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	file := func(name, content string) string {
		f := filepath.Join(base, name)
		os.WriteFile(f, []byte(content+"\n"), 0o600)
		return f
	}
	load := func() *Settings {
		s, _, _ := bind(t, "--dir", dir)
		return s
	}
	if _, err := load().Passphrase(); !errors.Is(err, keys.ErrNoPassphrase) {
		t.Fatalf("nothing configured: %v", err)
	}
	p, demoFile, err := load().NewDemoPassphrase()
	if err != nil || demoFile == "" {
		t.Fatal(demoFile, err)
	}
	check := func(step, want, source string) {
		t.Helper()
		s := load()
		got, err := s.Passphrase()
		if err != nil || string(got) != want || !strings.Contains(s.PassphraseSource(), source) {
			t.Fatalf("%s: %q %v from %s; want %q from %s", step, got, err, s.PassphraseSource(), want, source)
		}
	}
	check("demo", string(p), "demo file")
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "from-env")
	check("environment", "from-env", "CARDSEAL_KEY_PASSPHRASE")
	t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", file("key-file", "from-key-file"))
	check("CARDSEAL_KEY_PASSPHRASE_FILE", "from-key-file", "from CARDSEAL_KEY_PASSPHRASE_FILE")
	writeFile(t, dir, "passphrase_file = \""+file("conf-file", "from-config")+"\"\n")
	check("passphrase_file", "from-config", "from "+filepath.Join(dir, FileName))
	// A configured file that cannot be read is an error, not a fallback.
	writeFile(t, dir, "passphrase_file = \""+filepath.Join(base, "missing")+"\"\n")
	if _, err := load().Passphrase(); err == nil {
		t.Fatal("an unreadable passphrase file fell back to another source")
	}
	if _, f, err := load().NewDemoPassphrase(); err == nil || f != "" {
		t.Fatalf("a new demo passphrase despite a configured file: %q %v", f, err)
	}
}

func TestOfflinePassphrase(t *testing.T) {
	clearEnv(t)
	ca := t.TempDir()
	if _, err := OfflinePassphrase(ca); !errors.Is(err, keys.ErrNoPassphrase) {
		t.Fatalf("none: %v", err)
	}
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "typed")
	if p, err := OfflinePassphrase(ca); err != nil || string(p) != "typed" {
		t.Fatalf("environment: %q %v", p, err)
	}
	inside := filepath.Join(ca, "pass")
	os.WriteFile(inside, []byte("beside the root key\n"), 0o600)
	t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", inside)
	if _, err := OfflinePassphrase(ca); !errors.Is(err, ErrPassphraseInside) {
		t.Fatalf("a file in the CA directory: %v", err)
	}
	// A demo data directory's keys/ (its root key on the server) unlocks
	// with the demo passphrase serve finds; another directory does not.
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "")
	t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", "")
	data := t.TempDir()
	f, err := DemoPassphraseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(f), 0o700)
	os.WriteFile(f, []byte("generated\n"), 0o600)
	if p, err := OfflinePassphrase(filepath.Join(data, "keys")); err != nil || string(p) != "generated" {
		t.Fatalf("demo keys directory: %q %v", p, err)
	}
	if _, err := OfflinePassphrase(ca); !errors.Is(err, keys.ErrNoPassphrase) {
		t.Fatalf("a CA directory read the demo passphrase: %v", err)
	}
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "typed")
	// The server's settings are not read on the offline machine.
	t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", "")
	t.Setenv("CARDSEAL_PASSPHRASE_FILE", inside)
	if p, err := OfflinePassphrase(ca); err != nil || string(p) != "typed" {
		t.Fatalf("CARDSEAL_PASSPHRASE_FILE was read: %q %v", p, err)
	}
}

// TestListening: a public URL that was not given follows the address the
// server really listens on; one that was given stays.
func TestListening(t *testing.T) {
	clearEnv(t)
	s, _, _ := bind(t, "--dir", t.TempDir(), "--addr", "127.0.0.1:0")
	s.Listening("127.0.0.1:43210")
	if s.PublicURL != "http://127.0.0.1:43210" {
		t.Fatalf("derived: %s", s.PublicURL)
	}
	s, _, _ = bind(t, "--dir", t.TempDir(), "--addr", ":0", "--public-url", "https://cards.example.cn")
	s.Listening("[::]:43210")
	if s.PublicURL != "https://cards.example.cn" {
		t.Fatalf("given: %s", s.PublicURL)
	}
}

// TestFlagUsage: every flag's help names its variable, its key in the
// file and its default, from the one table.
func TestFlagUsage(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	AddFlags(fs, "addr", "demo_password")
	if u := fs.Lookup("addr").Usage; !strings.Contains(u, "$CARDSEAL_ADDR") || !strings.Contains(u, "addr in cardseal.toml") || !strings.Contains(u, DefaultAddr) {
		t.Errorf("addr: %s", u)
	}
	if u := fs.Lookup("demo-password").Usage; !strings.Contains(u, "$CARDSEAL_DEMO_PASSWORD") || strings.Contains(u, "cardseal.toml") {
		t.Errorf("demo-password: %s", u)
	}
	defer func() {
		if recover() == nil {
			t.Error("a flag for a setting without one was registered")
		}
	}()
	AddFlags(fs, "key_passphrase")
}
