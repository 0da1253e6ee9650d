package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jilin-health/cardseal/keys"
)

// ErrPassphraseInside: the passphrase file lies beside the keys it
// unlocks.
var ErrPassphraseInside = errors.New("passphrase file kept beside the keys")

// passphraseFile is the passphrase file in use, if any, and the setting
// that names it: passphrase_file, else CARDSEAL_KEY_PASSPHRASE_FILE.
func (s *Settings) passphraseFile() (file, from string) {
	if s.PassphraseFile != "" {
		return s.PassphraseFile, s.vals["passphrase_file"].from()
	}
	if s.keyPassphraseFile != "" {
		return s.keyPassphraseFile, "CARDSEAL_KEY_PASSPHRASE_FILE"
	}
	return "", ""
}

// configured returns the passphrase the settings give, ErrNoPassphrase
// when they give none.
func (s *Settings) configured() ([]byte, error) {
	if file, _ := s.passphraseFile(); file != "" {
		return keys.ReadPassphrase(file)
	}
	if s.keyPassphrase != "" {
		return []byte(s.keyPassphrase), nil
	}
	return nil, keys.ErrNoPassphrase
}

// Passphrase finds the key passphrase: the file of passphrase_file, else
// that of CARDSEAL_KEY_PASSPHRASE_FILE, else CARDSEAL_KEY_PASSPHRASE, else
// a demo installation's generated passphrase file.
func (s *Settings) Passphrase() ([]byte, error) {
	p, err := s.configured()
	if err == nil || !errors.Is(err, keys.ErrNoPassphrase) {
		return p, err
	}
	if p, ok := demoPassphrase(s.Dir); ok {
		return p, nil
	}
	return nil, err
}

// demoPassphrase reads the generated passphrase of the demo data
// directory dir (DemoPassphraseFile); ok is false when there is none.
func demoPassphrase(dir string) (p []byte, ok bool) {
	f, err := DemoPassphraseFile(dir)
	if err != nil {
		return nil, false
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, false
	}
	return trimmed(b), true
}

// PassphraseSource says where Passphrase looks first: a file (and the
// setting naming it), the environment, or the demo file.
func (s *Settings) PassphraseSource() string {
	if file, from := s.passphraseFile(); file != "" {
		return fmt.Sprintf("file %s (from %s)", file, from)
	}
	if s.keyPassphrase != "" {
		return "CARDSEAL_KEY_PASSPHRASE"
	}
	if f, err := DemoPassphraseFile(s.Dir); err == nil {
		if _, err := os.Stat(f); err == nil {
			return "demo file " + f
		}
	}
	return "none"
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

// NewDemoPassphrase creates the demo passphrase file for the data
// directory, unless a passphrase is configured already; it returns the
// passphrase and the file it was written to ("" when configured).
func (s *Settings) NewDemoPassphrase() ([]byte, string, error) {
	if p, err := s.configured(); err == nil {
		return p, "", nil
	} else if !errors.Is(err, keys.ErrNoPassphrase) {
		return nil, "", err
	}
	f, err := DemoPassphraseFile(s.Dir)
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

// OfflinePassphrase is the passphrase of the province root key on the
// offline CA machine, which has no config file: the file named by
// CARDSEAL_KEY_PASSPHRASE_FILE, which must not lie in the CA directory,
// else CARDSEAL_KEY_PASSPHRASE, else — when the CA directory is a demo
// data directory's keys/, whose root key is on the server — the demo
// passphrase that serve finds (demoPassphrase).
func OfflinePassphrase(caDir string) ([]byte, error) {
	env := environ()
	if f := env["CARDSEAL_KEY_PASSPHRASE_FILE"]; f != "" {
		if Inside(f, caDir) {
			return nil, fmt.Errorf("%w: %s lies inside the CA directory %s", ErrPassphraseInside, f, caDir)
		}
		return keys.ReadPassphrase(f)
	}
	if p := env["CARDSEAL_KEY_PASSPHRASE"]; p != "" {
		return []byte(p), nil
	}
	if filepath.Base(filepath.Clean(caDir)) == "keys" {
		if p, ok := demoPassphrase(filepath.Dir(filepath.Clean(caDir))); ok {
			return p, nil
		}
	}
	return nil, keys.ErrNoPassphrase
}
