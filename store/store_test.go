package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// opener returns a fresh, empty store for one test and the URL that opens
// the same database again.
type opener func(t *testing.T) (*DB, string)

func TestSQLite(t *testing.T) {
	testStore(t, func(t *testing.T) (*DB, string) {
		url := testdb.SQLite(t)
		return mustOpen(t, url), url
	})
}

// TestPostgresVoidRacingSeal (Art. 22): a void of a re-birth card still
// in its transaction when a seal of another re-birth card of the couple
// begins holds the seal until it ends, and the seal then sees the card
// voided (card.ErrBarred). Without the lock the seal reads the last
// committed state and succeeds. The test waits for the seal to be
// waiting on a lock, as PostgreSQL reports it; it measures no time.
func TestPostgresVoidRacingSeal(t *testing.T) {
	base := testdb.PostgresBase(t)
	ctx := context.Background()
	s := mustOpen(t, testdb.Schema(t, base))
	seedOrgs(t, s)
	couple := strings.Repeat("ab", 32)
	rebirth := func(c *card.Card) { c.Type, c.CoupleKey = card.Rebirth, couple }
	voided, pending := newCardWith(t, s, rebirth), newCardWith(t, s, rebirth)

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE cards SET status = 'voided' WHERE id = $1`, voided.ID); err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		bar := &card.CoupleBar{Type: card.Rebirth, Statuses: []card.Status{card.StatusVoided}}
		se := sealAt(org.Village)
		d := sm3.Sum(pdfRev(pending.ID, 1))
		se.PDFDigest = d[:]
		done <- s.AddSeal(ctx, pending.ID, 0, pdfRev(pending.ID, 1), se, card.StatusDraft, org.Township, bar, sealEvent(org.Village))
	}()
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("the seal ended (%v) while the void of the couple's card was in flight", err)
		default:
		}
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) > 0 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, card.ErrBarred) {
		t.Fatalf("seal after the void committed: %v, want card.ErrBarred", err)
	}
	if got, err := s.GetCard(ctx, pending.ID); err != nil || got.Seq != 0 || got.Status != card.StatusDraft {
		t.Fatalf("the barred card: %+v, %v", got, err)
	}
}

func TestPostgres(t *testing.T) {
	base := testdb.PostgresBase(t)
	testStore(t, func(t *testing.T) (*DB, string) {
		url := testdb.Schema(t, base)
		return mustOpen(t, url), url
	})
}

func mustOpen(t *testing.T, url string) *DB {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// raw runs SQL on the store's database behind its back, as an attacker
// with database access would.
func raw(t *testing.T, s *DB, q string, args ...any) {
	t.Helper()
	if _, err := s.w.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("raw %q: %v", q, err)
	}
}

func count(t *testing.T, s *DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", q, err)
	}
	return n
}

// The demo province: one county, two townships, three villages.
var testOrgs = []org.Org{
	{Code: "220102", Level: org.County, Name: "南关区卫生健康局"},
	{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"},
	{Code: "220102002", Level: org.Township, Name: "自强街道办事处"},
	{Code: "220102001001", Level: org.Village, Name: "东岭社区居民委员会"},
	{Code: "220102001002", Level: org.Village, Name: "西岭社区居民委员会"},
	{Code: "220102002001", Level: org.Village, Name: "南岭社区居民委员会"},
}

func seedOrgs(t *testing.T, s *DB) {
	t.Helper()
	for _, o := range testOrgs {
		if err := s.CreateOrg(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// newCard creates a draft card in village 220102001001 and returns it.
// nextAfter is the level a card awaits after l sealed, under the
// village → township → county chain the tests play (the store itself
// knows no chain: it keeps what it is told).
func nextAfter(l org.Level) org.Level {
	switch l {
	case org.Village:
		return org.Township
	case org.Township:
		return org.County
	}
	return ""
}

func newCard(t *testing.T, s *DB) card.Card {
	t.Helper()
	return newCardWith(t, s, nil)
}

// newCardWith is newCard with mod applied to the card before it is
// created.
func newCardWith(t *testing.T, s *DB, mod func(*card.Card)) card.Card {
	t.Helper()
	ctx := context.Background()
	id, err := card.NewID()
	if err != nil {
		t.Fatal(err)
	}
	num, err := s.NextCardNumber(ctx, "220102", 2026)
	if err != nil {
		t.Fatal(err)
	}
	for {
		idx, err := card.RandomStatusIndex()
		if err != nil {
			t.Fatal(err)
		}
		c := card.Card{
			ID: id, Number: num, Type: card.First, VillageCode: "220102001001", CountyCode: "220102",
			Applicant: []byte(`{"husband":{"name":"王五"}}`), NextLevel: org.Village,
			QRToken: "TOKEN" + strings.ToUpper(id), StatusIndex: idx, CreatedBy: "220102001001",
		}
		if mod != nil {
			mod(&c)
		}
		err = s.CreateCard(ctx, &c, pdfRev(id, 0), audit.Event{Actor: "220102001001", OrgCode: "220102001001", Action: "card.create"})
		if errors.Is(err, card.ErrDuplicate) && strings.Contains(err.Error(), "status_index") {
			continue // an index collision: draw again
		}
		if err != nil {
			t.Fatalf("CreateCard: %v", err)
		}
		return c
	}
}

// pdfRev is a stand-in for revision seq of a card's PDF: distinct per card
// and revision, so a mix-up shows.
func pdfRev(id string, seq int) []byte {
	return fmt.Appendf(nil, "%%PDF-1.7\n%% card %s revision %d\n%%%%EOF\n", id, seq)
}

func sealAt(l org.Level) card.Seal {
	code := map[org.Level]string{org.Village: "220102001001", org.Township: "220102001", org.County: "220102"}[l]
	return card.Seal{Level: l, OrgCode: code, CertSerial: "0a1b" + string(l), ByUser: code, SignedAt: time.Now()}
}

// addSeal is AddSeal with the seal record's digest the SM3 of pdf, as
// the lifecycle gives it (the store keeps the caller's digest: it may be
// handed an encrypted revision).
func addSeal(ctx context.Context, s *DB, cardID string, expectSeq int, pdf []byte, se card.Seal, st card.Status, next org.Level, ev audit.Event) error {
	if se.PDFDigest == nil {
		d := sm3.Sum(pdf)
		se.PDFDigest = d[:]
	}
	return s.AddSeal(ctx, cardID, expectSeq, pdf, se, st, next, nil, ev)
}

func sealEvent(l org.Level) audit.Event {
	s := sealAt(l)
	return audit.Event{Actor: s.ByUser, OrgCode: s.OrgCode, Action: "card.seal", Detail: []byte(`{"level":"` + string(l) + `"}`), RemoteAddr: "192.0.2.7"}
}

// snapshot is everything a failed write must leave untouched.
type snapshot struct {
	card   card.Card
	seals  int
	pdfs   int
	audits int
}

func snap(t *testing.T, s *DB, id string) snapshot {
	t.Helper()
	c, err := s.GetCard(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{
		card:   c,
		seals:  count(t, s, `SELECT count(*) FROM seals WHERE card_id = $1`, id),
		pdfs:   count(t, s, `SELECT count(*) FROM card_pdfs WHERE card_id = $1`, id),
		audits: count(t, s, `SELECT count(*) FROM audit_events`),
	}
}

func sameSnapshot(t *testing.T, a, b snapshot) {
	t.Helper()
	if a.seals != b.seals || a.pdfs != b.pdfs || a.audits != b.audits ||
		a.card.Seq != b.card.Seq || a.card.Version != b.card.Version || a.card.Status != b.card.Status ||
		!a.card.UpdatedAt.Equal(b.card.UpdatedAt) {
		t.Errorf("state changed:\nbefore %+v\nafter  %+v", a, b)
	}
}

func testStore(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("orgs", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		got, err := s.GetOrg(ctx, "220102001")
		if err != nil || got != testOrgs[1] {
			t.Fatalf("GetOrg = %+v, %v", got, err)
		}
		list, err := s.ListOrgs(ctx)
		if err != nil || len(list) != len(testOrgs) || list[0].Code != "220102" {
			t.Fatalf("ListOrgs = %+v, %v", list, err)
		}
		for _, tc := range []struct {
			name string
			org  org.Org
			want error
		}{
			{"duplicate", testOrgs[0], org.ErrDuplicate},
			{"bad level", org.Org{Code: "220103", Level: "city", Name: "x"}, ErrInvalid},
			{"code of another level", org.Org{Code: "220103001", Level: org.County, Name: "x"}, ErrInvalid},
			{"no name", org.Org{Code: "220103", Level: org.County}, ErrInvalid},
		} {
			if err := s.CreateOrg(ctx, tc.org); !errors.Is(err, tc.want) {
				t.Errorf("%s: CreateOrg = %v, want %v", tc.name, err, tc.want)
			}
		}
		retired := org.Org{Code: "220103", Level: org.County, Name: "旧区", Retired: true}
		if err := s.CreateOrg(ctx, retired); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetOrg(ctx, "220103"); err != nil || got != retired {
			t.Errorf("retired org = %+v, %v", got, err)
		}
		if _, err := s.GetOrg(ctx, "229999"); !errors.Is(err, org.ErrUnknown) {
			t.Errorf("GetOrg(missing) = %v, want org.ErrUnknown", err)
		}
	})

	t.Run("users", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		u := staff.User{Username: "220102001001", OrgCode: "220102001001", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", DisplayName: "张敏"}
		if err := s.CreateUser(ctx, &u); err != nil || u.ID == 0 {
			t.Fatalf("CreateUser = %v, id %d", err, u.ID)
		}
		for _, tc := range []struct {
			name string
			user staff.User
			want error
		}{
			{"duplicate username", staff.User{Username: u.Username, OrgCode: "220102", PasswordHash: "h"}, staff.ErrDuplicate},
			{"unknown org", staff.User{Username: "ghost", OrgCode: "229999", PasswordHash: "h"}, staff.ErrNotFound},
			{"no password hash", staff.User{Username: "nohash", OrgCode: "220102"}, ErrInvalid},
		} {
			if err := s.CreateUser(ctx, &tc.user); !errors.Is(err, tc.want) {
				t.Errorf("%s: CreateUser = %v, want %v", tc.name, err, tc.want)
			}
		}
		got, err := s.GetUserByName(ctx, u.Username)
		if err != nil || got != u {
			t.Fatalf("GetUserByName = %+v, %v; want %+v", got, err, u)
		}
		if _, err := s.GetUserByName(ctx, "nobody"); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("GetUserByName(missing) = %v", err)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		u := staff.User{Username: "admin", OrgCode: "220102", PasswordHash: "h"}
		if err := s.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		live := sha256.Sum256([]byte("live token"))
		dead := sha256.Sum256([]byte("expired token"))
		if err := s.CreateSession(ctx, staff.Session{TokenHash: live[:], UserID: u.ID, Kind: staff.APISession, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, staff.Session{TokenHash: dead[:], UserID: u.ID, Kind: staff.ConsoleSession, CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, staff.Session{TokenHash: live[:], UserID: u.ID, Kind: staff.APISession, ExpiresAt: time.Now().Add(time.Hour)}); !errors.Is(err, staff.ErrDuplicate) {
			t.Errorf("duplicate session = %v", err)
		}
		if err := s.CreateSession(ctx, staff.Session{TokenHash: []byte("short"), UserID: u.ID, Kind: staff.APISession, ExpiresAt: time.Now()}); !errors.Is(err, ErrInvalid) {
			t.Errorf("short hash = %v", err)
		}
		other := sha256.Sum256([]byte("kindless token"))
		if err := s.CreateSession(ctx, staff.Session{TokenHash: other[:], UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); !errors.Is(err, ErrInvalid) {
			t.Errorf("session without a kind = %v", err)
		}
		got, err := s.GetSession(ctx, live[:])
		if err != nil || got.UserID != u.ID || got.Kind != staff.APISession || !bytes.Equal(got.TokenHash, live[:]) {
			t.Fatalf("GetSession = %+v, %v", got, err)
		}
		if _, err := s.GetSession(ctx, dead[:]); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("expired session = %v, want staff.ErrNotFound", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}
		if err := s.DeleteSession(ctx, live[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSession(ctx, live[:]); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("deleted session = %v", err)
		}
	})

	t.Run("cards", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		for name, get := range map[string]func() (card.Card, error){
			"id":     func() (card.Card, error) { return s.GetCard(ctx, c.ID) },
			"number": func() (card.Card, error) { return s.GetCardByNumber(ctx, c.Number) },
			"token":  func() (card.Card, error) { return s.GetCardByToken(ctx, c.QRToken) },
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("by %s: %v", name, err)
			}
			if got.ID != c.ID || got.Number != c.Number || got.Type != c.Type || got.Status != card.StatusDraft ||
				!bytes.Equal(got.Applicant, c.Applicant) || got.QRToken != c.QRToken ||
				got.StatusIndex != c.StatusIndex || got.Version != 1 || got.Seq != 0 ||
				!got.CreatedAt.Equal(c.CreatedAt) || got.CreatedBy != c.CreatedBy {
				t.Errorf("by %s: got %+v\nwant %+v", name, got, c)
			}
		}
		if !strings.HasPrefix(c.Number, "2201022026") || len(c.Number) != 16 {
			t.Errorf("card number %q", c.Number)
		}
		seq, pdf, err := s.CurrentPDF(ctx, c.ID)
		if err != nil || seq != 0 || !bytes.Equal(pdf, pdfRev(c.ID, 0)) {
			t.Errorf("CurrentPDF = %d, %q, %v", seq, pdf, err)
		}
		evs, err := s.AuditEvents(ctx, c.ID, 10)
		if err != nil || len(evs) != 1 || evs[0].Action != "card.create" || evs[0].CardID != c.ID {
			t.Errorf("audit after create = %+v, %v", evs, err)
		}
		before := count(t, s, `SELECT count(*) FROM audit_events`)
		for _, tc := range []struct {
			name string
			mod  func(*card.Card)
			want error
		}{
			{"duplicate id", func(d *card.Card) { d.ID = c.ID }, card.ErrDuplicate},
			{"duplicate number", func(d *card.Card) { d.Number = c.Number }, card.ErrDuplicate},
			{"duplicate token", func(d *card.Card) { d.QRToken = c.QRToken }, card.ErrDuplicate},
			{"duplicate status index", func(d *card.Card) { d.StatusIndex = c.StatusIndex }, card.ErrDuplicate},
			{"bad id", func(d *card.Card) { d.ID = "1234" }, ErrInvalid},
			{"bad type", func(d *card.Card) { d.Type = "third" }, ErrInvalid},
			{"county not containing village", func(d *card.Card) { d.CountyCode = "220103" }, ErrInvalid},
			{"no applicant", func(d *card.Card) { d.Applicant = nil }, ErrInvalid},
		} {
			d := card.Card{ID: "00000000000000ff", Number: "X-" + tc.name, Type: card.Second, VillageCode: "220102001002",
				CountyCode: "220102", Applicant: []byte(`{}`), QRToken: "T-" + tc.name, StatusIndex: (c.StatusIndex + 1) % card.StatusListSize, CreatedBy: "u"}
			tc.mod(&d)
			err := s.CreateCard(ctx, &d, []byte("%PDF"), audit.Event{Actor: "u", Action: "card.create"})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: CreateCard = %v, want %v", tc.name, err, tc.want)
			}
		}
		if n := count(t, s, `SELECT count(*) FROM cards`); n != 1 {
			t.Errorf("%d cards after failed creates, want 1", n)
		}
		if after := count(t, s, `SELECT count(*) FROM audit_events`); after != before {
			t.Errorf("failed creates left %d audit events", after-before)
		}
		for _, f := range []func() error{
			func() error { _, err := s.GetCard(ctx, "0000000000000000"); return err },
			func() error { _, err := s.GetCardByToken(ctx, ""); return err },
			func() error { _, _, err := s.CurrentPDF(ctx, "0000000000000000"); return err },
			func() error { _, err := s.PDF(ctx, c.ID, 1); return err },
		} {
			if err := f(); !errors.Is(err, card.ErrNotFound) {
				t.Errorf("missing: %v, want card.ErrNotFound", err)
			}
		}
	})

	t.Run("seal three levels", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		other := newCard(t, s)
		for i, l := range []org.Level{org.Village, org.Township, org.County} {
			queue, err := s.ListCards(ctx, card.Filter{Awaiting: l, CodePrefix: "220102001"})
			if err != nil || len(queue) != 1+btoi(l == org.Village) || queue[0].ID != c.ID {
				t.Fatalf("queue of %s before sealing: %d cards, %v", l, len(queue), err)
			}
			status := card.StatusDraft
			if l == org.County {
				status = card.StatusIssued
			}
			if err := addSeal(ctx, s, c.ID, i, pdfRev(c.ID, i+1), sealAt(l), status, nextAfter(l), sealEvent(l)); err != nil {
				t.Fatalf("AddSeal %s: %v", l, err)
			}
			got, err := s.GetCard(ctx, c.ID)
			if err != nil || got.Seq != i+1 || got.Version != i+2 || got.Status != status {
				t.Fatalf("after %s: %+v, %v", l, got, err)
			}
		}
		seals, err := s.Seals(ctx, c.ID)
		if err != nil || len(seals) != 3 {
			t.Fatalf("Seals = %+v, %v", seals, err)
		}
		for i, se := range seals {
			want := sealAt(org.Levels[i])
			d := sm3.Sum(pdfRev(c.ID, i+1))
			if se.CardID != c.ID || se.Seq != i+1 || se.Level != want.Level || se.OrgCode != want.OrgCode ||
				se.CertSerial != want.CertSerial || se.ByUser != want.ByUser || !bytes.Equal(se.PDFDigest, d[:]) ||
				se.SignedAt.IsZero() {
				t.Errorf("seal %d = %+v", i+1, se)
			}
		}
		for seq := 0; seq <= 3; seq++ {
			if pdf, err := s.PDF(ctx, c.ID, seq); err != nil || !bytes.Equal(pdf, pdfRev(c.ID, seq)) {
				t.Errorf("PDF revision %d = %q, %v", seq, pdf, err)
			}
		}
		if seq, pdf, err := s.CurrentPDF(ctx, c.ID); err != nil || seq != 3 || !bytes.Equal(pdf, pdfRev(c.ID, 3)) {
			t.Errorf("CurrentPDF = %d, %v", seq, err)
		}
		issued, err := s.ListCards(ctx, card.Filter{Statuses: []card.Status{card.StatusIssued}})
		if err != nil || len(issued) != 1 || issued[0].ID != c.ID {
			t.Errorf("issued cards = %d, %v", len(issued), err)
		}
		all, err := s.ListCards(ctx, card.Filter{Limit: 1})
		if err != nil || len(all) != 1 || all[0].ID != c.ID {
			t.Errorf("oldest card = %+v, %v", all, err)
		}
		if q, err := s.ListCards(ctx, card.Filter{CodePrefix: "220102002"}); err != nil || len(q) != 0 {
			t.Errorf("other township's cards = %d, %v", len(q), err)
		}
		if _, err := s.ListCards(ctx, card.Filter{CodePrefix: "22%"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("LIKE pattern as prefix = %v", err)
		}
		if q, err := s.ListCards(ctx, card.Filter{Awaiting: org.Village}); err != nil || len(q) != 1 || q[0].ID != other.ID {
			t.Errorf("village queue = %+v, %v", q, err)
		}
		evs, err := s.AuditEvents(ctx, c.ID, 0)
		if err != nil || len(evs) != 4 || evs[0].Action != "card.seal" || evs[3].Action != "card.create" ||
			string(evs[0].Detail) != `{"level":"county"}` || evs[0].RemoteAddr != "192.0.2.7" {
			t.Errorf("card's audit events = %+v, %v", evs, err)
		}
	})

	t.Run("seal refusals change nothing", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		if err := addSeal(ctx, s, c.ID, 0, pdfRev(c.ID, 1), sealAt(org.Village), card.StatusDraft, nextAfter(org.Village), sealEvent(org.Village)); err != nil {
			t.Fatal(err)
		}
		badOrg := sealAt(org.Township)
		badOrg.OrgCode = "229999999"
		wrongDigest := sealAt(org.Township)
		wrongDigest.PDFDigest = make([]byte, 31)
		for _, tc := range []struct {
			name      string
			expectSeq int
			seal      card.Seal
			status    card.Status
			want      error
		}{
			{"stale expectSeq", 0, sealAt(org.Township), card.StatusDraft, card.ErrConflict},
			{"future expectSeq", 2, sealAt(org.Township), card.StatusDraft, card.ErrConflict},
			{"same level twice", 1, sealAt(org.Village), card.StatusDraft, card.ErrConflict},
			// Fails inside the transaction after the PDF revision is
			// written: the rollback must take the revision with it.
			{"unknown org mid-transaction", 1, badOrg, card.StatusDraft, card.ErrNotFound},
			{"digest not an SM3 digest", 1, wrongDigest, card.StatusDraft, ErrInvalid},
			{"seal cannot void", 1, sealAt(org.Township), card.StatusVoided, ErrInvalid},
		} {
			before := snap(t, s, c.ID)
			err := addSeal(ctx, s, c.ID, tc.expectSeq, pdfRev(c.ID, 9), tc.seal, tc.status, nextAfter(tc.seal.Level), sealEvent(tc.seal.Level))
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: AddSeal = %v, want %v", tc.name, err, tc.want)
			}
			sameSnapshot(t, before, snap(t, s, c.ID))
		}
		if err := addSeal(ctx, s, "0000000000000000", 0, pdfRev("x", 1), sealAt(org.Village), card.StatusDraft, nextAfter(org.Village), sealEvent(org.Village)); !errors.Is(err, card.ErrNotFound) {
			t.Errorf("AddSeal(missing card) = %v", err)
		}
		// A context cancelled mid-way must also leave the card as it was.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		before := snap(t, s, c.ID)
		if err := addSeal(cctx, s, c.ID, 1, pdfRev(c.ID, 2), sealAt(org.Township), card.StatusDraft, nextAfter(org.Township), sealEvent(org.Township)); err == nil {
			t.Error("AddSeal with a cancelled context succeeded")
		}
		sameSnapshot(t, before, snap(t, s, c.ID))
		if _, pdf, _ := s.CurrentPDF(ctx, c.ID); !bytes.Equal(pdf, pdfRev(c.ID, 1)) {
			t.Error("current PDF changed by refused seals")
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Errorf("VerifyAudit after refusals: %v", err)
		}
	})

	t.Run("status changes", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		next := newCard(t, s)
		ev := audit.Event{Actor: "220102", OrgCode: "220102", Action: "card.void", Reason: "error"}
		issuedOnly := []card.Status{card.StatusIssued}
		before := snap(t, s, c.ID)
		if err := s.SetStatus(ctx, c.ID, issuedOnly, card.StatusVoided, "error", "typo", "", ev); !errors.Is(err, card.ErrConflict) {
			t.Errorf("void a draft when only issued allowed = %v", err)
		}
		sameSnapshot(t, before, snap(t, s, c.ID))
		for _, tc := range []struct {
			name       string
			to         card.Status
			superseded string
			want       error
		}{
			{"supersede without new card", card.StatusSuperseded, "", ErrInvalid},
			{"void naming a new card", card.StatusVoided, next.ID, ErrInvalid},
			{"supersede by itself", card.StatusSuperseded, c.ID, ErrInvalid},
			{"supersede by missing card", card.StatusSuperseded, "00000000000000aa", card.ErrNotFound},
			{"unknown status", "lost", "", ErrInvalid},
		} {
			if err := s.SetStatus(ctx, c.ID, []card.Status{card.StatusDraft}, tc.to, "r", "n", tc.superseded, ev); !errors.Is(err, tc.want) {
				t.Errorf("%s: SetStatus = %v, want %v", tc.name, err, tc.want)
			}
		}
		sameSnapshot(t, before, snap(t, s, c.ID))
		if err := s.SetStatus(ctx, c.ID, []card.Status{card.StatusDraft, card.StatusIssued}, card.StatusSuperseded, "reissue", "lost card", next.ID, ev); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCard(ctx, c.ID)
		if err != nil || got.Status != card.StatusSuperseded || got.SupersededBy != next.ID || got.StatusReason != "reissue" ||
			got.StatusNote != "lost card" || got.Version != 2 {
			t.Errorf("after supersede: %+v, %v", got, err)
		}
		if err := addSeal(ctx, s, c.ID, 0, pdfRev(c.ID, 1), sealAt(org.Village), card.StatusDraft, nextAfter(org.Village), sealEvent(org.Village)); !errors.Is(err, card.ErrConflict) {
			t.Errorf("sealing a superseded card = %v, want card.ErrConflict", err)
		}
		if err := s.SetStatus(ctx, "0000000000000000", []card.Status{card.StatusDraft}, card.StatusVoided, "r", "", "", ev); !errors.Is(err, card.ErrNotFound) {
			t.Errorf("SetStatus(missing) = %v", err)
		}
	})

	t.Run("concurrent seals of one card", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				se := sealAt(org.Village)
				se.CertSerial = fmt.Sprintf("serial-%d", i)
				errs[i] = addSeal(ctx, s, c.ID, 0, pdfRev(c.ID, 100+i), se, card.StatusDraft, nextAfter(org.Village), sealEvent(org.Village))
			})
		}
		close(start)
		wg.Wait()
		ok, conflicts := -1, 0
		for i, err := range errs {
			switch {
			case err == nil:
				if ok >= 0 {
					t.Errorf("goroutines %d and %d both sealed", ok, i)
				}
				ok = i
			case errors.Is(err, card.ErrConflict):
				conflicts++
			default:
				t.Errorf("goroutine %d: %v", i, err)
			}
		}
		if ok < 0 || conflicts != n-1 {
			t.Fatalf("%d conflicts, winner %d; want one winner and %d conflicts", conflicts, ok, n-1)
		}
		seals, err := s.Seals(ctx, c.ID)
		if err != nil || len(seals) != 1 || seals[0].CertSerial != fmt.Sprintf("serial-%d", ok) {
			t.Errorf("seals = %+v, %v", seals, err)
		}
		if seq, pdf, err := s.CurrentPDF(ctx, c.ID); err != nil || seq != 1 || !bytes.Equal(pdf, pdfRev(c.ID, 100+ok)) {
			t.Errorf("current PDF is not the winner's: seq %d, %v", seq, err)
		}
		if n := count(t, s, `SELECT count(*) FROM card_pdfs WHERE card_id = $1`, c.ID); n != 2 {
			t.Errorf("%d PDF revisions, want 2", n)
		}
		if n := count(t, s, `SELECT count(*) FROM audit_events WHERE action = 'card.seal'`); n != 1 {
			t.Errorf("%d seal audit events, want 1", n)
		}
	})

	t.Run("concurrent seals of many cards", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		const n = 8
		cards := make([]card.Card, n)
		for i := range cards {
			cards[i] = newCard(t, s)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i, c := range cards {
			wg.Go(func() {
				<-start
				for seq, l := range org.Levels {
					status := card.StatusDraft
					if l == org.County {
						status = card.StatusIssued
					}
					if err := addSeal(ctx, s, c.ID, seq, pdfRev(c.ID, seq+1), sealAt(l), status, nextAfter(l), sealEvent(l)); err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("card %d: %v", i, err)
			}
		}
		issued, err := s.ListCards(ctx, card.Filter{Statuses: []card.Status{card.StatusIssued}})
		if err != nil || len(issued) != n {
			t.Errorf("%d issued cards, %v; want %d", len(issued), err, n)
		}
		if badID, err := s.VerifyAudit(ctx); err != nil {
			t.Errorf("VerifyAudit after concurrent appends: %d, %v", badID, err)
		}
		if got := count(t, s, `SELECT count(*) FROM audit_events`); got != n*4 {
			t.Errorf("%d audit events, want %d", got, n*4)
		}
	})

	// Two Stores on one database stand in for two server processes: no
	// shared pool or Go lock between them, only the database's own
	// (SQLite: BEGIN IMMEDIATE and busy_timeout; PostgreSQL: row locks).
	t.Run("two stores on one database", func(t *testing.T) {
		s1, url := open(t)
		s2 := mustOpen(t, url)
		stores := []*DB{s1, s2}
		seedOrgs(t, s1)
		const n = 8
		contested := newCard(t, s1)
		own := make([]card.Card, n)
		for i := range own {
			own[i] = newCard(t, s2)
		}
		var wg sync.WaitGroup
		contestErrs := make([]error, n)
		ownErrs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			s := stores[i%2]
			wg.Go(func() {
				<-start
				contestErrs[i] = addSeal(ctx, s, contested.ID, 0, pdfRev(contested.ID, 100+i), sealAt(org.Village), card.StatusDraft, nextAfter(org.Village), sealEvent(org.Village))
			})
			wg.Go(func() {
				<-start
				for seq, l := range org.Levels {
					if err := addSeal(ctx, s, own[i].ID, seq, pdfRev(own[i].ID, seq+1), sealAt(l), card.StatusDraft, nextAfter(l), sealEvent(l)); err != nil {
						ownErrs[i] = err
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i := range n {
			switch err := contestErrs[i]; {
			case err == nil:
				wins++
			case !errors.Is(err, card.ErrConflict):
				t.Errorf("contested seal %d: %v", i, err)
			}
			if ownErrs[i] != nil {
				t.Errorf("card %d: %v", i, ownErrs[i])
			}
		}
		if wins != 1 {
			t.Errorf("%d seals of one level won, want 1", wins)
		}
		if got := count(t, s1, `SELECT count(*) FROM seals`); got != 1+3*n {
			t.Errorf("%d seal rows, want %d", got, 1+3*n)
		}
		if bad, err := s2.VerifyAudit(ctx); err != nil {
			t.Errorf("VerifyAudit = %d, %v", bad, err)
		}
	})

	t.Run("audit chain", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			tamper func(t *testing.T, s *DB)
			bad    int64
		}{
			{"edited reason", func(t *testing.T, s *DB) {
				raw(t, s, `UPDATE audit_events SET reason = 'nothing to see' WHERE id = 3`)
			}, 3},
			{"edited time", func(t *testing.T, s *DB) {
				raw(t, s, `UPDATE audit_events SET at = (SELECT at FROM audit_events WHERE id = 1) WHERE id = 4`)
			}, 4},
			{"rehashed without relinking", func(t *testing.T, s *DB) {
				ev, err := scanAudit(s.r.QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE id = 2`))
				if err != nil {
					t.Fatal(err)
				}
				ev.Actor = "someone else"
				raw(t, s, `UPDATE audit_events SET actor = $1, hash = $2 WHERE id = 2`, ev.Actor, audit.Hash(ev.PrevHash, &ev))
			}, 3},
			{"deleted middle", func(t *testing.T, s *DB) { raw(t, s, `DELETE FROM audit_events WHERE id = 2`) }, 2},
			{"deleted newest", func(t *testing.T, s *DB) { raw(t, s, `DELETE FROM audit_events WHERE id = 5`) }, 5},
			{"swapped", func(t *testing.T, s *DB) {
				raw(t, s, `UPDATE audit_events SET id = -1 WHERE id = 2`)
				raw(t, s, `UPDATE audit_events SET id = 2 WHERE id = 3`)
				raw(t, s, `UPDATE audit_events SET id = 3 WHERE id = -1`)
			}, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, _ := open(t)
				seedOrgs(t, s)
				c := newCard(t, s) // event 1
				if _, err := s.AppendAudit(ctx, audit.Event{Actor: "220102", OrgCode: "220102", Action: "card.read", CardID: c.ID,
					Reason: "review", Detail: []byte(`{"fields":["id_number"]}`)}); err != nil { // event 2
					t.Fatal(err)
				}
				for seq, l := range org.Levels { // events 3..5
					if err := addSeal(ctx, s, c.ID, seq, pdfRev(c.ID, seq+1), sealAt(l), card.StatusDraft, nextAfter(l), sealEvent(l)); err != nil {
						t.Fatal(err)
					}
				}
				if bad, err := s.VerifyAudit(ctx); bad != 0 || err != nil {
					t.Fatalf("VerifyAudit before tampering = %d, %v", bad, err)
				}
				tc.tamper(t, s)
				bad, err := s.VerifyAudit(ctx)
				if bad != tc.bad || !errors.Is(err, audit.ErrBroken) {
					t.Errorf("VerifyAudit = %d, %v; want %d, audit.ErrBroken", bad, err, tc.bad)
				}
			})
		}
		t.Run("empty and invalid", func(t *testing.T) {
			s, _ := open(t)
			if bad, err := s.VerifyAudit(ctx); bad != 0 || err != nil {
				t.Errorf("VerifyAudit(empty) = %d, %v", bad, err)
			}
			if _, err := s.AppendAudit(ctx, audit.Event{Actor: "a", Action: "x", Detail: []byte("{not json")}); !errors.Is(err, ErrInvalid) {
				t.Errorf("detail not JSON = %v", err)
			}
			if _, err := s.AppendAudit(ctx, audit.Event{Action: "x"}); !errors.Is(err, ErrInvalid) {
				t.Errorf("no actor = %v", err)
			}
			id, err := s.AppendAudit(ctx, audit.Event{Actor: "admin", Action: "user.login", RemoteAddr: "198.51.100.1"})
			if err != nil || id != 1 {
				t.Errorf("first event id = %d, %v", id, err)
			}
			evs, err := s.AuditEvents(ctx, "", 10)
			if err != nil || len(evs) != 1 || len(evs[0].PrevHash) != 0 || len(evs[0].Hash) != sm3.Size {
				t.Errorf("events = %+v, %v", evs, err)
			}
		})
	})

	t.Run("card numbers", func(t *testing.T) {
		s, _ := open(t)
		const n = 8
		const each = 5
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for range each {
					num, err := s.NextCardNumber(ctx, "220102", 2026)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[num] {
						t.Errorf("number %s allocated twice", num)
					}
					seen[num] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for i := 1; i <= n*each; i++ {
			if num := fmt.Sprintf("2201022026%06d", i); !seen[num] {
				t.Errorf("number %s never allocated", num)
			}
		}
		if num, err := s.NextCardNumber(ctx, "220102", 2027); err != nil || num != "2201022027000001" {
			t.Errorf("new year = %s, %v", num, err)
		}
		for _, tc := range []struct {
			county string
			year   int
		}{{"22010", 2026}, {"22010a", 2026}, {"220102001", 2026}, {"220102", 26}} {
			if _, err := s.NextCardNumber(ctx, tc.county, tc.year); !errors.Is(err, ErrInvalid) {
				t.Errorf("NextCardNumber(%q, %d) = %v", tc.county, tc.year, err)
			}
		}
	})

	t.Run("reopen", func(t *testing.T) {
		s, url := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			s2 := mustOpen(t, url)
			if got, err := s2.GetCard(ctx, c.ID); err != nil || got.Number != c.Number {
				t.Errorf("card after reopen = %+v, %v", got, err)
			}
			ms, err := loadMigrations(s2.d.name)
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, s2, `SELECT count(*) FROM schema_migrations`); n != len(ms) || n < 2 {
				t.Errorf("%d migrations recorded, want %d", n, len(ms))
			}
			if bad, err := s2.VerifyAudit(ctx); err != nil {
				t.Errorf("VerifyAudit after reopen = %d, %v", bad, err)
			}
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})

	testCouples(t, open)
	testStatusEntries(t, open)
	testPaging(t, open)
	testAdmin(t, open)
	testRateLimit(t, open)
	testUpgrade(t, open)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOpenRejects(t *testing.T) {
	for _, url := range []string{"", "mysql://root@localhost/db", "sqlite::memory:", "sqlite://a?b.db", "file:x.db"} {
		if _, err := Open(context.Background(), url); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", url, err)
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "p.db"))
	for _, tc := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"},
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", fmt.Sprint(busyTimeoutMS)},
		{"reader", "query_only", "1"},
		{"reader", "foreign_keys", "1"},
	} {
		db := s.w
		if tc.db == "reader" {
			db = s.r
		}
		var got string
		if err := db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil || got != tc.want {
			t.Errorf("%s PRAGMA %s = %q, %v; want %q", tc.db, tc.pragma, got, err, tc.want)
		}
	}
}

func TestPostgresUnreachable(t *testing.T) {
	testdb.PostgresBase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"); err == nil {
		t.Error("Open of a closed port succeeded")
	}
}
