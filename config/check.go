package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with the settings.
type Problem struct {
	Setting string // "public_url", "db", … or the file or variable at fault
	Msg     string
}

func (p Problem) Error() string { return p.Setting + ": " + p.Msg }

// Check validates the settings: nil, or every problem Problems finds,
// joined.
func (s *Settings) Check() error {
	var errs []error
	for _, p := range s.Problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// Problems checks every setting's value and reports each problem found,
// not only the first.
func (s *Settings) Problems() []Problem {
	out := append([]Problem(nil), s.valErrs...)
	add := func(setting, format string, a ...any) {
		out = append(out, Problem{setting, fmt.Sprintf(format, a...)})
	}
	if msg := addrProblem(s.Addr, "127.0.0.1:8080"); msg != "" {
		add("addr", "%s", msg)
	}
	switch {
	case s.TLSCert != "" && s.TLSKey == "":
		add("tls_key", "tls_cert is set but tls_key is not: give both, or neither for plain HTTP")
	case s.TLSKey != "" && s.TLSCert == "":
		add("tls_cert", "tls_key is set but tls_cert is not: give both, or neither for plain HTTP")
	}
	if s.TLSKey != "" && Inside(s.TLSKey, filepath.Join(s.Dir, "keys")) {
		add("tls_key", "%q lies inside the keys directory: keep the TLS key apart from the seal keys (e.g. /etc/cardseal/tls.key)", s.TLSKey)
	}
	if s.RedirectHTTP != "" {
		if !s.TLS() {
			add("redirect_http", "%q: a redirect to HTTPS needs tls_cert and tls_key", s.RedirectHTTP)
		} else if msg := addrProblem(s.RedirectHTTP, "0.0.0.0:80"); msg != "" {
			add("redirect_http", "%s", msg)
		}
	}
	if s.MetricsAddr != "" {
		if msg := addrProblem(s.MetricsAddr, "127.0.0.1:9090"); msg != "" {
			add("metrics_addr", "%s", msg)
		} else if s.MetricsAddr == s.Addr {
			add("metrics_addr", "%q is the service's own address: give the metrics an address of their own", s.MetricsAddr)
		}
	}
	u, err := url.Parse(s.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("public_url", "%q: want http(s)://host[:port]", s.PublicURL)
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		add("public_url", "%q: a base URL has no user, query or fragment", s.PublicURL)
	}
	for _, key := range []string{"passphrase_file", "key_passphrase_file"} {
		if f := s.vals[key].raw; f != "" && Inside(f, s.Dir) {
			add(lookup(key).name(), "%q lies inside the data directory: keep it apart from the keys", f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Setting < out[j].Setting })
	return out
}

// addrProblem checks a host:port listen address.
func addrProblem(addr, example string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q: want host:port (e.g. %s)", addr, example)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port must be a number up to 65535", addr)
	}
	return ""
}

// Inspect binds the settings like Load but, instead of stopping at the
// first mistake, reports every problem it finds: the config file's syntax
// and unknown settings, each value (Problems), and whether the key
// passphrase can be read. Warnings name CARDSEAL_* environment variables
// that cardseal does not read (a typing error there is silently ignored
// otherwise).
func (f *Flags) Inspect() (s *Settings, problems []Problem, warnings []string) {
	s = f.bind()
	problems = append(problems, s.fileErrs...)
	problems = append(problems, s.Problems()...)
	if _, err := s.Passphrase(); err != nil {
		problems = append(problems, Problem{"passphrase", err.Error()})
	} else if file, _ := s.passphraseFile(); file != "" {
		if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
			problems = append(problems, Problem{"passphrase", fmt.Sprintf("%s is readable by other users (mode %v): chmod 600 it", file, fi.Mode().Perm())})
		}
	}
	known := knownEnv()
	for _, name := range sortedKeys(environ()) {
		if !known[name] {
			warnings = append(warnings, fmt.Sprintf("environment variable %s is not a cardseal setting and is ignored", name))
		}
	}
	return s, problems, warnings
}

// trimmed drops the line ending of a file's content.
func trimmed(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }
