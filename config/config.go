// Package config owns cardseal's settings: one Settings value, bound once
// to the data directory's cardseal.toml, the CARDSEAL_* environment
// variables and the command-line flags (each overriding the one before),
// which remembers where each value came from. The environment is read
// here and nowhere else; where the key passphrase comes from is decided
// here too (Passphrase). The table of settings (settings.go) is the one
// list of names: the file's keys, the variables, the flags and their help.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jilin-health/cardseal/store"
)

// FileName is the config file inside the data directory.
const FileName = "cardseal.toml"

// Defaults.
const (
	DefaultDir  = "cardseal-data"
	DefaultAddr = "127.0.0.1:8080"
)

// Source says where a setting's value came from.
type Source int

// The sources, each overriding the one before.
const (
	Default Source = iota
	File
	Env
	Flag
)

func (s Source) String() string {
	return [...]string{"default", "file", "env", "flag"}[s]
}

// Settings are cardseal's settings after binding. Load them with
// Flags.Load (or Flags.Inspect); the fields are filled, defaults included.
type Settings struct {
	// Dir is the data directory (keys, SQLite database, config file).
	Dir string
	// Addr is the HTTP listen address.
	Addr string
	// DB is the database, parsed once; zero when the URL does not
	// parse (Problems says why, Database returns the error).
	DB store.URL
	// PublicURL is the base of the URLs printed in QR codes.
	PublicURL string
	// TLSCert and TLSKey are PEM files of the server's TLS certificate
	// (with its intermediates) and private key; with both set, Addr
	// serves HTTPS.
	TLSCert, TLSKey string
	// RedirectHTTP, with TLS, is a second listen address that answers
	// plain HTTP with a redirect to HTTPS.
	RedirectHTTP string
	// MetricsAddr is the operator's listen address of /metrics; empty:
	// metrics are not served.
	MetricsAddr string
	// Calendar is a working-day calendar file for the Art. 19 time
	// limits; empty means the built-in one.
	Calendar string
	// Issuers is the issuer policy per card type, "type=level,…"
	// (lifecycle.ParseIssuers); empty means lifecycle.DefaultIssuers.
	Issuers string
	// Hotline is the complaint hotline (Art. 24); empty means
	// lifecycle.DefaultHotline.
	Hotline string
	// Windows is the CSV file of the service windows on the guide
	// (org.ParseWindows); empty: none.
	Windows string
	// TrustProxy takes client IPs from X-Forwarded-For.
	TrustProxy bool
	// TSAMaxDrift is the allowed difference between this server's clock
	// and the reference clock (the database's) at which the platform's
	// time-stamping authority still issues timestamps.
	TSAMaxDrift time.Duration
	// PassphraseFile holds the key passphrase (never inside Dir).
	PassphraseFile string
	// DemoPassword is the password of the demo staff users a new
	// registry gets ("" for a random one).
	DemoPassword string

	keyPassphraseFile string // CARDSEAL_KEY_PASSPHRASE_FILE
	keyPassphrase     string // CARDSEAL_KEY_PASSPHRASE

	vals     map[string]value
	fileErrs []Problem // the config file's syntax and unknown settings
	valErrs  []Problem // values that do not parse (db, trust_proxy)
	dbErr    error
}

// value is a setting's raw value and where it came from.
type value struct {
	raw    string
	src    Source
	origin string // the file, the variable or the flag
}

// Flags are the command-line flags of some settings, registered on a
// command's flag set by AddFlags. A nil *Flags is a command without them.
type Flags struct {
	vals map[string]*flagValue
}

type flagValue struct {
	s     *setting
	v     string
	isSet bool
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.v
}

func (f *flagValue) Set(v string) error {
	if f.s.boolean {
		if _, err := strconv.ParseBool(v); err != nil {
			return errors.New("want true or false")
		}
	}
	f.v, f.isSet = v, true
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f.s.boolean }

