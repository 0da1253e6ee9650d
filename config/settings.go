package config

import (
	"maps"
	"os"
	"slices"
	"strings"
)

// setting is one row of the table: a setting's key in cardseal.toml (and
// in reports), its environment variable, its flag, and its help.
type setting struct {
	key     string
	env     string // "" for none
	flag    string // "" for none
	inFile  bool   // may be set in cardseal.toml
	secret  bool   // never shown
	boolean bool
	usage   string
	def     string // the default, as the help shows it
}

// table lists every setting, in the order reports show them.
var table = []setting{
	{key: "dir", env: "CARDSEAL_DIR", flag: "dir", def: DefaultDir,
		usage: "data directory: keys, SQLite database, cardseal.toml"},
	{key: "addr", env: "CARDSEAL_ADDR", flag: "addr", inFile: true, def: DefaultAddr,
		usage: "listen address, host:port"},
	{key: "db", env: "CARDSEAL_DB", flag: "db", inFile: true, def: "DIR/cardseal.db",
		usage: "database URL: postgres://user@host:5432/db?sslmode=…, sqlite://FILE or a SQLite file path"},
	{key: "public_url", env: "CARDSEAL_PUBLIC_URL", flag: "public-url", inFile: true, def: "http://ADDR, https:// with TLS",
		usage: "base URL printed in QR codes, the address phones reach the server at"},
	{key: "tls_cert", env: "CARDSEAL_TLS_CERT", flag: "tls-cert", inFile: true,
		usage: "PEM file of the TLS certificate (and intermediates): serve HTTPS (needs tls_key)"},
	{key: "tls_key", env: "CARDSEAL_TLS_KEY", flag: "tls-key", inFile: true,
		usage: "PEM file of the TLS private key, not inside DIR/keys"},
	{key: "redirect_http", env: "CARDSEAL_REDIRECT_HTTP", flag: "redirect-http", inFile: true,
		usage: "with TLS: also listen on this address for plain HTTP and redirect every request to HTTPS, e.g. 0.0.0.0:80"},
	{key: "metrics_addr", env: "CARDSEAL_METRICS_ADDR", flag: "metrics-addr", inFile: true, def: "none",
		usage: "operator-only address that serves Prometheus /metrics, e.g. 127.0.0.1:9090 (the public address never does)"},
	{key: "calendar", env: "CARDSEAL_CALENDAR", flag: "calendar", inFile: true, def: "the built-in one",
		usage: "working-day calendar file for the Art. 19 time limits"},
	{key: "issuers", env: "CARDSEAL_ISSUERS", flag: "issuers", inFile: true, def: "first=township,second=township,rebirth=county",
		usage: "who issues each card type (发证机关), type=level pairs: the township (Art. 3) or the county (Art. 6); the seals stay village → township → county"},
	{key: "hotline", env: "CARDSEAL_HOTLINE", flag: "hotline", inFile: true, def: "0431-12356",
		usage: "complaint hotline (Art. 24) on the guide, the public pages and every notice"},
	{key: "windows", env: "CARDSEAL_WINDOWS", flag: "windows", inFile: true, def: "none: the guide names no window",
		usage: "CSV file of the county and township windows' consultation address and phone for the guide (docs/service-windows.md)"},
	{key: "tsa_max_drift", env: "CARDSEAL_TSA_MAX_DRIFT", flag: "tsa-max-drift", inFile: true, def: "2s",
		usage: "largest difference between this server's clock and the database's at which the time-stamping authority still issues timestamps (and seals); beyond it both stop and an error is logged"},
	{key: "trust_proxy", env: "CARDSEAL_TRUST_PROXY", flag: "trust-proxy", inFile: true, boolean: true, def: "false",
		usage: "take client IPs from X-Forwarded-For (only behind a reverse proxy that overwrites it)"},
	{key: "passphrase_file", env: "CARDSEAL_PASSPHRASE_FILE", inFile: true,
		usage: "file holding the key passphrase, never inside the data directory"},
	{key: "key_passphrase_file", env: "CARDSEAL_KEY_PASSPHRASE_FILE",
		usage: "as passphrase_file (used when that is not set)"},
	{key: "key_passphrase", env: "CARDSEAL_KEY_PASSPHRASE", secret: true,
		usage: "the key passphrase itself"},
	{key: "demo_password", env: "CARDSEAL_DEMO_PASSWORD", flag: "demo-password", secret: true, def: "random, printed once",
		usage: "password of the demo staff users created on a registry without staff"},
}

func lookup(key string) *setting {
	for i := range table {
		if table[i].key == key {
			return &table[i]
		}
	}
	return nil
}

// name is how messages name the setting: its key where the file or a
// flag knows it, else its environment variable.
func (s *setting) name() string {
	if s.inFile || s.flag != "" {
		return s.key
	}
	return s.env
}

// flagUsage is the help of the setting's flag: what it is and what
// applies when the flag is not given.
func (s *setting) flagUsage() string {
	var else_ []string
	if s.env != "" {
		else_ = append(else_, "$"+s.env)
	}
	if s.inFile {
		else_ = append(else_, s.key+" in cardseal.toml")
	}
	if s.def != "" {
		else_ = append(else_, s.def)
	}
	if len(else_) == 0 {
		return s.usage
	}
	return s.usage + " (default " + strings.Join(else_, ", else ") + ")"
}

// knownEnv is every CARDSEAL_* variable cardseal reads.
func knownEnv() map[string]bool {
	known := map[string]bool{"CARDSEAL_TEST_POSTGRES": true}
	for _, t := range table {
		if t.env != "" {
			known[t.env] = true
		}
	}
	return known
}

// environ reads the CARDSEAL_* environment: the one place cardseal reads
// its environment.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CARDSEAL_") {
			env[k] = v
		}
	}
	return env
}

// Entry is one line of Report.
type Entry struct {
	Setting string // key, or the variable of an environment-only setting
	Value   string // "" when not set; secrets show as "(set)"
	Source  Source
	Origin  string // the file, variable or flag; "" for a default
}

// Report lists every setting with its value and where it came from.
// Secrets are not shown; the database URL is shown without its password.
func (s *Settings) Report() []Entry {
	var out []Entry
	for _, t := range table {
		v := s.vals[t.key]
		e := Entry{Setting: t.name(), Value: v.raw, Source: v.src, Origin: v.origin}
		switch {
		case t.secret && v.raw != "":
			e.Value = "(set)"
		case t.key == "db" && s.dbErr == nil:
			e.Value = s.DB.String()
		case t.key == "db":
			e.Value = "(does not parse)"
		case t.key == "public_url":
			e.Value = s.PublicURL
		}
		out = append(out, e)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
