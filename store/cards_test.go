package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
)

// bulkInsert writes cards straight into the table in one transaction, for
// tests that need thousands of rows. Only ID, Status, VillageCode,
// CountyCode, StatusIndex, CoupleKey and CreatedAt are taken from cs.
func bulkInsert(t *testing.T, s *DB, cs []card.Card) {
	t.Helper()
	ctx := context.Background()
	ss := s
	tx, err := ss.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO cards (id, number, type, status, village_code, county_code,
		applicant, token_salt, status_index, created_at, updated_at, created_by, couple_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for _, c := range cs {
		if _, err := stmt.ExecContext(ctx, c.ID, "N"+c.ID, string(card.First), string(c.Status), c.VillageCode,
			c.CountyCode, []byte(`{}`), []byte{}, c.StatusIndex, ss.d.timeArg(normTime(c.CreatedAt)), "bulk", c.CoupleKey); err != nil {
			t.Fatalf("bulk insert %s: %v", c.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func ids(cs []card.Card) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// pageAll reads every card matching f, limit cards at a time.
func pageAll(t *testing.T, s *DB, f card.Filter, limit int) []string {
	t.Helper()
	f.Limit = limit
	var out []string
	for range 100 {
		page, err := s.ListCards(context.Background(), f)
		if err != nil {
			t.Fatalf("ListCards(%+v): %v", f, err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d cards, limit %d", len(page), limit)
		}
		out = append(out, ids(page)...)
		if len(page) < limit {
			return out
		}
		f.AfterID = page[len(page)-1].ID
	}
	t.Fatal("paging did not end")
	return nil
}

func testCouples(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("couple key", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		keyA := strings.Repeat("ab", 32) // 64 digits, the most allowed
		keyB := "0123abcd"
		withKey := func(k string, typ card.Type) func(*card.Card) {
			return func(c *card.Card) { c.CoupleKey, c.Type = k, typ }
		}
		a1 := newCardWith(t, s, withKey(keyA, card.Rebirth))
		b1 := newCardWith(t, s, withKey(keyB, card.First))
		a2 := newCardWith(t, s, withKey(keyA, card.Rebirth))
		none := newCard(t, s)

		if got, err := s.GetCard(ctx, a1.ID); err != nil || got.CoupleKey != keyA {
			t.Errorf("GetCard(a1).CoupleKey = %q, %v", got.CoupleKey, err)
		}
		if got, err := s.GetCardByToken(ctx, none.QRToken); err != nil || got.CoupleKey != "" {
			t.Errorf("card without a couple key = %q, %v", got.CoupleKey, err)
		}
		if got, err := s.ListCards(ctx, card.Filter{CoupleKey: keyA}); err != nil || !slices.Equal(ids(got), []string{a1.ID, a2.ID}) {
			t.Errorf("couple A's cards = %v, %v; want %v", ids(got), err, []string{a1.ID, a2.ID})
		}
		// Art. 22: the couple's earlier voided re-birth card.
		ev := audit.Event{Actor: "220102", OrgCode: "220102", Action: "card.void"}
		if err := s.SetStatus(ctx, a1.ID, []card.Status{card.StatusDraft}, card.StatusVoided, "error", "", "", ev); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListCards(ctx, card.Filter{CoupleKey: keyA, Statuses: []card.Status{card.StatusVoided}})
		if err != nil || len(got) != 1 || got[0].ID != a1.ID || got[0].Type != card.Rebirth || got[0].CoupleKey != keyA {
			t.Errorf("couple A's voided cards = %+v, %v", got, err)
		}
		if got, err := s.ListCards(ctx, card.Filter{CoupleKey: keyB, Statuses: []card.Status{card.StatusVoided}}); err != nil || len(got) != 0 {
			t.Errorf("couple B's voided cards = %v, %v", ids(got), err)
		}
		if got, err := s.ListCards(ctx, card.Filter{CoupleKey: "ff"}); err != nil || len(got) != 0 {
			t.Errorf("unknown couple's cards = %v, %v", ids(got), err)
		}
		if got, err := s.ListCards(ctx, card.Filter{}); err != nil || len(got) != 4 || got[1].ID != b1.ID {
			t.Errorf("no couple filter = %v, %v", ids(got), err)
		}

		before := count(t, s, `SELECT count(*) FROM cards`)
		for _, bad := range []string{strings.Repeat("a", 65), "ABCD", "xyz", "ab cd", "ab\x00"} {
			if _, err := s.ListCards(ctx, card.Filter{CoupleKey: bad}); !errors.Is(err, ErrInvalid) {
				t.Errorf("filter by couple key %q = %v, want ErrInvalid", bad, err)
			}
			id, _ := card.NewID()
			c := card.Card{ID: id, Number: "X" + id, Type: card.First, VillageCode: "220102001001", CountyCode: "220102",
				Applicant: []byte(`{}`), StatusIndex: 7, CreatedBy: "u", CoupleKey: bad}
			if err := s.CreateCard(ctx, &c, []byte("%PDF"), audit.Event{Actor: "u", Action: "card.create"}); !errors.Is(err, ErrInvalid) {
				t.Errorf("create with couple key %q = %v, want ErrInvalid", bad, err)
			}
		}
		if after := count(t, s, `SELECT count(*) FROM cards`); after != before {
			t.Errorf("refused creates left %d cards", after-before)
		}
		// The database holds the length bound too.
		if _, err := s.w.ExecContext(ctx, `UPDATE cards SET couple_key = $1 WHERE id = $2`,
			strings.Repeat("a", 65), none.ID); err == nil {
			t.Error("the schema accepts a 65-character couple key")
		}
	})
}

func testStatusEntries(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("status entries", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		if got, err := s.StatusEntries(ctx); err != nil || len(got) != 0 {
			t.Fatalf("StatusEntries(empty) = %v, %v", got, err)
		}
		cs := make([]card.Card, 6)
		for i := range cs {
			cs[i] = newCard(t, s)
		}
		ev := audit.Event{Actor: "220102", OrgCode: "220102", Action: "card.status"}
		for _, tc := range []struct {
			c          card.Card
			to         card.Status
			superseded string
		}{
			{cs[0], card.StatusVoided, ""},
			{cs[1], card.StatusRevoked, ""},
			{cs[2], card.StatusSuperseded, cs[3].ID},
			{cs[3], card.StatusIssued, ""},
			{cs[4], card.StatusRefused, ""},
			// cs[5] stays a draft.
		} {
			if err := s.SetStatus(ctx, tc.c.ID, []card.Status{card.StatusDraft}, tc.to, "r", "", tc.superseded, ev); err != nil {
				t.Fatal(err)
			}
		}
		want := []card.StatusEntry{{Index: cs[0].StatusIndex, Status: card.StatusVoided}, {Index: cs[1].StatusIndex, Status: card.StatusRevoked}, {Index: cs[2].StatusIndex, Status: card.StatusSuperseded}}
		slices.SortFunc(want, func(a, b card.StatusEntry) int { return a.Index - b.Index })
		if got, err := s.StatusEntries(ctx); err != nil || !slices.Equal(got, want) {
			t.Fatalf("StatusEntries = %v, %v; want %v", got, err, want)
		}

		// Past ListCards' 1000: 1400 more cards, three quarters listed.
		taken := map[int]bool{}
		for _, c := range cs {
			taken[c.StatusIndex] = true
		}
		var bulk []card.Card
		for i := range 1400 {
			idx := card.StatusListSize - 1 - 37*i
			if taken[idx] {
				continue
			}
			st := []card.Status{card.StatusVoided, card.StatusRevoked, card.StatusSuperseded, card.StatusIssued}[i%4]
			bulk = append(bulk, card.Card{ID: fmt.Sprintf("%016x", 0xb000+i), Status: st, VillageCode: "220102001001",
				CountyCode: "220102", StatusIndex: idx, CreatedAt: time.Now()})
			if st != card.StatusIssued {
				want = append(want, card.StatusEntry{Index: idx, Status: st})
			}
		}
		bulkInsert(t, s, bulk)
		slices.SortFunc(want, func(a, b card.StatusEntry) int { return a.Index - b.Index })
		got, err := s.StatusEntries(ctx)
		if err != nil || len(got) != len(want) || len(want) <= 1000 {
			t.Fatalf("StatusEntries = %d entries, %v; want %d", len(got), err, len(want))
		}
		if !slices.Equal(got, want) {
			t.Error("StatusEntries differ from the listed cards in index order")
		}
	})

	t.Run("status entries read the partial index", func(t *testing.T) {
		s, _ := open(t)
		ss := s
		var plan []string
		switch ss.d.name {
		case "sqlite":
			rows, err := ss.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+statusEntriesQuery)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		case "postgres":
			// On a small table a sequential scan is cheaper; forbid it to
			// see whether the planner can use the index at all.
			tx, err := ss.w.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
			rows, err := tx.QueryContext(ctx, `EXPLAIN `+statusEntriesQuery)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		text := strings.Join(plan, "\n")
		t.Logf("plan:\n%s", text)
		if !strings.Contains(text, "cards_status_list") {
			t.Errorf("StatusEntries plan does not read cards_status_list:\n%s", text)
		}
	})
}

func testPaging(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("list cards paging", func(t *testing.T) {
		s, _ := open(t)
		// Scrambled IDs and creation times with many ties, so that neither
		// insertion order nor ID order alone is ListCards' order.
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		var all []card.Card
		for i := range 2500 {
			c := card.Card{ID: fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15), StatusIndex: i,
				CreatedAt:  t0.Add(time.Duration((i*7919)%700) * time.Millisecond),
				Status:     []card.Status{card.StatusVoided, card.StatusDraft, card.StatusIssued, card.StatusIssued, card.StatusIssued}[i%5],
				CountyCode: "220102", VillageCode: "220102001001"}
			if i%3 == 0 {
				c.CountyCode, c.VillageCode = "220103", "220103001001"
			}
			all = append(all, c)
		}
		bulkInsert(t, s, all)
		slices.SortFunc(all, func(a, b card.Card) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		if got := pageAll(t, s, card.Filter{}, 1000); !slices.Equal(got, ids(all)) {
			t.Errorf("paging through all %d cards by 1000 gave %d, not in order", len(all), len(got))
		}
		var export []card.Card
		for _, c := range all {
			if c.CountyCode == "220102" && c.Status == card.StatusIssued {
				export = append(export, c)
			}
		}
		f := card.Filter{CountyCode: "220102", Statuses: []card.Status{card.StatusIssued}}
		if got := pageAll(t, s, f, 333); !slices.Equal(got, ids(export)) || len(export) < 1000 {
			t.Errorf("county 220102's issued cards: %d paged, want %d in order", len(got), len(export))
		}
		if got, err := s.ListCards(ctx, card.Filter{CountyCode: "220103", Limit: 1000}); err != nil || len(got) != 834 {
			t.Errorf("county 220103 = %d cards, %v; want 834", len(got), err)
		}
		if got, err := s.ListCards(ctx, card.Filter{Limit: 5000}); err != nil || len(got) != 1000 {
			t.Errorf("Limit 5000 = %d cards, %v; want the cap 1000", len(got), err)
		}
		if got, err := s.ListCards(ctx, card.Filter{AfterID: all[len(all)-1].ID}); err != nil || len(got) != 0 {
			t.Errorf("after the newest card = %d cards, %v", len(got), err)
		}
		// A cursor inside a run of equal creation times continues with the
		// next ID of the same time.
		for i := 1; i < len(all); i++ {
			if all[i].CreatedAt.Equal(all[i-1].CreatedAt) {
				got, err := s.ListCards(ctx, card.Filter{AfterID: all[i-1].ID, Limit: 1})
				if err != nil || len(got) != 1 || got[0].ID != all[i].ID {
					t.Errorf("after %s (a tie) = %v, %v; want %s", all[i-1].ID, ids(got), err, all[i].ID)
				}
				break
			}
		}
		if _, err := s.ListCards(ctx, card.Filter{AfterID: "00000000000000aa"}); !errors.Is(err, card.ErrNotFound) {
			t.Errorf("after a missing card = %v, want card.ErrNotFound", err)
		}
		for _, county := range []string{"2201", "220102001", "22010x"} {
			if _, err := s.ListCards(ctx, card.Filter{CountyCode: county}); !errors.Is(err, ErrInvalid) {
				t.Errorf("county %q = %v, want ErrInvalid", county, err)
			}
		}
	})
}

func testAdmin(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("user administration", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		users := map[string]*staff.User{}
		for _, u := range []staff.User{
			{Username: "west", OrgCode: "220102001002", PasswordHash: "h1"},
			{Username: "east", OrgCode: "220102001001", PasswordHash: "h2"},
			{Username: "town", OrgCode: "220102001", PasswordHash: "h3"},
			{Username: "county", OrgCode: "220102", PasswordHash: "h4"},
			{Username: "south", OrgCode: "220102002001", PasswordHash: "h5"},
		} {
			if err := s.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			users[u.Username] = &u
		}
		names := func(us []staff.User) []string {
			var out []string
			for _, u := range us {
				out = append(out, u.Username)
			}
			return out
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"county", "town", "east", "west", "south"}},
			{"220102001", []string{"town", "east", "west"}},
			{"220102001001", []string{"east"}},
			{"229", nil},
		} {
			got, err := s.ListUsers(ctx, tc.prefix)
			if err != nil || !slices.Equal(names(got), tc.want) {
				t.Errorf("ListUsers(%q) = %v, %v; want %v", tc.prefix, names(got), err, tc.want)
			}
		}
		if got, _ := s.ListUsers(ctx, "220102001001"); len(got) == 1 && got[0] != *users["east"] {
			t.Errorf("listed user = %+v, want %+v", got[0], *users["east"])
		}
		if _, err := s.ListUsers(ctx, "22%"); !errors.Is(err, ErrInvalid) {
			t.Errorf("ListUsers(pattern) = %v, want ErrInvalid", err)
		}

		// Changing a password or disabling an account ends that user's
		// sessions (issue 12 L1), and no one else's.
		east := users["east"]
		session := func(u *staff.User, name string) []byte {
			h := sha256.Sum256([]byte(name))
			if err := s.CreateSession(ctx, staff.Session{TokenHash: h[:], UserID: u.ID, Kind: staff.ConsoleSession, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			return h[:]
		}
		alive := func(h []byte) bool {
			_, err := s.GetSession(ctx, h)
			if err != nil && !errors.Is(err, staff.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		eastSession, westSession := session(east, "east 1"), session(users["west"], "west 1")
		if err := s.SetUserPassword(ctx, east.ID, "$argon2id$new"); err != nil {
			t.Fatal(err)
		}
		if alive(eastSession) || !alive(westSession) {
			t.Errorf("after SetUserPassword: east's session alive %t, west's %t; want false, true", alive(eastSession), alive(westSession))
		}
		eastSession = session(east, "east 2")
		want := *east
		want.PasswordHash = "$argon2id$new"
		if got, err := s.GetUser(ctx, east.ID); err != nil || got != want {
			t.Errorf("after SetUserPassword = %+v, %v; want %+v", got, err, want)
		}
		if err := s.SetUserDisabled(ctx, east.ID, true); err != nil {
			t.Fatal(err)
		}
		want.Disabled = true
		if got, err := s.GetUser(ctx, east.ID); err != nil || got != want {
			t.Errorf("after disabling = %+v, %v; want %+v", got, err, want)
		}
		if alive(eastSession) || !alive(westSession) {
			t.Errorf("after SetUserDisabled: east's session alive %t, west's %t; want false, true", alive(eastSession), alive(westSession))
		}
		if err := s.SetUserPassword(ctx, 1<<40, "$argon2id$x"); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("SetUserPassword(missing user) = %v, want staff.ErrNotFound", err)
		}
		if got, _ := s.GetUser(ctx, users["west"].ID); got.Disabled {
			t.Error("disabling one user disabled another")
		}
		if err := s.SetUserDisabled(ctx, east.ID, false); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetUser(ctx, east.ID); got.Disabled {
			t.Error("re-enabled user is still disabled")
		}
		if err := s.SetUserPassword(ctx, east.ID, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty password hash = %v, want ErrInvalid", err)
		}
		if got, _ := s.GetUser(ctx, east.ID); got.PasswordHash != want.PasswordHash {
			t.Error("a refused password change changed the hash")
		}
		const missing = 1 << 40
		if err := s.SetUserPassword(ctx, missing, "h"); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("SetUserPassword(missing) = %v, want staff.ErrNotFound", err)
		}
		if err := s.SetUserDisabled(ctx, missing, true); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("SetUserDisabled(missing) = %v, want staff.ErrNotFound", err)
		}
	})

	t.Run("update org", func(t *testing.T) {
		s, _ := open(t)
		seedOrgs(t, s)
		o := testOrgs[1]
		o.Name = "永吉街道（新）"
		if err := s.UpdateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetOrg(ctx, o.Code); err != nil || got != o {
			t.Errorf("renamed org = %+v, %v; want %+v", got, err, o)
		}
		o.Retired = true
		if err := s.UpdateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetOrg(ctx, o.Code); err != nil || got != o {
			t.Errorf("retired org = %+v, %v; want %+v", got, err, o)
		}
		if got, _ := s.GetOrg(ctx, testOrgs[2].Code); got != testOrgs[2] {
			t.Errorf("another org changed: %+v", got)
		}
		o.Retired = false
		if err := s.UpdateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetOrg(ctx, o.Code); got.Retired {
			t.Error("reinstated org is still retired")
		}
		for _, tc := range []struct {
			name string
			org  org.Org
			want error
		}{
			{"missing", org.Org{Code: "229999", Level: "county", Name: "x"}, org.ErrUnknown},
			{"level of another code length", org.Org{Code: o.Code, Level: "county", Name: "x"}, ErrInvalid},
			{"no name", org.Org{Code: o.Code, Level: o.Level}, ErrInvalid},
		} {
			if err := s.UpdateOrg(ctx, tc.org); !errors.Is(err, tc.want) {
				t.Errorf("%s: UpdateOrg = %v, want %v", tc.name, err, tc.want)
			}
		}
		if got, _ := s.GetOrg(ctx, o.Code); got != o {
			t.Errorf("refused updates changed the org: %+v", got)
		}
	})
}

// testUpgrade takes a database back to schema version 1 with a card in
// it, as production databases are, and checks that reopening migrates it.
func testUpgrade(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("upgrade from version 1", func(t *testing.T) {
		s, url := open(t)
		seedOrgs(t, s)
		c := newCard(t, s)
		lockedType := "INTEGER"
		if s.d.name == "postgres" {
			lockedType = "timestamptz"
		}
		for _, q := range []string{
			`DROP TABLE card_terms`, // version 11
			`ALTER TABLE users DROP COLUMN display_name`,
			`ALTER TABLE cards DROP COLUMN cross_province_reason`, // version 10
			`ALTER TABLE cards DROP COLUMN cross_province`,
			`ALTER TABLE cards DROP COLUMN complete_at`,
			`DROP TABLE pre_reviews`, // version 9
			`DROP TABLE postings`,    // version 8
			`DROP TABLE population`,
			`DROP TABLE findings`,
			`ALTER TABLE cards DROP COLUMN commitment`,
			`DROP TABLE approvals`, // version 7
			`ALTER TABLE seals DROP COLUMN approved_at`,
			`ALTER TABLE seals DROP COLUMN approved_by`,
			`ALTER TABLE cards DROP COLUMN issuer_code`,
			`DROP INDEX sessions_user`, // version 6
			`ALTER TABLE sessions DROP COLUMN kind`,
			`DROP TABLE throttles`,
			`ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE users ADD COLUMN locked_until ` + lockedType,
			`DROP INDEX cards_awaiting`, // version 5
			`ALTER TABLE cards DROP COLUMN next_level`,
			`DROP TABLE attachments`, // version 4
			`DROP TABLE forms`,
			`DROP TABLE notices`,
			`DROP TABLE audit_checkpoints`, // version 3
			`DROP TABLE rate_limits`,
			`DROP INDEX cards_couple`,
			`DROP INDEX cards_created`,
			`DROP INDEX cards_county`,
			`DROP INDEX cards_status_list`,
			`ALTER TABLE cards DROP COLUMN couple_key`,
			`DELETE FROM schema_migrations WHERE version >= 2`,
		} {
			raw(t, s, q)
		}
		// A user locked out and logged in under version 1.
		raw(t, s, `INSERT INTO users (username, org_code, password_hash, failed_logins) VALUES ('old', '220102', 'h', 5)`)
		raw(t, s, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) SELECT $1, id, $2, $3 FROM users WHERE username = 'old'`,
			bytes.Repeat([]byte{7}, 32), s.d.timeArg(now()), s.d.timeArg(now().Add(time.Hour)))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, url)
		// Version 6: no lockout, and sessions of no kind are ended.
		if u, err := s.GetUserByName(ctx, "old"); err != nil || u.Disabled {
			t.Errorf("version 1 user after upgrade = %+v, %v", u, err)
		}
		if _, err := s.GetSession(ctx, bytes.Repeat([]byte{7}, 32)); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("version 1 session after upgrade: %v, want ended", err)
		}
		got, err := s.GetCard(ctx, c.ID)
		// Version 10: the clock of a card from before runs from its
		// creation, as it did.
		if err != nil || got.CoupleKey != "" || got.Number != c.Number || got.NextLevel != org.Village || !got.CompleteAt.Equal(got.CreatedAt) || got.CrossProvince {
			t.Fatalf("version 1 card after upgrade = %+v, %v", got, err)
		}
		ms, err := loadMigrations(s.d.name)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, `SELECT count(*) FROM schema_migrations`); n != len(ms) || n < 3 {
			t.Errorf("%d migrations recorded after upgrade, want %d", n, len(ms))
		}
		ev := audit.Event{Actor: "220102", OrgCode: "220102", Action: "card.void"}
		if err := s.SetStatus(ctx, c.ID, []card.Status{card.StatusDraft}, card.StatusVoided, "r", "", "", ev); err != nil {
			t.Fatal(err)
		}
		if es, err := s.StatusEntries(ctx); err != nil || len(es) != 1 || es[0].Index != c.StatusIndex {
			t.Errorf("StatusEntries after upgrade = %v, %v", es, err)
		}
		if ok, err := s.Hit(ctx, "upgrade", time.Minute, 1); !ok || err != nil {
			t.Errorf("Hit after upgrade = %t, %v", ok, err)
		}
	})
}
