package store

import (
	"context"
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// TestRewriteCard: every stored value of a card is handed over and what
// is replaced is written back, the card's version unchanged; adding or
// removing a value, or an error of fn, writes nothing.
func TestRewriteCard(t *testing.T) {
	ctx := context.Background()
	bothBackends(t, func(t *testing.T, s *DB) {
		seedOrgs(t, s)
		c := newCard(t, s)
		if err := addSeal(ctx, s, c.ID, 0, pdfRev(c.ID, 1), sealAt(org.Village), card.StatusDraft, nextAfter(org.Village), sealEvent(org.Village)); err != nil {
			t.Fatal(err)
		}
		n := &card.Notice{CardID: c.ID, Kind: card.NoticeMissing, Number: c.Number + "-N1", AppDigest: "d", OrgCode: "220102001001", PDF: []byte("notice"), CreatedBy: "u"}
		if err := s.AddNotice(ctx, n, "", "", audit.Event{Actor: "u", Action: "card.notice"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddAttachments(ctx, c.ID, []card.Attachment{{Seq: 1, Material: "id_cards", ContentType: "image/png", Size: 5, Data: []byte("photo")}}); err != nil {
			t.Fatal(err)
		}
		// An attachment numbered by its caller must get that number.
		if err := s.AddAttachments(ctx, c.ID, []card.Attachment{{Seq: 1, Material: "id_cards", ContentType: "image/png", Size: 1, Data: []byte("x")}}); !errors.Is(err, card.ErrConflict) {
			t.Fatalf("a second attachment number 1: %v", err)
		}
		before, err := s.GetCard(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var seen *card.Stored
		if err := s.RewriteCard(ctx, c.ID, func(st *card.Stored) error {
			seen = st
			st.Applicant = []byte("new applicant")
			st.CoupleKey = "abcdef"
			st.PDFs[1] = []byte("new revision 1")
			st.Notices[0].PDF = []byte("new notice")
			st.Attachments[0].Data = []byte("new photo")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(seen.PDFs) != 2 || len(seen.PDFs[0]) == 0 || len(seen.Notices) != 1 || len(seen.Attachments) != 1 {
			t.Fatalf("handed over %d revisions, %d notices, %d attachments", len(seen.PDFs), len(seen.Notices), len(seen.Attachments))
		}
		after, err := s.GetCard(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		rev1, _ := s.PDF(ctx, c.ID, 1)
		got, _ := s.GetNotice(ctx, c.ID, 1)
		atts, _ := s.Attachments(ctx, c.ID)
		if string(after.Applicant) != "new applicant" || after.CoupleKey != "abcdef" || string(rev1) != "new revision 1" ||
			string(got.PDF) != "new notice" || string(atts[0].Data) != "new photo" || after.Version != before.Version {
			t.Fatalf("after the rewrite: applicant %q, revision 1 %q, notice %q, version %d→%d", after.Applicant, rev1, got.PDF, before.Version, after.Version)
		}
		for name, fn := range map[string]func(*card.Stored) error{
			"adds a revision":       func(st *card.Stored) error { st.PDFs = append(st.PDFs, []byte("x")); return nil },
			"removes the notice":    func(st *card.Stored) error { st.Notices = nil; return nil },
			"renumbers a notice":    func(st *card.Stored) error { st.Notices[0].Seq = 2; return nil },
			"empties the applicant": func(st *card.Stored) error { st.Applicant = nil; return nil },
			"fails":                 func(st *card.Stored) error { st.PDFs[0] = []byte("lost"); return errors.New("boom") },
		} {
			if err := s.RewriteCard(ctx, c.ID, fn); err == nil {
				t.Errorf("a rewrite that %s succeeded", name)
			}
		}
		if rev0, _ := s.PDF(ctx, c.ID, 0); string(rev0) == "lost" || string(rev0) == "x" {
			t.Fatal("a refused rewrite wrote")
		}
		if err := s.RewriteCard(ctx, "0000000000000000", func(*card.Stored) error { return nil }); !errors.Is(err, card.ErrNotFound) {
			t.Fatalf("rewrite of a missing card: %v", err)
		}
	})
}
