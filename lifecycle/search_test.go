package lifecycle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

func TestNormalizeQuery(t *testing.T) {
	id := withCheckDigit("22010219880412003")
	for _, tc := range []struct{ in, kind, norm string }{
		{id, SearchIDNumber, id},
		{"２２０１０２ １９８８０４１２ ００３" + id[17:], SearchIDNumber, id},
		{"220102-19880412-003" + id[17:], SearchIDNumber, id},
		{strings.ToLower("11010519491231002x"), SearchIDNumber, "11010519491231002X"},
		{"110105491231002", SearchIDNumber, "110105491231002"},
		{" 张 伟 ", SearchName, "张伟"},
		{"阿依古丽•买买提", SearchName, "阿依古丽·买买提"},
		{"阿依古丽．买买提", SearchName, "阿依古丽·买买提"},
	} {
		kind, norm, err := NormalizeQuery(tc.in)
		if err != nil || kind != tc.kind || norm != tc.norm {
			t.Errorf("NormalizeQuery(%q) = %q %q %v, want %q %q", tc.in, kind, norm, err, tc.kind, tc.norm)
		}
	}
	for _, bad := range []string{"", "   ", "2201021988", "张伟\u202e", "张\x01伟", strings.Repeat("张", maxQueryRunes+1), "\xff"} {
		if _, _, err := NormalizeQuery(bad); !errors.Is(err, ErrSearchQuery) {
			t.Errorf("NormalizeQuery(%q): %v, want ErrSearchQuery", bad, err)
		}
	}
}

// searchEvents are the audit log's search events.
func searchEvents(t *testing.T, st *store.DB) []audit.Event {
	t.Helper()
	evs, err := st.AuditEvents(context.Background(), "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, ev := range evs {
		if ev.Action == audit.CardsSearch {
			out = append(out, ev)
		}
	}
	return out
}

