// Package config owns cardseal's settings: the data directory's
// cardseal.toml, overridden by CARDSEAL_* environment variables, overridden
// by command-line flags; and where the key passphrase comes from.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/jilin-health/cardseal/keys"
)

// FileName is the config file inside the data directory.
const FileName = "cardseal.toml"

// Config holds every setting. Zero values mean "the default".
type Config struct {
	// Dir is the data directory (keys, SQLite database, config).
	Dir string `toml:"-"`
	// Addr is the HTTP listen address.
	Addr string `toml:"addr"`
	// DB is the database URL: a SQLite file path or sqlite:// URL, or a
	// postgres:// URL. Default: sqlite in the data directory.
	DB string `toml:"db"`
	// PublicURL is the base of the URLs printed in QR codes.
	PublicURL string `toml:"public_url"`
	// PassphraseFile holds the key passphrase (never inside Dir).
	PassphraseFile string `toml:"passphrase_file"`
	// TLSCert and TLSKey are PEM files of the server's TLS certificate
	// (with its intermediates) and private key; with both set, Addr serves
	// HTTPS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// RedirectHTTP, with TLS, is a second listen address that answers
	// plain HTTP with a redirect to HTTPS.
	RedirectHTTP string `toml:"redirect_http"`
	// Calendar is a working-day calendar file (holidays and adjusted
	// working days, workday/calendar.toml's format) for the Art. 19 time
	// limits; empty means the built-in one.
	Calendar string `toml:"calendar"`
}

// Defaults.
const (
	DefaultDir  = "cardseal-data"
	DefaultAddr = "127.0.0.1:8080"
)

// Load reads DIR/cardseal.toml if present and applies CARDSEAL_*
// environment variables. Flags are applied by the caller afterwards.
func Load(dir string) (*Config, error) {
	if dir == "" {
		dir = os.Getenv("CARDSEAL_DIR")
	}
	if dir == "" {
		dir = DefaultDir
	}
	c := &Config{Dir: dir}
	unknown, err := c.decodeFile()
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: unknown setting %s", c.File(), strings.Join(unknown, ", "))
	}
	c.applyEnv()
	return c, nil
}

// File returns the path of the config file.
func (c *Config) File() string { return filepath.Join(c.Dir, FileName) }

// decodeFile reads the config file if there is one and returns the
// settings it does not know, quoted.
func (c *Config) decodeFile() (unknown []string, err error) {
	b, err := os.ReadFile(c.File())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	md, err := toml.Decode(string(b), c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.File(), err)
	}
	for _, k := range md.Undecoded() {
		unknown = append(unknown, strconv.Quote(k.String()))
	}
	return unknown, nil
}

// envSettings maps each CARDSEAL_* variable to the setting it overrides.
func (c *Config) envSettings() map[string]*string {
	return map[string]*string{
		"CARDSEAL_ADDR":            &c.Addr,
		"CARDSEAL_DB":              &c.DB,
		"CARDSEAL_PUBLIC_URL":      &c.PublicURL,
		"CARDSEAL_PASSPHRASE_FILE": &c.PassphraseFile,
		"CARDSEAL_TLS_CERT":        &c.TLSCert,
		"CARDSEAL_CALENDAR":        &c.Calendar,
		"CARDSEAL_TLS_KEY":         &c.TLSKey,
		"CARDSEAL_REDIRECT_HTTP":   &c.RedirectHTTP,
	}
}

func (c *Config) applyEnv() {
	for env, p := range c.envSettings() {
		if v := os.Getenv(env); v != "" {
			*p = v
		}
	}
}

// Fill sets defaults for empty settings.
func (c *Config) Fill() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.Dir, "cardseal.db")
	}
	if c.PublicURL == "" {
		host := c.Addr
		if strings.HasPrefix(host, ":") {
			host = "127.0.0.1" + host
		}
		scheme := "http://"
		if c.TLS() {
			scheme = "https://"
		}
		c.PublicURL = scheme + host
	}
}

// TLS reports whether the server is to serve HTTPS (a certificate and a
// key are both set; Problems reports one without the other).
func (c *Config) TLS() bool { return c.TLSCert != "" && c.TLSKey != "" }

// Check validates the settings (after Fill): nil, or every problem
// Problems finds, joined.
func (c *Config) Check() error {
	var errs []error
	for _, p := range c.Problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// Problem is one thing wrong with the settings.
type Problem struct {
	Setting string // "public_url", "db", … or the file or variable at fault
	Msg     string
}

func (p Problem) Error() string { return p.Setting + ": " + p.Msg }

// Problems checks every setting's value and reports each problem found,
// not only the first. Empty addr and db mean their defaults; public_url
// must be set (Fill derives it from addr).
func (c *Config) Problems() []Problem {
	var out []Problem
	add := func(setting, format string, a ...any) {
		out = append(out, Problem{setting, fmt.Sprintf(format, a...)})
	}
	if c.Addr != "" {
		if _, port, err := net.SplitHostPort(c.Addr); err != nil {
			add("addr", "%q: want host:port (e.g. 127.0.0.1:8080)", c.Addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add("addr", "%q: port must be a number up to 65535", c.Addr)
		}
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		add("tls_key", "tls_cert is set but tls_key is not: give both, or neither for plain HTTP")
	case c.TLSKey != "" && c.TLSCert == "":
		add("tls_cert", "tls_key is set but tls_cert is not: give both, or neither for plain HTTP")
	}
	if c.TLSKey != "" && Inside(c.TLSKey, filepath.Join(c.Dir, "keys")) {
		add("tls_key", "%q lies inside the keys directory: keep the TLS key apart from the seal keys (e.g. /etc/cardseal/tls.key)", c.TLSKey)
	}
	if c.RedirectHTTP != "" {
		if !c.TLS() {
			add("redirect_http", "%q: a redirect to HTTPS needs tls_cert and tls_key", c.RedirectHTTP)
		} else if _, port, err := net.SplitHostPort(c.RedirectHTTP); err != nil {
			add("redirect_http", "%q: want host:port (e.g. 0.0.0.0:80)", c.RedirectHTTP)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add("redirect_http", "%q: port must be a number up to 65535", c.RedirectHTTP)
		}
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("public_url", "%q: want http(s)://host[:port]", c.PublicURL)
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		add("public_url", "%q: a base URL has no user, query or fragment", c.PublicURL)
	}
	if msg := dbProblem(c.DB); msg != "" {
		add("db", "%s", msg)
	}
	for setting, f := range map[string]string{"passphrase_file": c.PassphraseFile, "CARDSEAL_KEY_PASSPHRASE_FILE": os.Getenv("CARDSEAL_KEY_PASSPHRASE_FILE")} {
		if f != "" && Inside(f, c.Dir) {
			add(setting, "%q lies inside the data directory: keep it apart from the keys", f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Setting < out[j].Setting })
	return out
}

// dbProblem checks a database URL against what store.Open accepts:
// postgres:// or postgresql:// URLs with a host and database, sqlite: URLs
// and plain file paths.
func dbProblem(db string) string {
	scheme, _, found := strings.Cut(db, "://")
	switch {
	case db == "":
		return "" // the default: SQLite in the data directory
	case found && (scheme == "postgres" || scheme == "postgresql"):
		u, err := url.Parse(db)
		if err != nil {
			return fmt.Sprintf("not a URL: %v", redactErr(err))
		}
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return "a PostgreSQL URL needs a host and a database: postgres://user@host:5432/db?sslmode=…"
		}
	case found && scheme == "sqlite":
		if strings.TrimPrefix(db, "sqlite://") == "" {
			return "sqlite:// needs a file path"
		}
	case found:
		return fmt.Sprintf("unsupported scheme %q: use postgres://, postgresql://, sqlite:// or a file path", scheme)
	}
	return ""
}

// redactErr hides a URL (and its password) quoted in a parse error.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed"
}

// Inside reports whether path lies in dir or below it, comparing absolute
// paths with symbolic links resolved where they exist.
func Inside(path, dir string) bool {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return filepath.Clean(p)
		}
		if r, err := filepath.EvalSymlinks(a); err == nil {
			return r
		}
		// A file that does not exist yet: resolve its directory.
		if r, err := filepath.EvalSymlinks(filepath.Dir(a)); err == nil {
			return filepath.Join(r, filepath.Base(a))
		}
		return a
	}
	rel, err := filepath.Rel(abs(dir), abs(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Inspect loads the settings like Load and Fill, but instead of stopping
// at the first mistake reports every problem it finds: the config file's
// syntax and unknown settings, each value (Problems), and whether the key
// passphrase can be read. Warnings name CARDSEAL_* environment variables
// that cardseal does not read (a typing error there is silently ignored
// otherwise).
func Inspect(dir string) (c *Config, problems []Problem, warnings []string) {
	if dir == "" {
		dir = os.Getenv("CARDSEAL_DIR")
	}
	if dir == "" {
		dir = DefaultDir
	}
	c = &Config{Dir: dir}
	unknown, err := c.decodeFile()
	if err != nil {
		problems = append(problems, Problem{FileName, err.Error()})
	}
	for _, k := range unknown {
		problems = append(problems, Problem{FileName, "unknown setting " + k})
	}
	c.applyEnv()
	c.Fill()
	problems = append(problems, c.Problems()...)
	if _, err := c.Passphrase(); err != nil {
		problems = append(problems, Problem{"passphrase", err.Error()})
	} else if f := c.passphraseFile(); f != "" {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			problems = append(problems, Problem{"passphrase", fmt.Sprintf("%s is readable by other users (mode %v): chmod 600 it", f, fi.Mode().Perm())})
		}
	}
	known := map[string]bool{"CARDSEAL_DIR": true, "CARDSEAL_KEY_PASSPHRASE": true, "CARDSEAL_KEY_PASSPHRASE_FILE": true, "CARDSEAL_TEST_POSTGRES": true}
	for env := range c.envSettings() {
		known[env] = true
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CARDSEAL_") && !known[name] {
			warnings = append(warnings, fmt.Sprintf("environment variable %s is not a cardseal setting and is ignored", name))
		}
	}
	sort.Strings(warnings)
	return c, problems, warnings
}

// passphraseFile is the passphrase file in use, if any.
func (c *Config) passphraseFile() string {
	if c.PassphraseFile != "" {
		return c.PassphraseFile
	}
	return os.Getenv("CARDSEAL_KEY_PASSPHRASE_FILE")
}

// Save writes the config file.
func (c *Config) Save() error {
	var b strings.Builder
	b.WriteString("# cardseal settings; CARDSEAL_* environment variables and flags override them.\n")
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, FileName), []byte(b.String()), 0o644)
}

// DemoPassphraseFile is where a demo installation keeps its generated key
// passphrase: in the user's config directory, outside the data directory,
// named after the data directory's absolute path.
func DemoPassphraseFile(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "cardseal", "demo-passphrase-"+hex.EncodeToString(sum[:8])), nil
}

// Passphrase finds the key passphrase: the configured file, then
// CARDSEAL_KEY_PASSPHRASE(_FILE), then a demo installation's generated
// passphrase file.
func (c *Config) Passphrase() ([]byte, error) {
	p, err := keys.Passphrase(c.PassphraseFile)
	if err == nil || !errors.Is(err, keys.ErrNoPassphrase) {
		return p, err
	}
	f, ferr := DemoPassphraseFile(c.Dir)
	if ferr != nil {
		return nil, err
	}
	if b, rerr := os.ReadFile(f); rerr == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	return nil, err
}

// NewDemoPassphrase creates the demo passphrase file for dir, unless a
// passphrase is configured already; it returns the passphrase and the file
// it was written to ("" when configured).
func (c *Config) NewDemoPassphrase() ([]byte, string, error) {
	if p, err := keys.Passphrase(c.PassphraseFile); err == nil {
		return p, "", nil
	} else if !errors.Is(err, keys.ErrNoPassphrase) {
		return nil, "", err
	}
	f, err := DemoPassphraseFile(c.Dir)
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return nil, "", err
	}
	p := keys.NewPassphrase()
	if err := os.WriteFile(f, append(p, '\n'), 0o600); err != nil {
		return nil, "", err
	}
	return p, f, nil
}
