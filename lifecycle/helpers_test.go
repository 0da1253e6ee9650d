package lifecycle

import (
	"context"
	"testing"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// demoOrgs is the demo province as an OrgSource, for tests that render or
// seal documents without a registry.
var demoOrgs = keys.Demo

// demoOrg is an organisation of the demo province.
func demoOrg(t testing.TB, code string) org.Org {
	t.Helper()
	o, err := demoOrgs.GetOrg(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// SyncOrgs records the keystore's organisations in a registry, as the
// server's first start does.
func SyncOrgs(ctx context.Context, reg Orgs, ks *keys.FileStore) error {
	orgs, err := ks.SealOrgs()
	if err != nil {
		return err
	}
	return SeedOrgs(ctx, reg, orgs)
}

// actor is a staff member of the organisation with the code, as the
// registry has it.
func actor(t testing.TB, reg OrgSource, code string) Actor {
	t.Helper()
	o, err := reg.GetOrg(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	return Actor{Username: code, Org: o, RemoteAddr: "127.0.0.1"}
}
