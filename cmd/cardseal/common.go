package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/templates"
)

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(nil)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitCode(0)
		}
		return usageError{err.Error()}
	}
	return nil
}

// openKeys loads the config and keystore of a data directory.
func openKeys(dir string) (*config.Config, *keys.FileStore, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	cfg.Fill()
	if !keys.Initialised(cfg.Dir) {
		return nil, nil, withHint(keys.ErrNotInitialised, "create it with 'cardseal init --dir "+cfg.Dir+" --demo'")
	}
	pass, err := cfg.Passphrase()
	if err != nil {
		return nil, nil, err
	}
	ks, err := keys.OpenDir(cfg.Dir, pass)
	if err != nil {
		return nil, nil, err
	}
	return cfg, ks, nil
}

// openRegistry opens the registry (the database) of a data directory.
// Unless create is set, a SQLite file must exist already: a mistyped
// --dir must not start an empty registry.
func openRegistry(ctx context.Context, cfg *config.Config, create bool) (*store.DB, error) {
	if !create && !store.IsPostgres(cfg.DB) {
		p, err := store.SQLitePath(cfg.DB)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, withHint(fmt.Errorf("no database at %s", p), "give the data directory with --dir (or the database with --db); 'cardseal init' and 'cardseal serve' create it")
		}
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, withHint(err, "check --db / CARDSEAL_DB (postgres://user@host:5432/db or a SQLite file path)")
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