// AddFlags registers on fs the flag of each named setting (settings.go),
// with its help text. It panics on a setting without a flag: that is a
// mistake in the command table.
func AddFlags(fs *flag.FlagSet, keys ...string) *Flags {
	f := &Flags{vals: map[string]*flagValue{}}
	for _, k := range keys {
		s := lookup(k)
		if s == nil || s.flag == "" {
			panic("config: no flag for setting " + strconv.Quote(k))
		}
		v := &flagValue{s: s}
		fs.Var(v, s.flag, s.flagUsage())
		f.vals[k] = v
	}
	return f
}

// Load binds the settings: defaults, then the config file, then the
// environment, then the flags given. A config file that does not parse
// or names an unknown setting is an error; values are not checked (see
// Check).
func (f *Flags) Load() (*Settings, error) {
	s := f.bind()
	if len(s.fileErrs) > 0 {
		errs := make([]error, len(s.fileErrs))
		for i, p := range s.fileErrs {
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func (f *Flags) bind() *Settings {
	env := environ()
	s := &Settings{vals: map[string]value{}}
	flagged := func(key string) (value, bool) {
		if f == nil || f.vals[key] == nil || !f.vals[key].isSet {
			return value{}, false
		}
		return value{f.vals[key].v, Flag, "--" + f.vals[key].s.flag}, true
	}
	// The data directory first: the file is in it.
	dir := value{DefaultDir, Default, ""}
	if v := env["CARDSEAL_DIR"]; v != "" {
		dir = value{v, Env, "CARDSEAL_DIR"}
	}
	if v, ok := flagged("dir"); ok {
		dir = v
	}
	s.vals["dir"] = dir
	s.Dir = dir.raw

	s.readFile()
	for i := range table {
		t := &table[i]
		if t.env != "" && t.key != "dir" && env[t.env] != "" {
			s.vals[t.key] = value{env[t.env], Env, t.env}
		}
		if v, ok := flagged(t.key); ok {
			s.vals[t.key] = v
		}
	}
	s.resolve()
	return s
}

// readFile reads DIR/cardseal.toml if there is one.
func (s *Settings) readFile() {
	b, err := os.ReadFile(s.File())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.fileErrs = append(s.fileErrs, Problem{FileName, err.Error()})
		return
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		s.fileErrs = append(s.fileErrs, Problem{FileName, fmt.Sprintf("%s: %v", s.File(), err)})
		return
	}
	for _, k := range sortedKeys(m) {
		t := lookup(k)
		if t == nil || !t.inFile {
			s.fileErrs = append(s.fileErrs, Problem{FileName, "unknown setting " + strconv.Quote(k)})
			continue
		}
		var raw string
		ok := false
		switch v := m[k].(type) {
		case string:
			raw, ok = v, !t.boolean
		case bool:
			raw, ok = strconv.FormatBool(v), t.boolean
		}
		if !ok {
			want := "a string"
			if t.boolean {
				want = "true or false"
			}
			s.fileErrs = append(s.fileErrs, Problem{FileName, fmt.Sprintf("%s: want %s", k, want)})
			continue
		}
		s.vals[k] = value{raw, File, s.File()}
	}
}

// resolve sets the typed fields from the raw values, with the defaults.
func (s *Settings) resolve() {
	get := func(k string) string { return s.vals[k].raw }
	s.Addr = get("addr")
	if s.Addr == "" {
		s.Addr = DefaultAddr
		s.vals["addr"] = value{DefaultAddr, Default, ""}
	}
	s.TLSCert, s.TLSKey, s.RedirectHTTP = get("tls_cert"), get("tls_key"), get("redirect_http")
	s.MetricsAddr, s.Issuers = get("metrics_addr"), get("issuers")
	s.Hotline, s.Windows = get("hotline"), get("windows")
	s.Calendar, s.PassphraseFile, s.DemoPassword = get("calendar"), get("passphrase_file"), get("demo_password")
	s.keyPassphraseFile, s.keyPassphrase = get("key_passphrase_file"), get("key_passphrase")
	if _, ok := s.vals["trust_proxy"]; !ok {
		s.vals["trust_proxy"] = value{"false", Default, ""}
	}
	if v := s.vals["trust_proxy"]; v.src != Default {
		b, err := strconv.ParseBool(v.raw)
		if err != nil {
			s.valErrs = append(s.valErrs, Problem{"trust_proxy", fmt.Sprintf("%q (from %s): want true or false", v.raw, v.from())})
		}
		s.TrustProxy = b
	}
	s.TSAMaxDrift = 2 * time.Second
	if v, ok := s.vals["tsa_max_drift"]; ok && v.raw != "" {
		d, err := time.ParseDuration(v.raw)
		if err != nil || d <= 0 || d > time.Hour {
			s.valErrs = append(s.valErrs, Problem{"tsa_max_drift", fmt.Sprintf("%q (from %s): want a duration such as 2s or 500ms, more than 0 and at most 1h", v.raw, v.from())})
		} else {
			s.TSAMaxDrift = d
		}
	} else {
		s.vals["tsa_max_drift"] = value{"2s", Default, ""}
	}
	db, ok := s.vals["db"]
	if !ok || db.raw == "" {
		db = value{filepath.Join(s.Dir, "cardseal.db"), Default, ""}
		s.vals["db"] = db
	}
	if s.DB, s.dbErr = store.ParseURL(db.raw); s.dbErr != nil {
		s.valErrs = append(s.valErrs, Problem{"db", strings.TrimPrefix(s.dbErr.Error(), store.ErrInvalid.Error()+": ")})
	}
	s.PublicURL = get("public_url")
	s.derivePublicURL()
}

// derivePublicURL sets the default public URL from the listen address.
func (s *Settings) derivePublicURL() {
	if v := s.vals["public_url"]; v.raw != "" && v.src != Default {
		return
	}
	host := s.Addr
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	scheme := "http://"
	if s.TLS() {
		scheme = "https://"
	}
	s.PublicURL = scheme + host
	s.vals["public_url"] = value{s.PublicURL, Default, ""}
}

// Listening records the address the server listens on (a port of 0 is
// now the real one); a public URL that was not given follows it.
func (s *Settings) Listening(addr string) {
	s.Addr = addr
	s.derivePublicURL()
}

// Database returns the parsed database URL, or why it did not parse.
func (s *Settings) Database() (store.URL, error) {
	if s.dbErr != nil {
		return store.URL{}, fmt.Errorf("db %s: %w", s.vals["db"].from(), s.dbErr)
	}
	return s.DB, nil
}

// Source returns where a setting's value came from, and the file,
// variable or flag it came from ("" for a default).
func (s *Settings) Source(key string) (Source, string) {
	v := s.vals[key]
	return v.src, v.origin
}

// from names where a value came from, for messages.
func (v value) from() string {
	if v.src == Default {
		return "default"
	}
	return v.origin
}

// File returns the path of the config file.
func (s *Settings) File() string { return filepath.Join(s.Dir, FileName) }

// TLS reports whether the server is to serve HTTPS (a certificate and a
// key are both set; Problems reports one without the other).
func (s *Settings) TLS() bool { return s.TLSCert != "" && s.TLSKey != "" }

// Save writes the config file of a new data directory: the settings that
// came from the file, and with fromFlags those given as flags (init
// --public-url). Values from the environment are never written: they
// keep overriding the file. An existing file with nothing to add is left
// as it is.
func (s *Settings) Save(fromFlags bool) error {
	m := map[string]any{}
	added := false
	for _, t := range table {
		v, ok := s.vals[t.key]
		if !ok || !t.inFile || !(v.src == File || fromFlags && v.src == Flag) {
			continue
		}
		added = added || v.src == Flag
		if t.boolean {
			m[t.key] = v.raw == "true"
		} else {
			m[t.key] = v.raw
		}
	}
	if _, err := os.Stat(s.File()); err == nil && !added {
		return nil
	}
	var b strings.Builder
	b.WriteString("# cardseal settings; CARDSEAL_* environment variables and flags override them.\n")
	if err := toml.NewEncoder(&b).Encode(m); err != nil {
		return err
	}
	return os.WriteFile(s.File(), []byte(b.String()), 0o644)
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
