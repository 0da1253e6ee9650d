package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
)

// cardseal data-key rotate (docs/operations.md, "Rotating the data key"):
// a new data key, every stored value re-encrypted under it, the old key
// retired. Every server of the installation must be stopped meanwhile:
// a running one keeps writing under the old key and cannot read what was
// re-encrypted.

const dataKeyUsage = "usage: cardseal data-key rotate [--dir DIR] [--db URL]"

func cmdDataKey(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageError{"unknown data-key command; " + dataKeyUsage}
	}
	fs, dir, db := adminFlags("data-key rotate")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q; %s", fs.Arg(0), dataKeyUsage)}
	}
	ctx := context.Background()
	_, ks, err := openKeys(*dir)
	if err != nil {
		return err
	}
	cfg, st, err := adminStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	return rotateDataKey(ctx, cfg, ks, st, out)
}

func rotateDataKey(ctx context.Context, cfg *config.Config, ks *keys.FileStore, st *store.DB, out io.Writer) error {
	next, err := ks.NextDataKey() // a new key, or the one an interrupted rotation left
	if err != nil {
		return err
	}
	ring, err := ks.DataKeyRing()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "re-encrypting every card under the new data key %s (from %s); every server must be stopped\n",
		keys.DataKeyID(next), keys.DataKeyID(ring[0]))
	r, err := lifecycle.RotateDataKey(ctx, st, ring, next)
	if err != nil {
		hint := "nothing is lost: the cards done so far are under the new key, the others under the old one, and both keys are kept; fix the cause and run 'cardseal data-key rotate' again to finish"
		if errors.Is(err, lifecycle.ErrCorrupt) {
			hint = "a stored value does not decrypt under any key of " + filepath.Join(cfg.Dir, "keys") + " (a row altered, or a database from another installation); restore that card from a backup, or put back the retired key it was written under, then run the rotation again"
		}
		return withHint(fmt.Errorf("rotation stopped after %d cards: %w", r.Cards, err), hint)
	}
	if err := ks.PromoteDataKey(); err != nil {
		return withHint(err, "every value is re-encrypted; run 'cardseal data-key rotate' again to finish switching the key files")
	}
	if err := adminEvent(ctx, st, audit.DataKeyRotate, "", map[string]any{
		"from": r.From, "to": r.To, "cards": r.Cards, "rewritten": r.Rewritten, "clear": r.Clear, "format1": r.Format1,
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "rotated: %d cards, %d values re-encrypted (%d documents that were stored in clear, %d in the old format), %d already under the new key\n",
		r.Cards, r.Rewritten, r.Clear, r.Format1, r.Current)
	fmt.Fprintf(out, "the data key is now %s; the old key %s is kept in %s for backups taken before the rotation\n",
		r.To, r.From, filepath.Join(cfg.Dir, "keys", "retired"))
	fmt.Fprintln(out, "next: back up the keys directory, copy it to every other instance, then start the servers")
	return nil
}
