package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/templates"
)

// The settings most commands take as flags.
var (
	dirFlag   = []string{"dir"}
	storeFlag = []string{"dir", "db"}
)

// openKeys opens the keystore of the data directory, unlocked.
func openKeys(s *config.Settings) (*keys.FileStore, error) {
	if !keys.Initialised(s.Dir) {
		return nil, withHint(keys.ErrNotInitialised, "create it with 'cardseal init --dir "+s.Dir+" --demo'")
	}
	pass, err := s.Passphrase()
	if err != nil {
		return nil, err
	}
	return keys.OpenDir(s.Dir, pass)
}

// openCerts opens the keystore of the data directory to read its
// certificates and trust list: no passphrase.
func openCerts(s *config.Settings) (*keys.FileStore, error) {
	if !keys.Initialised(s.Dir) {
		return nil, withHint(fmt.Errorf("%w: %s", keys.ErrNotInitialised, s.Dir), "create it with 'cardseal init --dir "+s.Dir+" --root trust.pem'")
	}
	return keys.OpenDir(s.Dir, nil)
}

const dbHint = "check --db / CARDSEAL_DB (postgres://user@host:5432/db or a SQLite file path)"

// openRegistry opens the registry (the database) of the settings. Unless
// create is set, a SQLite file must exist already: a mistyped --dir must
// not start an empty registry (nor an empty audit log, which verifies as
// intact).
func openRegistry(ctx context.Context, s *config.Settings, create bool) (*store.DB, error) {
	u, err := s.Database()
	if err != nil {
		return nil, withHint(err, dbHint)
	}
	if !create && u.Backend == store.SQLite {
		if _, err := os.Stat(u.Path); err != nil {
			return nil, withHint(fmt.Errorf("no database at %s", u.Path), "give the data directory with --dir (or the database with --db); 'cardseal init' and 'cardseal serve' create it")
		}
	}
	st, err := store.OpenURL(ctx, u)
	if err != nil {
		return nil, withHint(err, dbHint)
	}
	return st, nil
}

// seedOrgs records the keystore's certified organisations in the
// registry (lifecycle.SeedOrgs).
func seedOrgs(ctx context.Context, st *store.DB, ks *keys.FileStore) error {
	orgs, err := ks.SealOrgs()
	if err != nil {
		return err
	}
	return lifecycle.SeedOrgs(ctx, st, orgs)
}

// hintFor suggests what to do about well-known errors.
func hintFor(err error) string {
	var mg *templates.MissingGlyphError
	var fe *card.FieldError
	switch {
	case errors.Is(err, keys.ErrNoPassphrase):
		return "set CARDSEAL_KEY_PASSPHRASE or CARDSEAL_KEY_PASSPHRASE_FILE (keep the file outside the data directory)"
	case errors.Is(err, keys.ErrPassphrase):
		return "the key passphrase is wrong: check CARDSEAL_KEY_PASSPHRASE / CARDSEAL_KEY_PASSPHRASE_FILE"
	case errors.Is(err, config.ErrPassphraseInside):
		return "keep the passphrase apart from the root key (another medium, or typed into CARDSEAL_KEY_PASSPHRASE)"
	case errors.As(err, &mg):
		return "the embedded font lacks this character; check the field for a typing error or a variant form"
	case errors.As(err, &fe):
		return "fix the field in the application JSON (see examples/applicant.json)"
	case errors.Is(err, chain.ErrOutOfOrder):
		return "seals go village → township → county; apply the missing lower level first"
	case errors.Is(err, chain.ErrRepeated):
		return "this level has sealed the card already"
	case errors.Is(err, chain.ErrJurisdiction):
		return "the organisation must lie within the jurisdiction of the earlier seals (same division-code prefix)"
	case errors.Is(err, chain.ErrComplete):
		return "the card already carries every seal its type requires"
	case errors.Is(err, org.ErrUnknown):
		return "list the organisations with 'cardseal org list'"
	}
	return ""
}

// day formats a certificate's date.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }
