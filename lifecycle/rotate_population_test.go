package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

// populationValues returns the county's extract as stored, by key.
func populationValues(t *testing.T, st *store.DB, county string) []card.PopulationRecord {
	t.Helper()
	var out []card.PopulationRecord
	if err := st.RewritePopulation(context.Background(), county, func(recs []card.PopulationRecord) ([]card.PopulationRecord, error) {
		out = append(out, recs...)
		return recs, nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRotateDataKeyPopulationAndPostings: 'data-key rotate' re-encrypts
// the population-register extract (its records found by keys derived
// again from the new key) and the postal addresses of requests for the
// official card, as it does the cards: afterwards no stored blob is under
// the old key, the old key alone reads none of them, and a service with
// the new key alone finds the residents and reads the addresses.
func TestRotateDataKeyPopulationAndPostings(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		ks := ownKeys(t)
		ctx := context.Background()
		r := populate(t, st, ks)
		s := r.s
		county, village := actor(t, st, "220102"), actor(t, st, "220102001001")
		a := example(t)
		residents := []card.Resident{
			{IDNumber: a.Male.IDNumber, Name: a.Male.Name, Hukou: a.Male.Hukou, MaritalStatus: "married", SpouseIDNumber: a.Female.IDNumber, MarriageDate: a.Marriage.Date},
			{IDNumber: a.Female.IDNumber, Name: a.Female.Name, Hukou: a.Female.Hukou, MaritalStatus: "married", SpouseIDNumber: a.Male.IDNumber, MarriageDate: a.Marriage.Date},
		}
		if _, err := s.ImportPopulation(ctx, county, "220102", residents); err != nil {
			t.Fatal(err)
		}
		issued, err := st.ListCards(ctx, card.Filter{Statuses: []card.Status{card.StatusIssued}})
		if err != nil || len(issued) != 1 {
			t.Fatalf("issued cards: %d, %v", len(issued), err)
		}
		addr := PostalAddress{Recipient: a.Male.Name, Phone: "13800000000", Address: "吉林省长春市南关区永吉街道幸福里小区3栋"}
		if _, err := s.RequestPosting(ctx, issued[0].Number, a.Male.IDNumber, "192.0.2.9", addr); err != nil {
			t.Fatal(err)
		}
		oldKey, err := ks.DataKey()
		if err != nil {
			t.Fatal(err)
		}
		before := populationValues(t, st, "220102")
		cardTotal := len(rawValues(t, st))

		next, err := ks.NextDataKey()
		if err != nil {
			t.Fatal(err)
		}
		ring, err := ks.DataKeyRing()
		if err != nil {
			t.Fatal(err)
		}
		rot, err := RotateDataKey(ctx, st, ring, next)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Residents != len(residents) || rot.Rewritten != cardTotal+len(residents) {
			t.Fatalf("rotation %+v; want %d card values and %d residents", rot, cardTotal, len(residents))
		}
		if err := ks.PromoteDataKey(); err != nil {
			t.Fatal(err)
		}

		// No blob under the old key: every card value (postal address
		// included) and every resident names the new key.
		np, err := newPrivacy(next)
		if err != nil {
			t.Fatal(err)
		}
		old, err := newPrivacy(oldKey)
		if err != nil {
			t.Fatal(err)
		}
		newID := append(append([]byte{}, format2...), np.cur.id...)
		for i, v := range rawValues(t, st) {
			if !bytes.HasPrefix(v, newID) {
				t.Fatalf("card value %d not under the new key: %.8q", i, v)
			}
		}
		posts, err := st.Postings(ctx, issued[0].ID)
		if err != nil || len(posts) != 1 {
			t.Fatalf("postings: %d, %v", len(posts), err)
		}
		if _, err := old.open(postingSlot(issued[0].ID, 1), posts[0].Address); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("the old key alone reads the postal address: %v", err)
		}
		after := populationValues(t, st, "220102")
		if len(after) != len(before) {
			t.Fatalf("%d residents after the rotation, %d before", len(after), len(before))
		}
		for i, rec := range after {
			if !bytes.HasPrefix(rec.Data, newID) {
				t.Fatalf("resident %d not under the new key: %.8q", i, rec.Data)
			}
			if _, err := old.open(residentSlot("220102", rec.Key), rec.Data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("the old key alone reads resident %d: %v", i, err)
			}
			for _, b := range before {
				if b.Key == rec.Key {
					t.Fatalf("resident %d keeps the key derived from the old data key", i)
				}
			}
		}

		// A service over the new key alone finds the residents (Art. 9)
		// and reads the address.
		alone := keysWith(t, ks, next)
		s2 := NewService(st, alone, "http://127.0.0.1:8080")
		for _, res := range residents {
			got, err := s2.resident(ctx, "220102", res.IDNumber)
			if err != nil || got == nil || got.Name != res.Name {
				t.Fatalf("resident %s after the rotation: %+v, %v", res.Name, got, err)
			}
		}
		ops, err := s2.OpenPostings(ctx, village)
		if err != nil || len(ops) != 1 || ops[0].Address != addr {
			t.Fatalf("open postings after the rotation: %+v, %v", ops, err)
		}
		// Rotating again finds nothing left to do.
		if rot, err := RotateDataKey(ctx, st, [][]byte{next}, next); err != nil || rot.Rewritten != 0 {
			t.Fatalf("second run %+v, %v", rot, err)
		}
	})
}

// keysWith is ks with only the data key k in its ring: its retired keys
// moved away.
func keysWith(t *testing.T, ks *keys.FileStore, k []byte) keys.Store {
	t.Helper()
	ring, err := ks.DataKeyRing()
	if err != nil {
		t.Fatal(err)
	}
	if len(ring) == 0 || !bytes.Equal(ring[0], k) {
		t.Fatal("the keystore's current key is not the new one")
	}
	return dataKeyOnly{FileStore: ks, key: k}
}

// dataKeyOnly is a keystore whose data-key ring holds one key.
type dataKeyOnly struct {
	*keys.FileStore
	key []byte
}

func (d dataKeyOnly) DataKeyRing() ([][]byte, error) { return [][]byte{d.key}, nil }
