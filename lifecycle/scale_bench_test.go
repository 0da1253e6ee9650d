package lifecycle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/token"
)

// BenchmarkScale is issue 13's scale proof: the public check by token, the
// manual check by number and code, a village's queue page and an export
// page, each on a registry of 1 000 cards and on a large one (1 000 000
// with CARDSEAL_SCALE_CARDS=1000000, as scripts/bench.sh scale runs it;
// 10 000 otherwise, so that a plain -bench run stays quick), on SQLite
// and, with CARDSEAL_TEST_POSTGRES, on PostgreSQL. Names end in
// /cards=N, so `benchstat -col /cards` sets the sizes side by side.
//
// Both registries hold the same measured cards (scale_fill_test.go): 500
// genuine issued cards, rendered and sealed three times through the
// Service, that the checks pick at random; 120 drafts awaiting the village
// 220102001001, whose first page of 50 the queue reads; 200 more issued
// cards of county 220102, so that its export has a page of 500 after the
// cursor in the middle of its listing. The rest of the registry is
// generated cards spread over 9 000 villages and ten years. What grows is
// the registry around the same work.
//
// The checks are measured hot and cold. Hot: every genuine card's
// verdict is in the Checker's caches and younger than storedTTL, as for
// cards scanned again within seconds; what is left is the card row read
// by token or number, the county's name, and the answer. Cold: a fresh
// Checker for each check, as for a card scanned for the first time (with
// a million cards and caches of 10 000 entries, most scans): the stored
// PDF is read, hashed and its seal chain verified.
//
// Nothing is filled unless a benchmark runs (go test -run never fills).
// With CARDSEAL_SCALE_DIR set the registries are kept there (SQLite files,
// the keystore, and a manifest naming each PostgreSQL schema) and reused
// by later runs.
func BenchmarkScale(b *testing.B) {
	env := newScaleEnv(b)
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			if backend == "postgres" && os.Getenv("CARDSEAL_TEST_POSTGRES") == "" {
				b.Skip("PostgreSQL disabled: set CARDSEAL_TEST_POSTGRES to a server URL to measure it")
			}
			fixtures := []*scaleFixture{env.fixture(b, backend, scaleSmall), env.fixture(b, backend, env.large)}
			for _, op := range scaleOps {
				b.Run(op.name, func(b *testing.B) {
					for _, fx := range fixtures {
						b.Run(fmt.Sprintf("cards=%d", fx.Cards), func(b *testing.B) { op.run(b, fx) })
					}
				})
			}
		})
	}
}

// scaleOps are the operations measured, each through the Service or the
// Checker as the API calls them.
var scaleOps = []struct {
	name string
	run  func(*testing.B, *scaleFixture)
}{
	{"check/hot", func(b *testing.B, fx *scaleFixture) { benchCheck(b, fx, false, false) }},
	{"check/cold", func(b *testing.B, fx *scaleFixture) { benchCheck(b, fx, false, true) }},
	{"number/hot", func(b *testing.B, fx *scaleFixture) { benchCheck(b, fx, true, false) }},
	{"number/cold", func(b *testing.B, fx *scaleFixture) { benchCheck(b, fx, true, true) }},
	{"queue", benchQueue},
	{"export", benchExport},
}

// benchCheck checks a random genuine card per iteration, by token or by
// number and code; each answer must say valid.
func benchCheck(b *testing.B, fx *scaleFixture, byNumber, cold bool) {
	ctx := context.Background()
	check := func(ch *Checker, r scaleRef) {
		var a *Answer
		var err error
		if byNumber {
			a, err = ch.CheckNumber(ctx, r.Number, r.Code)
		} else {
			a, err = ch.Check(ctx, r.Token)
		}
		if err != nil || a.Status != PublicValid {
			b.Fatalf("check of genuine card %s: %v, %+v", r.Number, err, a)
		}
	}
	if !cold {
		for _, r := range fx.Genuine {
			check(fx.hot, r)
		}
	}
	rng := newRand(uint64(len(fx.Genuine)))
	loop(b, func() {
		ch := fx.hot
		if cold {
			ch = NewChecker(fx.svc)
		}
		check(ch, fx.Genuine[rng.IntN(len(fx.Genuine))])
	})
}

// loop runs op as the benchmark's loop and reports, besides the time,
// the CPU time the process spent per op (cpu-ns/op): on a machine shared
// with other work the wall-clock time includes waiting for a core, which
// swings with the load; the CPU time does not. It is the whole cost on
// SQLite, and the client's share on PostgreSQL (the server's is not
// counted).
func loop(b *testing.B, op func()) {
	n := 0
	start, ok := cpuTime()
	for b.Loop() {
		op()
		n++
	}
	if end, ok2 := cpuTime(); ok && ok2 && n > 0 {
		b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
	}
}

// queuePage is the console's page of a queue.
const queuePage = 50

func benchQueue(b *testing.B, fx *scaleFixture) {
	ctx := context.Background()
	loop(b, func() {
		cards, err := fx.svc.Queue(ctx, fx.village, "", queuePage)
		if err != nil || len(cards) != queuePage {
			b.Fatalf("queue page: %d cards, %v", len(cards), err)
		}
	})
}

func benchExport(b *testing.B, fx *scaleFixture) {
	ctx := context.Background()
	loop(b, func() {
		rows, err := fx.svc.exportPage(ctx, fx.county, fx.Cursor, pageSize)
		if err != nil || len(rows) != pageSize {
			b.Fatalf("export page: %d cards, %v", len(rows), err)
		}
	})
}

// scaleRef is a genuine card as a phone or a hospital clerk knows it.
type scaleRef struct{ Token, Number, Code string }

// scaleManifest describes a filled registry; kept beside it in
// CARDSEAL_SCALE_DIR, it lets a later run reuse the registry.
type scaleManifest struct {
	Backend string
	Cards   int
	URL     string
	Genuine []scaleRef
	// Cursor is the card after which the measured export page starts.
	Cursor string
}

type scaleFixture struct {
	scaleManifest
	svc             *Service
	hot             *Checker
	village, county Actor
}

// scaleEnv is what the registries of one run share.
type scaleEnv struct {
	dir   string // CARDSEAL_SCALE_DIR, or "" for registries dropped at the end
	large int
	ks    *keys.FileStore

	once    sync.Once
	genuine []storetest.BulkCard
	genErr  error
}

// scaleSmall is the size the large registry is compared with.
const scaleSmall = 1000

