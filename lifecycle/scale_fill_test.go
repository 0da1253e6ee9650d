package lifecycle

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/token"
)

// The registries of BenchmarkScale: a province of 60 counties, 15
// townships each and 10 villages per township (9 000 villages; the demo
// province's organisations among them, with their seal keys), and cards
// generated into it.

const (
	scaleCounty    = "220102"
	scaleVillage   = "220102001001"
	scalePublicURL = "https://card.wsjkw.jl.gov.cn"
	scaleGenuine   = 500 // genuine cards, every one checked
	scaleQueue     = 120 // drafts awaiting scaleVillage
	scaleExport    = 200 // issued generated cards of scaleCounty besides the genuine ones
)

// scaleOrgs is the province's organisations, under the demo names where
// the demo province has them.
func scaleOrgs() []org.Org {
	demo := map[string]string{}
	for _, o := range keys.Demo.Orgs {
		demo[o.Code] = o.Name
	}
	name := func(code, def string) string {
		if n, ok := demo[code]; ok {
			return n
		}
		return def
	}
	var out []org.Org
	for _, county := range scaleCounties() {
		out = append(out, org.Org{Code: county, Level: org.County, Name: name(county, "演示县"+county+"卫生健康局")})
		for t := 1; t <= 15; t++ {
			tc := fmt.Sprintf("%s%03d", county, t)
			out = append(out, org.Org{Code: tc, Level: org.Township, Name: name(tc, "演示乡镇"+tc)})
			for v := 1; v <= 10; v++ {
				vc := fmt.Sprintf("%s%03d", tc, v)
				out = append(out, org.Org{Code: vc, Level: org.Village, Name: name(vc, "演示村"+vc)})
			}
		}
	}
	return out
}

// scaleCounties are 60 county codes, scaleCounty first.
func scaleCounties() []string {
	var out []string
	for c := range 60 {
		out = append(out, fmt.Sprintf("22%02d%02d", 1+c/7, 2+c%7))
	}
	return out
}

// newRand is the benchmark's deterministic random source: the same seed
// fills the same registry.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5ca1e)) }

// filler generates the cards of a registry: rows as the Service writes
// them (numbers per county and year, random IDs, tokens and status-list
// indexes, the applicant encrypted under the card's ID), with
// placeholder bytes for the PDF revisions of all but the genuine cards.
// A card that is no longer good has no seal records: nothing measured
// reads them.
type filler struct {
	rng      *rand.Rand
	priv     *privacy
	app      []byte
	now      time.Time
	last     map[string]int // county and year → last sequence number used
	free     []int          // status-list indexes not yet used, shuffled
	prev     string         // the card generated last
	villages []string
	local    []string // the villages of scaleCounty
	genuine  []storetest.BulkCard
	pdfs     [][]byte
}

func newFiller(s *Service, genuine []storetest.BulkCard) (*filler, error) {
	priv, err := s.privacy()
	if err != nil {
		return nil, err
	}
	f := &filler{rng: newRand(13), priv: priv, now: time.Now(), last: map[string]int{}, genuine: genuine}
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		return nil, err
	}
	app, err := card.ParseApplicant(b)
	if err != nil {
		return nil, err
	}
	if f.app, err = json.Marshal(app); err != nil {
		return nil, err
	}
	used := map[int]bool{}
	for _, g := range genuine {
		used[g.Card.StatusIndex] = true
		n := g.Card.Number
		seq, err := strconv.Atoi(n[10:])
		if err != nil {
			return nil, fmt.Errorf("genuine card number %q: %w", n, err)
		}
		f.last[n[:10]] = max(f.last[n[:10]], seq)
	}
	for _, i := range f.rng.Perm(card.StatusListSize) {
		if !used[i] {
			f.free = append(f.free, i)
		}
	}
	for _, o := range scaleOrgs() {
		if o.Level == org.Village {
			f.villages = append(f.villages, o.Code)
			if org.CountyCode(o.Code) == scaleCounty {
				f.local = append(f.local, o.Code)
			}
		}
	}
	for seq := range 4 {
		f.pdfs = append(f.pdfs, fmt.Appendf(nil, "%%PDF-1.7\n%% placeholder of revision %d, not a card\n%%%%EOF\n", seq))
	}
	return f, nil
}

