package lifecycle

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

// ownKeys is a copy of the demo keystore that a test may change (rotate
// its data key).
func ownKeys(t *testing.T) *keys.FileStore {
	t.Helper()
	demo := demoKeys(t)
	if _, err := demo.DataKey(); err != nil { // created on first use
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dir, os.DirFS(demo.Dir())); err != nil {
		t.Fatal(err)
	}
	ks, err := keys.OpenDir(dir, []byte("lifecycle-test"))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// sealV1 encrypts as format 1 did: "CS1" | nonce | SM4-GCM, associated
// data the slot's format-1 string.
func sealV1(t *testing.T, p *privacy, sl slot, plain []byte) []byte {
	t.Helper()
	if sl.v1 == "" {
		t.Fatalf("%s never had format 1", sl.ad)
	}
	nonce := make([]byte, p.cur.v1.NonceSize())
	rand.Read(nonce)
	return p.cur.v1.Seal(append(append([]byte{}, format1...), nonce...), nonce, plain, []byte(sl.v1))
}

// makeLegacy turns every stored value into what an installation wrote
// before documents were encrypted: PDFs, notices and forms in clear,
// applicant records and attachments in format 1.
func makeLegacy(t *testing.T, st *store.DB, p *privacy) (docs, format1 int) {
	t.Helper()
	ctx := context.Background()
	cards, err := st.ListCards(ctx, card.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		err := st.RewriteCard(ctx, c.ID, func(s *card.Stored) error {
			id := s.CardID
			plain, err := p.open(applicantSlot(id), s.Applicant)
			if err != nil {
				return err
			}
			s.Applicant = sealV1(t, p, applicantSlot(id), plain)
			format1++
			for seq := range s.PDFs {
				if s.PDFs[seq], err = p.open(pdfSlot(id, seq), s.PDFs[seq]); err != nil {
					return err
				}
				docs++
			}
			for i := range s.Notices {
				n := &s.Notices[i]
				if n.PDF, err = p.open(noticeSlot(id, n.Kind, n.Number), n.PDF); err != nil {
					return err
				}
				docs++
			}
			for i := range s.Forms {
				f := &s.Forms[i]
				if f.PDF, err = p.open(formSlot(id, f.ID, f.Seq), f.PDF); err != nil {
					return err
				}
				docs++
			}
			for i := range s.Attachments {
				a := &s.Attachments[i]
				if plain, err = p.open(attachmentSlot(id, a.Seq), a.Data); err != nil {
					return err
				}
				a.Data = sealV1(t, p, attachmentSlot(id, a.Seq), plain)
				format1++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return docs, format1
}

// readAll reads every card's application and documents through a
// service and re-verifies each stored card, failing t on any error.
func readAll(t *testing.T, st *store.DB, ks keys.Store) {
	t.Helper()
	ctx := context.Background()
	s := NewService(st, ks, "http://127.0.0.1:8080")
	ch := NewChecker(s)
	county, village := actor(t, st, "220102"), actor(t, st, "220102001001")
	cards, err := st.ListCards(ctx, card.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		if _, err := s.Applicant(&c); err != nil {
			t.Fatal(err)
		}
		if _, err := ch.VerifyStored(ctx, &c); err != nil {
			t.Fatal(err)
		}
		ns, err := s.Notices(ctx, county, &c)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			got, err := s.Notice(ctx, village, c.ID, n.Seq)
			if err != nil || !bytes.HasPrefix(got.PDF, []byte("%PDF-")) {
				t.Fatalf("notice %d of card %s: %v", n.Seq, c.ID, err)
			}
		}
		atts, err := s.Attachments(ctx, village, &c)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range atts {
			if !bytes.HasPrefix(a.Data, []byte("%PDF-")) {
				t.Fatalf("attachment %d of card %s reads as %.8q", a.Seq, c.ID, a.Data)
			}
		}
	}
}

// rawValues returns every encrypted value of every card as stored.
func rawValues(t *testing.T, st *store.DB) [][]byte {
	t.Helper()
	cards, err := st.ListCards(context.Background(), card.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, c := range cards {
		out = append(out, cardValues(t, st, c.ID)...)
	}
	return out
}

// cardValues returns every encrypted value of a card as stored.
func cardValues(t *testing.T, st *store.DB, cardID string) [][]byte {
	t.Helper()
	var out [][]byte
	err := st.RewriteCard(context.Background(), cardID, func(s *card.Stored) error {
		out = append(out, s.Applicant)
		out = append(out, s.PDFs...)
		for _, n := range s.Notices {
			out = append(out, n.PDF)
		}
		for _, f := range s.Forms {
			out = append(out, f.PDF)
		}
		for _, a := range s.Attachments {
			out = append(out, a.Data)
		}
		for _, p := range s.Postings {
			out = append(out, p.Address)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRotateDataKey: documents written before encryption (in clear) and
// values in format 1 still read; the rotation re-encrypts every value,
// old or new, under a new key (resuming where an interrupted run
// stopped), derives the couple keys again, and afterwards the new key
// reads everything while the old key alone reads nothing.
func TestRotateDataKey(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		ks := ownKeys(t)
		ctx := context.Background()
		r := populate(t, st, ks)
		oldKey, err := ks.DataKey()
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.s.privacy()
		if err != nil {
			t.Fatal(err)
		}
		docs, v1 := makeLegacy(t, st, p)
		readAll(t, st, ks)
		total := len(rawValues(t, st))
		if total != docs+v1 {
			t.Fatalf("%d values, %d documents and %d format-1 values", total, docs, v1)
		}
		before, err := st.ListCards(ctx, card.Filter{})
		if err != nil {
			t.Fatal(err)
		}

		next, err := ks.NextDataKey()
		if err != nil {
			t.Fatal(err)
		}
		// Meanwhile the current key still encrypts, and the next one
		// already decrypts (a server started during a rotation).
		ring, err := ks.DataKeyRing()
		if err != nil || len(ring) != 2 || !bytes.Equal(ring[0], oldKey) || !bytes.Equal(ring[1], next) {
			t.Fatalf("ring during the rotation: %d keys, %v", len(ring), err)
		}
		rot, err := RotateDataKey(ctx, st, ring, next)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Cards != len(before) || rot.Rewritten != total || rot.Clear != docs || rot.Format1 != v1 || rot.Current != 0 {
			t.Fatalf("rotation %+v; want %d cards, %d values, %d in clear, %d in format 1", rot, len(before), total, docs, v1)
		}
		// Run again, as after an interruption: nothing left to do.
		if rot, err = RotateDataKey(ctx, st, ring, next); err != nil || rot.Rewritten != 0 || rot.Current != total {
			t.Fatalf("second run %+v, %v", rot, err)
		}
		if err := ks.PromoteDataKey(); err != nil {
			t.Fatal(err)
		}
		if k, err := ks.DataKey(); err != nil || !bytes.Equal(k, next) {
			t.Fatalf("current key after the promotion: %v", err)
		}
		retired, err := ks.RetiredDataKeys()
		if err != nil || len(retired) != 1 || retired[0] != filepath.Join("keys", "retired", "data-"+keys.DataKeyID(oldKey)+".key") {
			t.Fatalf("retired keys %v, %v", retired, err)
		}

		np, err := newPrivacy(next)
		if err != nil {
			t.Fatal(err)
		}
		newID := append(append([]byte{}, format2...), np.cur.id...)
		for i, v := range rawValues(t, st) {
			if !bytes.HasPrefix(v, newID) {
				t.Fatalf("value %d not under the new key: %.8q", i, v)
			}
		}
		// The new key, the old one retired beside it, reads everything;
		// so does a keystore holding the new key alone.
		readAll(t, st, ks)
		alone, err := newPrivacy(next)
		if err != nil {
			t.Fatal(err)
		}
		old, err := newPrivacy(oldKey)
		if err != nil {
			t.Fatal(err)
		}
		after, err := st.ListCards(ctx, card.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range after {
			app, err := openApplicant(alone, c.ID, c.Applicant)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := openApplicant(old, c.ID, c.Applicant); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("the old key alone reads card %s: %v", c.ID, err)
			}
			// The couple key is derived from the new key: the couple's
			// cards are found again (Art. 22), and the old digest no
			// longer names them.
			if c.CoupleKey != alone.coupleKey(app) || c.CoupleKey == before[i].CoupleKey || before[i].CoupleKey != old.coupleKey(app) {
				t.Fatalf("card %s: couple key %s, before %s", c.ID, c.CoupleKey, before[i].CoupleKey)
			}
			if c.Version != before[i].Version || c.Status != before[i].Status {
				t.Fatalf("card %s changed: version %d→%d", c.ID, before[i].Version, c.Version)
			}
		}
	})
}

// TestRotateStopsAtValueNoKeyReads: a value under a key the keystore
// lacks stops the rotation with ErrCorrupt naming the card; the cards
// before it are done, and nothing of the bad card changed.
func TestRotateStopsAtValueNoKeyReads(t *testing.T) {
	st, _ := storetest.Open(t)
	ks := ownKeys(t)
	ctx := context.Background()
	populate(t, st, ks)
	cards, err := st.ListCards(ctx, card.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := newPrivacy(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	bad := cards[1]
	if err := st.RewriteCard(ctx, bad.ID, func(s *card.Stored) error {
		s.PDFs[0] = stranger.seal(pdfSlot(bad.ID, 0), []byte("%PDF-1.7 from elsewhere"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	badBefore := cardValues(t, st, bad.ID)
	ring, err := ks.DataKeyRing()
	if err != nil {
		t.Fatal(err)
	}
	next, err := ks.NextDataKey()
	if err != nil {
		t.Fatal(err)
	}
	rot, err := RotateDataKey(ctx, st, ring, next)
	if !errors.Is(err, ErrCorrupt) || rot.Cards != 1 || !bytes.Contains([]byte(err.Error()), []byte(bad.ID)) {
		t.Fatalf("rotation over a foreign value: %+v, %v", rot, err)
	}
	np, err := newPrivacy(next)
	if err != nil {
		t.Fatal(err)
	}
	after, err := st.ListCards(ctx, card.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !np.current(after[0].Applicant) || np.current(after[1].Applicant) {
		t.Fatal("the rotation did not stop at the bad card")
	}
	for i, v := range cardValues(t, st, bad.ID) {
		if !bytes.Equal(v, badBefore[i]) {
			t.Fatalf("value %d of the card the rotation stopped at changed", i)
		}
	}
}