func newScaleEnv(b *testing.B) *scaleEnv {
	env := &scaleEnv{dir: os.Getenv("CARDSEAL_SCALE_DIR"), large: 10000}
	if s := os.Getenv("CARDSEAL_SCALE_CARDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2*scaleSmall {
			b.Fatalf("CARDSEAL_SCALE_CARDS=%q: want a number of cards of at least %d", s, 2*scaleSmall)
		}
		env.large = n
	}
	if env.dir == "" {
		env.ks = demoKeys(b)
		return env
	}
	// The genuine cards of kept registries verify only with the keys
	// that sealed them, so the keystore is kept too.
	kd := filepath.Join(env.dir, "keys")
	pass := []byte("cardseal-scale")
	if !keys.Initialised(kd) {
		if err := keys.InitDir(kd, keys.Demo, pass, time.Now().Add(-time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	ks, err := keys.OpenDir(kd, pass)
	if err != nil {
		b.Fatal(err)
	}
	env.ks = ks
	return env
}

// fixture returns the registry of n cards on backend, filling it unless
// CARDSEAL_SCALE_DIR holds it already.
func (env *scaleEnv) fixture(b *testing.B, backend string, n int) *scaleFixture {
	ctx := context.Background()
	name := fmt.Sprintf("%s-%d", backend, n)
	manifest := filepath.Join(env.dir, name+".json")
	if env.dir != "" {
		if m, err := os.ReadFile(manifest); err == nil {
			fx := &scaleFixture{}
			if err := json.Unmarshal(m, &fx.scaleManifest); err != nil {
				b.Fatalf("%s: %v", manifest, err)
			}
			b.Logf("reusing the registry of %d cards in %s", n, manifest)
			return env.open(b, fx, storetest.OpenURL(b, fx.URL))
		}
	}
	var st *store.DB
	var url string
	switch {
	case env.dir == "" && backend == "sqlite":
		st, url = storetest.OpenSQLite(b)
	case env.dir == "":
		st, url = storetest.OpenPostgres(b)
	case backend == "sqlite":
		path := filepath.Join(env.dir, name+".db")
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				b.Fatal(err)
			}
		}
		url = "sqlite://" + path
		st = storetest.OpenURL(b, url)
	default:
		// One schema name per directory and size, so a rerun replaces
		// its own half-filled schema and no one else's.
		tag := sha256.Sum256([]byte(env.dir))
		var err error
		url, err = storetest.KeptSchema(ctx, fmt.Sprintf("cardseal_scale_%s_%d", hex.EncodeToString(tag[:4]), n))
		if err != nil {
			b.Fatal(err)
		}
		st = storetest.OpenURL(b, url)
	}
	start := time.Now()
	genuine := env.genuineCards(b)
	fx := &scaleFixture{scaleManifest: scaleManifest{Backend: backend, Cards: n, URL: url}}
	for _, g := range genuine {
		fx.Genuine = append(fx.Genuine, scaleRef{Token: g.Card.QRToken, Number: g.Card.Number, Code: token.VerificationCode(g.Card.QRToken)})
	}
	svc := NewService(st, env.ks, scalePublicURL)
	f, err := newFiller(svc, genuine)
	if err != nil {
		b.Fatal(err)
	}
	loaded, err := storetest.Load(ctx, url, scaleOrgs(), f.cards(n))
	if err != nil || loaded != n {
		b.Fatalf("fill %s: %d of %d cards loaded: %v", name, loaded, n, err)
	}
	fx = env.open(b, fx, st)
	fx.Cursor = exportCursor(b, fx)
	b.Logf("filled %s with %d cards in %v", name, n, time.Since(start).Round(time.Second))
	if env.dir != "" {
		var m bytes.Buffer
		enc := json.NewEncoder(&m)
		enc.SetEscapeHTML(false) // the URL as it is, for scripts/bench.sh
		enc.SetIndent("", "\t")
		err := enc.Encode(fx.scaleManifest)
		if err == nil {
			err = os.WriteFile(manifest, m.Bytes(), 0o600)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return fx
}

// open wires the Service and the actors over a filled registry.
func (env *scaleEnv) open(b *testing.B, fx *scaleFixture, st *store.DB) *scaleFixture {
	fx.svc = NewService(st, env.ks, scalePublicURL)
	// The service's clock stands still, so the verdicts the hot checks
	// cache never pass storedTTL: the timed loop measures the hot path
	// alone, however long the warm-up took on a loaded machine, not a
	// varying number of re-reads. (A server re-reads a card's PDF once per
	// storedTTL while it is being checked: nothing beside thousands of
	// checks in that time.)
	t0 := time.Now()
	fx.svc.Now = func() time.Time { return t0 }
	fx.hot = NewChecker(fx.svc)
	fx.village = actor(b, st, scaleVillage)
	fx.county = actor(b, st, scaleCounty)
	return fx
}

// exportCursor picks the card after which the measured export page
// starts: the middle of the county's listing, less half a page.
func exportCursor(b *testing.B, fx *scaleFixture) string {
	ctx := context.Background()
	var ids []string
	after := ""
	for {
		page, err := fx.svc.exportPage(ctx, fx.county, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range page {
			ids = append(ids, r.Card.ID)
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Card.ID
	}
	pos := max(0, len(ids)/2-pageSize/2)
	if len(ids)-pos-1 < pageSize {
		b.Fatalf("county %s has %d issued cards, too few for an export page after card %d", scaleCounty, len(ids), pos)
	}
	return ids[pos]
}

// genuineCards applies for, renders and seals the genuine cards once per
// run, through the Service on a scratch store, and returns them with
// every PDF revision and seal record, ready to load into any registry.
func (env *scaleEnv) genuineCards(b *testing.B) []storetest.BulkCard {
	env.once.Do(func() { env.genuine, env.genErr = makeGenuine(b, env.ks, scaleGenuine) })
	if env.genErr != nil {
		b.Fatal(env.genErr)
	}
	return env.genuine
}

func makeGenuine(b *testing.B, ks *keys.FileStore, n int) ([]storetest.BulkCard, error) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(b)
	if err := SyncOrgs(ctx, st, ks); err != nil {
		return nil, err
	}
	s := NewService(st, ks, scalePublicURL)
	type chain struct{ village, township, county Actor }
	chains := []chain{
		{actor(b, st, "220102001001"), actor(b, st, "220102001"), actor(b, st, scaleCounty)},
		{actor(b, st, "220102002001"), actor(b, st, "220102002"), actor(b, st, scaleCounty)},
	}
	app := example(b)
	out := make([]storetest.BulkCard, n)
	errs := make(chan error, n)
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := range work {
				ch := chains[i%len(chains)]
				a := *app
				a.Village = ch.village.Org.Code
				c, err := s.Apply(ctx, ch.village, &a)
				if err == nil {
					for _, by := range []Actor{ch.village, ch.township, ch.county} {
						if c, err = s.Seal(ctx, by, c.ID); err != nil {
							break
						}
					}
				}
				if err == nil && c.Status != card.StatusIssued {
					err = fmt.Errorf("card %s is %s after three seals", c.Number, c.Status)
				}
				if err == nil {
					out[i], err = readBack(ctx, st, c.ID)
				}
				if err != nil {
					errs <- fmt.Errorf("genuine card %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// readBack reads a stored card with all its revisions and seal records.
func readBack(ctx context.Context, st Registry, id string) (storetest.BulkCard, error) {
	c, err := st.GetCard(ctx, id)
	if err != nil {
		return storetest.BulkCard{}, err
	}
	bc := storetest.BulkCard{Card: c}
	for seq := 0; seq <= c.Seq; seq++ {
		pdf, err := st.PDF(ctx, id, seq)
		if err != nil {
			return bc, err
		}
		bc.PDFs = append(bc.PDFs, pdf)
	}
	bc.Seals, err = st.Seals(ctx, id)
	return bc, err
}