// TestSearchByHolder (issue 16): staff find a card by a holder's full
// name or ID number, however it is typed, within their jurisdiction only;
// every search is in the audit log without the value searched; the
// database, read as an outsider would (every value of every table, a raw
// SQLite file or a pg_dump), holds the index but no name or ID number; a
// rotation of the data key derives the index again, and Reindex fills it
// for cards stored without one. SQLite and PostgreSQL.
func TestSearchByHolder(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, dbURL := open(t)
		ks := ownKeys(t)
		ctx := context.Background()
		r := populate(t, st, ks)
		s := r.s
		village, town, county := actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")
		otherTown := actor(t, st, "220102002")
		idZhang := withCheckDigit("22010219880412003") // 张伟's, the refused application's husband
		searches := 0
		find := func(a Actor, q string) []card.Card {
			t.Helper()
			cards, _, err := s.Search(ctx, a, q, "", 50)
			if err != nil {
				t.Fatalf("search %q as %s: %v", q, a.Username, err)
			}
			searches++
			return cards
		}
		holds := func(cards []card.Card, id string) bool {
			for i := range cards {
				app, err := s.Applicant(&cards[i])
				if err != nil {
					t.Fatal(err)
				}
				if app.Male.IDNumber == id || app.Female.IDNumber == id {
					return true
				}
			}
			return false
		}
		for _, a := range []Actor{village, town, county} {
			for _, q := range []string{idZhang, "２２０１０２ １９８８０４１２ ００３" + idZhang[17:], "张伟", " 张 伟", "刘芳"} {
				if got := find(a, q); len(got) != 1 || !holds(got, idZhang) {
					t.Errorf("%s searching %q found %d cards, want the refused application", a.Username, q, len(got))
				}
			}
		}
		// A part of a name, another township: nothing.
		if got := find(county, "张"); len(got) != 0 {
			t.Errorf("a part of a name found %d cards", len(got))
		}
		if got := find(otherTown, idZhang); len(got) != 0 {
			t.Errorf("another township found %d cards by the ID number", len(got))
		}
		if got := find(otherTown, "张伟"); len(got) != 0 {
			t.Errorf("another township found %d cards by the name", len(got))
		}
		if _, _, err := s.Search(ctx, county, "2201", "", 50); !errors.Is(err, ErrSearchQuery) {
			t.Errorf("a part of an ID number: %v, want ErrSearchQuery", err)
		}

		// Every search audited, none with the value searched.
		evs := searchEvents(t, st)
		if len(evs) != searches {
			t.Fatalf("%d search events for %d searches", len(evs), searches)
		}
		for _, ev := range evs {
			if found := readable(t, ev.Detail, r.secrets); len(found) > 0 || strings.Contains(string(ev.Detail), "张") {
				t.Errorf("search event %s reveals %q", ev.Detail, found)
			}
		}

		// As an outsider: the index is in the dump, no name or number is.
		p, err := s.privacy()
		if err != nil {
			t.Fatal(err)
		}
		idTerm := p.cur.term(SearchIDNumber, idZhang)
		dump := func() [][]byte {
			if strings.HasPrefix(dbURL, "postgres") {
				return pgDumpValues(t, dbURL)
			}
			return sqliteValues(t, strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite://"), "sqlite:"))
		}
		has := func(vals [][]byte, x string) bool {
			for _, v := range vals {
				if bytes.Contains(v, []byte(x)) {
					return true
				}
			}
			return false
		}
		vals := dump()
		if !has(vals, idTerm) {
			t.Fatal("the dump does not hold the ID number's search term: the check below would prove nothing")
		}
		for i, v := range vals {
			if found := readable(t, v, r.secrets); len(found) > 0 {
				t.Errorf("value %d of the database (%d bytes, starting %q) reveals %q", i, len(v), v[:min(len(v), 16)], found)
			}
		}
		// Keyed: another data key gives another term.
		other := make([]byte, 32)
		rand.Read(other)
		op, err := newPrivacy(other)
		if err != nil {
			t.Fatal(err)
		}
		if op.cur.term(SearchIDNumber, idZhang) == idTerm {
			t.Fatal("the search term does not depend on the data key")
		}

		// A rotation derives the index from the new key.
		next, err := ks.NextDataKey()
		if err != nil {
			t.Fatal(err)
		}
		ring, err := ks.DataKeyRing()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := RotateDataKey(ctx, st, ring, next); err != nil {
			t.Fatal(err)
		}
		if err := ks.PromoteDataKey(); err != nil {
			t.Fatal(err)
		}
		s = NewService(st, ks, "http://127.0.0.1:8080")
		// The index as stored (the audit log keeps the old searches'
		// terms: it is never rewritten).
		var stored []string
		all, err := st.ListCards(ctx, card.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if err := st.RewriteCard(ctx, c.ID, func(x *card.Stored) error { stored = append(stored, x.Terms...); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		np, err := newPrivacy(next)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(stored, idTerm) || !slices.Contains(stored, np.cur.term(SearchIDNumber, idZhang)) {
			t.Error("after the rotation the index is not under the new key")
		}
		if got := find(county, idZhang); len(got) != 1 || !holds(got, idZhang) {
			t.Fatalf("after the rotation the search finds %d cards", len(got))
		}

		// Cards stored without terms (before migration 0011) are found
		// after Reindex.
		for _, c := range all {
			if err := st.RewriteCard(ctx, c.ID, func(x *card.Stored) error { x.Terms = nil; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if got := find(county, idZhang); len(got) != 0 {
			t.Fatalf("without terms the search finds %d cards", len(got))
		}
		ring, err = ks.DataKeyRing()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := Reindex(ctx, st, ring); err != nil || n != len(all) {
			t.Fatalf("reindex: %d cards of %d, %v", n, len(all), err)
		}
		if got := find(county, idZhang); len(got) != 1 {
			t.Fatalf("after Reindex the search finds %d cards", len(got))
		}
		var d map[string]any
		evs = searchEvents(t, st)
		if err := json.Unmarshal(evs[0].Detail, &d); err != nil || d["by"] == nil || d["term"] == nil || d["cards"] == nil {
			t.Fatalf("search event detail %s: %v", evs[0].Detail, err)
		}
	})
}

// TestSearchTermVector is the known-answer vector of the search index in
// docs/privacy.md ("Search"), computed independently with Python's hmac
// over hashlib's SM3: data key 000102…1f.
func TestSearchTermVector(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	p, err := newPrivacy(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(p.cur.search); got != "b00ff79324598ee6944f07dbc808383c3941b9878e678120a3b6dd11f571c425" {
		t.Errorf("search key %s", got)
	}
	for _, tc := range []struct{ typed, want string }{
		{"110105 19491231 002x", "dbba843c94ff7e1444e2b3877ce9ac17"},
		{"张 伟", "865ca7912aa5081960d313657abed40c"},
		{"阿依古丽•买买提", "b851b999d10ea8b32362e8d27d16a634"},
	} {
		kind, norm, err := NormalizeQuery(tc.typed)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.queryTerms(kind, norm); len(got) != 1 || got[0] != tc.want {
			t.Errorf("term of %q = %v, want %s", tc.typed, got, tc.want)
		}
	}
	app := &card.Applicant{Male: card.Person{Name: "张伟", IDNumber: "11010519491231002X"}, Female: card.Person{Name: "阿依古丽·买买提", IDNumber: "11010519491231002X"}}
	if got := p.searchTerms(app); !slices.Equal(got, []string{"865ca7912aa5081960d313657abed40c", "dbba843c94ff7e1444e2b3877ce9ac17", "b851b999d10ea8b32362e8d27d16a634"}) {
		t.Errorf("a card's terms %v (one per distinct value, in order)", got)
	}
}
