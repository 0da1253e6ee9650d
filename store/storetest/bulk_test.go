package storetest_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestLoad checks that what Load writes is what the store reads back,
// field for field, on both backends: the benchmarks that fill a million
// cards with it run nowhere near CI, so a schema change that Load does
// not follow must fail here.
func TestLoad(t *testing.T) {
	ctx := context.Background()
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		s, url := open(t)
		orgs := []org.Org{
			{Code: "220102", Level: org.County, Name: "南关区卫生健康局"},
			{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"},
			{Code: "220102001001", Level: org.Village, Name: "永安社区居民委员会", Retired: true},
		}
		t0 := time.Date(2025, 6, 1, 8, 30, 0, 123456000, time.UTC)
		sealed := storetest.BulkCard{
			Card: card.Card{ID: "00000000000000a1", Number: "2201022025000007", Type: card.Second,
				Status: card.StatusDraft, NextLevel: org.Township, VillageCode: "220102001001", CountyCode: "220102",
				Applicant: []byte("CS1 sealed applicant"), QRToken: "AAAAAAAAAAAAAAAAAAAAAAAAAA", StatusIndex: 77,
				CoupleKey: "ab01", Seq: 1, Version: 2, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), CreatedBy: "220102001001"},
			PDFs: [][]byte{[]byte("%PDF revision 0"), []byte("%PDF revision 1")},
		}
		d := sm3.Sum(sealed.PDFs[1])
		sealed.Seals = []card.Seal{{CardID: sealed.Card.ID, Seq: 1, Level: org.Village, OrgCode: "220102001001",
			CertSerial: "0a1b", SignedAt: t0.Add(time.Hour), PDFDigest: d[:], ByUser: "220102001001"}}
		superseded := storetest.BulkCard{
			Card: card.Card{ID: "00000000000000b2", Number: "2201022025000003", Type: card.First,
				Status: card.StatusSuperseded, VillageCode: "220102001001", CountyCode: "220102",
				Applicant: []byte("CS1 other"), StatusIndex: 78, SupersededBy: sealed.Card.ID,
				StatusReason: "data_corrected", StatusNote: "备注", Seq: 0, Version: 2,
				CreatedAt: t0, UpdatedAt: t0.Add(2 * time.Hour), CreatedBy: "bulk"},
			PDFs: [][]byte{[]byte("%PDF placeholder")},
		}
		n, err := storetest.Load(ctx, url, orgs, slices.Values([]storetest.BulkCard{sealed, superseded}))
		if err != nil || n != 2 {
			t.Fatalf("Load = %d, %v", n, err)
		}
		for _, o := range orgs {
			if got, err := s.GetOrg(ctx, o.Code); err != nil || got != o {
				t.Errorf("GetOrg(%s) = %+v, %v; want %+v", o.Code, got, err, o)
			}
		}
		for _, want := range []storetest.BulkCard{sealed, superseded} {
			got, err := s.GetCard(ctx, want.Card.ID)
			if err != nil || !reflect.DeepEqual(got, want.Card) {
				t.Errorf("GetCard(%s) =\n%+v, %v; want\n%+v", want.Card.ID, got, err, want.Card)
			}
			for seq, pdf := range want.PDFs {
				if got, err := s.PDF(ctx, want.Card.ID, seq); err != nil || string(got) != string(pdf) {
					t.Errorf("PDF(%s, %d) = %q, %v", want.Card.ID, seq, got, err)
				}
			}
			if seals, err := s.Seals(ctx, want.Card.ID); err != nil || len(seals) != len(want.Seals) ||
				(len(seals) > 0 && !reflect.DeepEqual(seals, want.Seals)) {
				t.Errorf("Seals(%s) = %+v, %v; want %+v", want.Card.ID, seals, err, want.Seals)
			}
		}
		if c, err := s.GetCardByToken(ctx, sealed.Card.QRToken); err != nil || c.ID != sealed.Card.ID {
			t.Errorf("GetCardByToken = %s, %v", c.ID, err)
		}
		// The counters continue after the highest number loaded.
		if num, err := s.NextCardNumber(ctx, "220102", 2025); err != nil || num != "2201022025000008" {
			t.Errorf("NextCardNumber = %q, %v; want 2201022025000008", num, err)
		}
		// The store's own checks still hold over loaded rows: the sealed
		// card's village seal is taken.
		err = s.AddSeal(ctx, sealed.Card.ID, 1, []byte("%PDF revision 2"),
			card.Seal{Level: org.Village, OrgCode: "220102001001", CertSerial: "0a1b", ByUser: "x", PDFDigest: make([]byte, 32)}, card.StatusDraft, org.County, nil, audit.Event{Actor: "x", OrgCode: "220102001001", Action: audit.CardSeal})
		if !errors.Is(err, card.ErrConflict) {
			t.Errorf("AddSeal of a second village seal over loaded rows: %v, want card.ErrConflict", err)
		}
	})
}
