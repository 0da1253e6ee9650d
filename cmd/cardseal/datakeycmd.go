package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
)

// cardseal data-key rotate (docs/operations.md, "Rotating the data key"):
// a new data key, every stored value re-encrypted under it, the old key
// retired. Every server of the installation must be stopped meanwhile:
// a running one keeps writing under the old key and cannot read what was
// re-encrypted.

var cmdDataKey = &command{
	name:  "data-key",
	short: "the data key that encrypts everything stored about a couple",
	long: `Data-key manages keys/data.key, under which every stored value that names a
couple is encrypted: applicant records, PDF revisions, notices, forms, the
materials sent online, postal addresses and the population-register extracts
(docs/privacy.md, "At rest").`,
	sub: []*command{cmdDataKeyRotate, cmdDataKeyReindex},
}

var cmdDataKeyRotate = &command{
	name:  "data-key rotate",
	args:  "[--dir DIR] [--db URL]",
	short: "re-encrypt every stored document under a new data key (servers stopped)",
	long: `Rotate creates a new data key, re-encrypts every card's stored values under it
(a card per transaction; documents stored in clear by older versions too),
derives the couple keys again, re-encrypts each county's population-register
extract (a county per transaction) with its keys derived again, moves the old key to keys/retired/ for backups
taken before, and records the rotation in the audit log. Stop every server
first. An interrupted rotation is finished by running it again.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"data-key rotate takes no arguments"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
			if err != nil {
				return err
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			return rotateDataKey(ctx, s.Dir, ks, st, e.stdout)
		}
	},
}

func rotateDataKey(ctx context.Context, dir string, ks *keys.FileStore, st *store.DB, out io.Writer) error {
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
			hint = "a stored value does not decrypt under any key of " + filepath.Join(dir, "keys") + " (a row altered, or a database from another installation); restore that card from a backup, or put back the retired key it was written under, then run the rotation again"
		}
		return withHint(fmt.Errorf("rotation stopped after %d cards: %w", r.Cards, err), hint)
	}
	if err := ks.PromoteDataKey(); err != nil {
		return withHint(err, "every value is re-encrypted; run 'cardseal data-key rotate' again to finish switching the key files")
	}
	if err := adminEvent(ctx, st, audit.DataKeyRotate, "", map[string]any{
		"from": r.From, "to": r.To, "cards": r.Cards, "rewritten": r.Rewritten, "clear": r.Clear, "format1": r.Format1, "residents": r.Residents,
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "rotated: %d cards, %d values re-encrypted (%d documents that were stored in clear, %d in the old format, %d population-register residents), %d already under the new key\n",
		r.Cards, r.Rewritten, r.Clear, r.Format1, r.Residents, r.Current)
	fmt.Fprintf(out, "the data key is now %s; the old key %s is kept in %s for backups taken before the rotation\n",
		r.To, r.From, filepath.Join(dir, "keys", "retired"))
	fmt.Fprintln(out, "next: back up the keys directory, copy it to every other instance, then start the servers")
	return nil
}

// cardseal data-key reindex (docs/privacy.md, "Search"): the search index
// of the holders' names and ID numbers derived again from the data key,
// for cards stored before the index was kept (schema version 11). The
// servers may keep running: a card is rewritten in one transaction, and
// the index is the only thing that changes.
var cmdDataKeyReindex = &command{
	name:  "data-key reindex",
	args:  "[--dir DIR] [--db URL]",
	short: "derive every card's search index of names and ID numbers again",
	long: `Reindex derives, for every card, the keyed search terms of the holders' names
and ID numbers that the console's search uses (docs/privacy.md, "Search") from
the current data key, a card per transaction, and records it in the audit log.
Run it once after upgrading from a version without the search, so that older
cards are found too. 'cardseal data-key rotate' derives them itself.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"data-key reindex takes no arguments"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
			if err != nil {
				return err
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			ring, err := ks.DataKeyRing()
			if err != nil {
				return err
			}
			n, err := lifecycle.Reindex(ctx, st, ring)
			if err != nil {
				return withHint(fmt.Errorf("reindex stopped after %d cards: %w", n, err), "the cards done so far are indexed; fix the cause and run 'cardseal data-key reindex' again")
			}
			if err := adminEvent(ctx, st, audit.DataKeyReindex, "", map[string]any{"key": keys.DataKeyID(ring[0]), "cards": n}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "reindexed: %d cards, search terms under the data key %s\n", n, keys.DataKeyID(ring[0]))
			return nil
		}
	},
}
