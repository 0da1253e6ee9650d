package store_test

import (
	"context"
	"crypto/ecdsa"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

func TestAuditCheckpointMessageKnownAnswer(t *testing.T) {
	cp := audit.Checkpoint{
		UpToID:   42,
		Hash:     []byte{0x00, 0x1f, 0xab, 0xff},
		SignedAt: time.Date(2026, 11, 28, 22, 5, 9, 0, time.FixedZone("CST", 8*3600)),
	}
	want := "cardseal-audit-v1\n42\n001fabff\n2026-11-28T14:05:09Z\n"
	if got := string(cp.Message()); got != want {
		t.Errorf("Message() = %q, want %q", got, want)
	}
}

// identities returns a platform identity and a seal identity under one
// test root.
func identities(t *testing.T) (platform, seal *keys.Identity) {
	t.Helper()
	now := time.Now().Add(-time.Hour)
	rk, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := keys.NewRoot(rk, "吉林省", "吉林省卫生健康委员会(测试)", now)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(issue func(pub any) (*smx509.Certificate, error)) *keys.Identity {
		k, err := keys.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		cert, err := issue(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return &keys.Identity{Signer: k, Cert: cert, Chain: []*smx509.Certificate{ca.Cert}}
	}
	platform = mk(func(pub any) (*smx509.Certificate, error) {
		return ca.IssuePlatform(pub, "吉林省生育服务卡平台", now)
	})
	seal = mk(func(pub any) (*smx509.Certificate, error) {
		return ca.IssueSeal(pub, org.Org{Code: "220102", Level: org.County, Name: "南关区卫生健康局"}, now)
	})
	return platform, seal
}

func TestSignAuditHead(t *testing.T) {
	ctx := context.Background()
	platform, seal := identities(t)
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		appendN := func(t *testing.T, s *store.DB, n int) {
			t.Helper()
			for range n {
				if _, err := s.AppendAudit(ctx, audit.Event{Actor: "admin", Action: "user.login", RemoteAddr: "198.51.100.1"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		rawDB := func(t *testing.T, url string) *sql.DB {
			t.Helper()
			driver, dsn := "pgx", url
			if p, ok := strings.CutPrefix(url, "sqlite://"); ok {
				driver, dsn = "sqlite", p+"?_pragma=busy_timeout(15000)"
			}
			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}
		exec := func(t *testing.T, db *sql.DB, q string) {
			t.Helper()
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("raw %q: %v", q, err)
			}
		}

		t.Run("sign and read back", func(t *testing.T) {
			s, _ := open(t)
			if _, err := audit.Sign(ctx, s, platform, time.Now()); !errors.Is(err, card.ErrNotFound) {
				t.Errorf("empty log: %v, want card.ErrNotFound", err)
			}
			if _, err := s.LastAuditCheckpoint(ctx); !errors.Is(err, card.ErrNotFound) {
				t.Errorf("LastAuditCheckpoint without checkpoints: %v", err)
			}
			appendN(t, s, 3)
			for _, id := range []*keys.Identity{nil, seal, {Cert: platform.Cert}} {
				if _, err := audit.Sign(ctx, s, id, time.Now()); !errors.Is(err, audit.ErrNotPlatform) {
					t.Errorf("identity %+v: %v, want ErrInvalid", id, err)
				}
			}
			before := time.Now().Add(-time.Second)
			cp, err := audit.Sign(ctx, s, platform, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			evs, err := s.AuditEvents(ctx, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			pub := platform.Cert.PublicKey.(*ecdsa.PublicKey)
			switch {
			case cp.ID != 1 || cp.UpToID != 3 || string(cp.Hash) != string(evs[0].Hash):
				t.Errorf("checkpoint %d covers event %d hash %x; want 1, 3, %x", cp.ID, cp.UpToID, cp.Hash, evs[0].Hash)
			case cp.SignedAt.Before(before) || cp.SignedAt.After(time.Now()) || cp.SignedAt.Nanosecond() != 0 || cp.SignedAt.Location() != time.UTC:
				t.Errorf("signed at %v", cp.SignedAt)
			case string(cp.Cert) != string(platform.Cert.Raw):
				t.Error("checkpoint does not carry the platform certificate")
			case !sm2.VerifyASN1WithSM2(pub, nil, cp.Message(), cp.Signature):
				t.Error("signature does not verify")
			}
			appendN(t, s, 2)
			cp2, err := audit.Sign(ctx, s, platform, time.Now())
			if err != nil || cp2.ID != 2 || cp2.UpToID != 5 {
				t.Fatalf("second checkpoint %+v, %v", cp2, err)
			}
			cps, err := s.AuditCheckpoints(ctx)
			if err != nil || len(cps) != 2 {
				t.Fatalf("AuditCheckpoints = %d, %v", len(cps), err)
			}
			for i, want := range []audit.Checkpoint{cp, cp2} {
				got := cps[i]
				if got.ID != want.ID || got.UpToID != want.UpToID || string(got.Hash) != string(want.Hash) ||
					!got.SignedAt.Equal(want.SignedAt) || string(got.Signature) != string(want.Signature) || string(got.Cert) != string(want.Cert) {
					t.Errorf("checkpoint %d read back as %+v, want %+v", i+1, got, want)
				}
				if !sm2.VerifyASN1WithSM2(pub, nil, got.Message(), got.Signature) {
					t.Errorf("checkpoint %d read back does not verify", i+1)
				}
			}
			if last, err := s.LastAuditCheckpoint(ctx); err != nil || last.ID != 2 {
				t.Errorf("LastAuditCheckpoint = %+v, %v", last, err)
			}
		})

		// The signer never blesses a chain broken since the newest
		// checkpoint.
		for _, tc := range []struct{ name, sql string }{
			{"edited since", `UPDATE audit_events SET actor = 'someone else' WHERE id = 4`},
			{"deleted since", `DELETE FROM audit_events WHERE id = 4`},
			{"checkpointed event edited", `UPDATE audit_events SET hash = prev_hash WHERE id = 3`},
			{"checkpointed event deleted", `DELETE FROM audit_events WHERE id >= 3`},
			{"truncated below the checkpoint", `UPDATE audit_head SET last_id = 2, last_hash = (SELECT hash FROM audit_events WHERE id = 2)`},
			{"head moved", `UPDATE audit_head SET last_hash = (SELECT hash FROM audit_events WHERE id = 4)`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, url := open(t)
				appendN(t, s, 3)
				if _, err := audit.Sign(ctx, s, platform, time.Now()); err != nil {
					t.Fatal(err)
				}
				appendN(t, s, 2)
				exec(t, rawDB(t, url), tc.sql)
				if cp, err := audit.Sign(ctx, s, platform, time.Now()); !errors.Is(err, audit.ErrBroken) {
					t.Errorf("SignAuditHead = %+v, %v; want audit.ErrBroken", cp, err)
				}
				if cps, err := s.AuditCheckpoints(ctx); err != nil || len(cps) != 1 {
					t.Errorf("%d checkpoints after a refusal, %v", len(cps), err)
				}
			})
		}
	})
}
