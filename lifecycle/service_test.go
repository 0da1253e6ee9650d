package lifecycle

import (
	"bytes"
	"context"
	"errors"
	neturl "net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/statuslist"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/token"
)

func TestServiceLifecycle(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, url := open(t)
		ks := demoKeys(t)
		s := NewService(st, ks, "http://127.0.0.1:8080")
		ctx := context.Background()
		if err := SyncOrgs(ctx, st, ks); err != nil {
			t.Fatal(err)
		}
		village, town, county := actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")
		otherVillage := actor(t, st, "220102002001")

		if _, err := s.Apply(ctx, otherVillage, example(t)); !errors.Is(err, ErrForbidden) {
			t.Fatalf("another village applied for this one: %v", err)
		}
		c, err := s.Apply(ctx, village, example(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Seal(ctx, town, c.ID); !errors.Is(err, ErrWrongLevel) {
			t.Fatalf("township before village: %v", err)
		}
		if _, err := s.Seal(ctx, otherVillage, c.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("other village sealed: %v", err)
		}
		for _, a := range []Actor{village, town, county} {
			if c, err = s.Seal(ctx, a, c.ID); err != nil {
				t.Fatalf("seal %s: %v", a.Username, err)
			}
		}
		if c.Status != card.StatusIssued || c.Seq != 3 {
			t.Fatalf("after three seals: %s seq %d", c.Status, c.Seq)
		}
		if _, err := s.Seal(ctx, county, c.ID); !errors.Is(err, ErrState) {
			t.Fatalf("fourth seal: %v", err)
		}

		ch := NewChecker(s)
		ans, err := ch.Check(ctx, c.QRToken)
		if err != nil {
			t.Fatal(err)
		}
		if ans.Status != PublicValid || len(ans.Seals) != 3 || ans.Holders[1].Name != "王*堃" || ans.Holders[0].IDNumber != "2201**********1235" {
			t.Fatalf("answer %+v", ans)
		}
		if a2, _ := ch.CheckNumber(ctx, c.Number, "AAAA-AAAA"); a2.Status != PublicUnknown {
			t.Fatalf("wrong code: %s", a2.Status)
		}
		// Typed off the paper card with the usual slips: spaces in the
		// number, look-alike digits, lower case and a full-width dash in
		// the code. A genuine card stays genuine.
		code := token.VerificationCode(c.QRToken)
		slipped := strings.NewReplacer("O", "0", "I", "1", "B", "8", "-", "－").Replace(strings.ToLower(code))
		slipped = strings.NewReplacer("o", "0", "i", "1", "b", "8").Replace(slipped)
		spaced := c.Number[:6] + " " + c.Number[6:10] + " " + c.Number[10:]
		if a2, err := ch.CheckNumber(ctx, spaced, slipped); err != nil || a2.Status != PublicValid {
			t.Fatalf("check by %q / %q (printed %s / %s): %v %v", spaced, slipped, c.Number, code, a2, err)
		}

		// Only the issuing county may void; a reason class and note are required.
		if _, err := s.SetStatus(ctx, town, c.ID, card.StatusVoided, "other", "x", CardRef{}); !errors.Is(err, ErrLevel) {
			t.Fatalf("township voided: %v", err)
		}
		if _, err := s.SetStatus(ctx, county, c.ID, card.StatusVoided, "nonsense", "x", CardRef{}); !errors.Is(err, ErrReason) {
			t.Fatalf("bad reason: %v", err)
		}
		if _, err := s.SetStatus(ctx, county, c.ID, card.StatusVoided, "other", "test void", CardRef{}); err != nil {
			t.Fatal(err)
		}
		if ans, _ := ch.Check(ctx, c.QRToken); ans.Status != PublicVoided {
			t.Fatalf("after void: %s", ans.Status)
		}
		// The signed status list says so too, for offline checks.
		doc, err := s.StatusList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, _, err := statuslist.Parse(doc, ks.TrustList(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if list.Status(c.StatusIndex) != statuslist.Voided {
			t.Fatalf("status list: index %d is %q", c.StatusIndex, list.Status(c.StatusIndex))
		}

		// Personal data is encrypted at rest: no ID number or name in a
		// raw dump of the database.
		dump := rawDump(t, url)
		for _, secret := range []string{"220102199003071235", "220102199208152346", "王喆堃"} {
			if bytes.Contains(dump, []byte(secret)) {
				t.Fatalf("the database holds %q in plaintext", secret)
			}
		}
	})
}

// TestArt22VoidedRebirthBlocksNewRebirth: a voided re-birth card blocks a
// new re-birth card for the same couple.
func TestArt22VoidedRebirthBlocksNewRebirth(t *testing.T) {
	st, s := demoService(t)
	ctx := context.Background()
	a := rebirthExample(t)
	village, town, county := actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")
	c, err := s.Apply(ctx, village, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []Actor{village, town, county} {
		if _, err := s.Seal(ctx, x, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetStatus(ctx, county, c.ID, card.StatusVoided, "pregnancy_ended_without_certificate", "Art. 22", CardRef{}); err != nil {
		t.Fatal(err)
	}
	// The same couple, spouses in either order.
	a.Male.IDNumber, a.Female.IDNumber = a.Female.IDNumber, a.Male.IDNumber
	if _, err := s.Apply(ctx, village, a); !errors.Is(err, ErrRebirthBlocked) {
		t.Fatalf("new re-birth card after a void: %v", err)
	}
	// A first-child card for them is not blocked.
	b := example(t)
	if _, err := s.Apply(ctx, village, b); err != nil {
		t.Fatal(err)
	}
}

// rawDump returns the raw bytes of the database: the SQLite file (with
// its WAL), or a pg_dump of the test schema.
func rawDump(t *testing.T, url string) []byte {
	t.Helper()
	if strings.HasPrefix(url, "postgres") {
		// This test's schema only: the others belong to other tests (and
		// a dump of them all holds locks their cleanup waits for).
		schema := ""
		if u, err := neturl.Parse(url); err == nil {
			schema = u.Query().Get("search_path")
		}
		if schema == "" {
			t.Fatalf("the test database URL names no schema: %s", url)
		}
		out, err := exec.Command("pg_dump", "--data-only", "--schema="+schema, strings.SplitN(url, "?", 2)[0]).Output()
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("pg_dump: %v", err) // CI has it: never skip there
			}
			t.Skipf("pg_dump (Debian postgresql-client) not usable: %v", err)
		}
		return out
	}
	path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite://"), "sqlite:")
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(p)
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("no database file at %s", path)
	}
	return all
}

// TestArt14CounterService: at the township or county service hall staff
// take applications for villages in their jurisdiction, and every level
// can act at once; outside the jurisdiction they cannot.
func TestArt14CounterService(t *testing.T) {
	st, _ := storetest.Open(t)
	ks := demoKeys(t)
	s := NewService(st, ks, "http://127.0.0.1:8080")
	ctx := context.Background()
	if err := SyncOrgs(ctx, st, ks); err != nil {
		t.Fatal(err)
	}
	// Both taken before either is issued: a couple holds one valid card
	// of a type (onecard.go).
	var taken []*card.Card
	for _, code := range []string{"220102001", "220102"} {
		c, err := s.Apply(ctx, actor(t, st, code), example(t))
		if err != nil {
			t.Fatalf("%s at the counter: %v", code, err)
		}
		taken = append(taken, c)
	}
	for _, c := range taken {
		var err error
		for _, x := range []string{"220102001001", "220102001", "220102"} {
			if c, err = s.Seal(ctx, actor(t, st, x), c.ID); err != nil {
				t.Fatalf("seal %s: %v", x, err)
			}
		}
		if c.Status != card.StatusIssued {
			t.Fatalf("counter card: %s", c.Status)
		}
	}
	if _, err := s.Apply(ctx, actor(t, st, "220102002"), example(t)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another township's counter: %v", err)
	}
}