// cards yields n cards: the genuine ones, the village's queue, the
// county's export and then cards of any village.
func (f *filler) cards(n int) iter.Seq[storetest.BulkCard] {
	const day = 24 * time.Hour
	return func(yield func(storetest.BulkCard) bool) {
		i := 0
		emit := func(c storetest.BulkCard) bool { i++; return yield(c) }
		for _, g := range f.genuine {
			if !emit(g) {
				return
			}
		}
		for range scaleQueue {
			if !emit(f.card(card.StatusDraft, org.Village, scaleVillage, f.ago(30*day, day))) {
				return
			}
		}
		for range scaleExport {
			if !emit(f.card(card.StatusIssued, "", f.local[f.rng.IntN(len(f.local))], f.ago(730*day, 60*day))) {
				return
			}
		}
		for i < n {
			village := f.villages[f.rng.IntN(len(f.villages))]
			st, next := f.status()
			created := f.ago(3650*day, 60*day)
			if st == card.StatusDraft {
				created = f.ago(60*day, time.Hour)
			}
			if !emit(f.card(st, next, village, created)) {
				return
			}
		}
	}
}

// status draws a status: most cards of ten years are issued; drafts are
// the applications of the last two months.
func (f *filler) status() (card.Status, org.Level) {
	switch p := f.rng.IntN(100); {
	case p < 86:
		return card.StatusIssued, ""
	case p < 88:
		return card.StatusVoided, ""
	case p < 89:
		return card.StatusRevoked, ""
	case p < 91:
		return card.StatusSuperseded, ""
	case p < 93:
		return card.StatusRefused, ""
	case p < 96:
		return card.StatusDraft, org.Village
	case p < 98:
		return card.StatusDraft, org.Township
	default:
		return card.StatusDraft, org.County
	}
}

// ago is a random time between from and to before now.
func (f *filler) ago(from, to time.Duration) time.Time {
	return f.now.Add(-to - time.Duration(f.rng.Int64N(int64(from-to))))
}

func (f *filler) card(st card.Status, next org.Level, village string, created time.Time) storetest.BulkCard {
	id := fmt.Sprintf("%016x", f.rng.Uint64())
	county := org.CountyCode(village)
	key := county + strconv.Itoa(created.In(China).Year())
	f.last[key]++
	var h token.Handle
	for i := range h {
		h[i] = byte(f.rng.Uint32())
	}
	couple := make([]byte, 32)
	for i := range couple {
		couple[i] = byte(f.rng.Uint32())
	}
	c := card.Card{
		ID: id, Number: fmt.Sprintf("%s%06d", key, f.last[key]), Type: card.Types[f.rng.IntN(len(card.Types))],
		Status: st, NextLevel: next, VillageCode: village, CountyCode: county,
		Applicant: f.priv.seal(applicantSlot(id), f.app), QRToken: h.String(), StatusIndex: f.free[0],
		CoupleKey: hex.EncodeToString(couple), CreatedAt: created, CreatedBy: "bulk",
	}
	f.free = f.free[1:]
	switch st {
	case card.StatusDraft:
		c.Seq = map[org.Level]int{org.Village: 0, org.Township: 1, org.County: 2}[next]
	case card.StatusRefused:
		c.Seq = f.rng.IntN(3)
		c.StatusReason, c.StatusNote = NoticeReason, "bulk refusal"
	default:
		c.Seq = 3
	}
	switch {
	case st == card.StatusSuperseded && f.prev != "":
		c.SupersededBy = f.prev
		c.StatusReason, c.StatusNote = ReasonClasses[st][0], "bulk"
	case st == card.StatusSuperseded:
		c.Status = card.StatusIssued
	case st == card.StatusVoided || st == card.StatusRevoked:
		c.StatusReason, c.StatusNote = ReasonClasses[st][0], "bulk"
	}
	c.Version = 1 + c.Seq
	c.UpdatedAt = created
	if st != card.StatusDraft {
		c.UpdatedAt = created.Add(time.Duration(1+f.rng.IntN(20)) * 24 * time.Hour)
		if c.Status != card.StatusIssued {
			c.Version++
		}
	}
	f.prev = id
	return storetest.BulkCard{Card: c, PDFs: f.pdfs[:c.Seq+1]}
}
