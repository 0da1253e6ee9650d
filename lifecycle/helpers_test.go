package lifecycle

import (
	"context"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
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

// demoService is a Service over a fresh test registry (SQLite, or
// PostgreSQL when the environment names one) holding the demo province.
func demoService(t testing.TB) (*store.DB, *Service) {
	t.Helper()
	st, _ := storetest.Open(t)
	ks := demoKeys(t)
	if err := SyncOrgs(context.Background(), st, ks); err != nil {
		t.Fatal(err)
	}
	return st, NewService(st, ks, "http://127.0.0.1:8080")
}

// rebirthExample is example(t) as a re-birth application (Art. 6) for a
// second child, with the marital status certificate it needs.
func rebirthExample(t testing.TB) *card.Applicant {
	a := example(t)
	a.Type = card.Rebirth
	a.ChildOrder = 2
	a.StatusCert = &card.StatusCert{Number: "HY-2026-01", Issuer: "永安社区居民委员会"}
	return a
}
