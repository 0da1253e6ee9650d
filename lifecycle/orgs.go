package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
)

// SyncOrgs records in the store every organisation the keystore has a
// seal key for and the store lacks (seal records refer to them). The
// registry owns names and retirement afterwards (cardseal org rename /
// retire); it never deletes, so old seals still resolve.
func SyncOrgs(ctx context.Context, st store.Store, ks keys.Store) error {
	for _, o := range ks.Orgs() {
		_, err := st.GetOrg(ctx, o.Code)
		if errors.Is(err, store.ErrNotFound) {
			err = st.CreateOrg(ctx, store.Org{Code: o.Code, Level: o.Level, Name: o.Name})
			if errors.Is(err, store.ErrDuplicate) {
				err = nil // another instance got there first
			}
		}
		if err != nil {
			return fmt.Errorf("sync organisation %s: %w", o.Code, err)
		}
	}
	return nil
}
