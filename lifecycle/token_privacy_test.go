package lifecycle

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/pbkdf2"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/token"
)

// The attack of issue 12 (H2), as an outsider runs it from the published
// formats: read the QR token, take the public answer's mask of an ID
// number (first 4 and last 4 characters), enumerate every ID number
// consistent with the mask and test each against what the token carries.

// legacyDigest is a version-1 holder digest as docs/qr-token.md defined
// it (and as cardseal computed it until version 2):
// PBKDF2-HMAC-SM3(ID, salt || role, 4096, 6 bytes).
func legacyDigest(salt [8]byte, role byte, id string) (d [6]byte) {
	copy(d[:], pbkdf2.Key([]byte(id), append(salt[:], role), 4096, 6, sm3.New))
	return d
}

// idCandidates calls yield with every resident ID number (GB 11643)
// consistent with a mask "DDDD**********DDDC": the two unknown region
// digits from 00 to 99, a birth date in [from, to], the known sequence
// and check digit. It stops when yield returns false.
func idCandidates(mask string, from, to time.Time, yield func(id string) bool) {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	for region := 0; region < 100; region++ {
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			id := mask[:4] + fmt.Sprintf("%02d", region) + d.Format("20060102") + mask[14:17]
			sum := 0
			for i := 0; i < 17; i++ {
				sum += int(id[i]-'0') * weights[i]
			}
			if "10X98765432"[sum%11] != mask[17] {
				continue
			}
			if !yield(id + mask[17:]) {
				return
			}
		}
	}
}

// recoverID is the attacker: it decodes the token by the published
// format and tests every candidate for the mask against the holder
// digest of role. It returns the candidates that match and how many it
// could test; a token with no digest to test against gives none.
func recoverID(tok, mask string, role byte, from, to time.Time) (found []string, tested int) {
	c, _, err := token.Decode(tok) // the layout is public; no key is needed
	if err != nil {
		return nil, 0 // nothing in the token to test a candidate against
	}
	want := c.Male
	if role == 'F' {
		want = c.Female
	}
	idCandidates(mask, from, to, func(id string) bool {
		tested++
		if legacyDigest(c.Salt, role, id) == want {
			found = append(found, id)
		}
		return true
	})
	return found, tested
}

// TestMaskSearchSpace counts what the public mask leaves of a resident
// ID number with birth dates 1960–2007: docs/privacy.md's arithmetic.
func TestMaskSearchSpace(t *testing.T) {
	from, to := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2007, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"220102199003071235", "220102199208152346"} {
		n := 0
		idCandidates(card.MaskID(id), from, to, func(string) bool { n++; return true })
		t.Logf("mask %s: %d candidates", card.MaskID(id), n)
		// 100 region digit pairs × 17 532 days / 11 check digits.
		if n < 155_000 || n > 164_000 {
			t.Errorf("mask %s leaves %d candidates, want ≈ 159 k", card.MaskID(id), n)
		}
	}
}

// TestTokenGivesNoIDAway runs the attacker against the QR token of a
// version-1 card, where it recovers the holder's full ID number (so the
// attack works), and against cards rendered today, whose version-2 token
// gives it nothing to test: the token decodes to exactly 16 random bytes,
// two cards for the same couple get unrelated tokens, and the URL in the
// QR code is the public URL and the token and nothing else. The birth
// date range is cut to 25 days around the holder's to keep the test
// quick; the algorithm is the one of TestMaskSearchSpace.
func TestTokenGivesNoIDAway(t *testing.T) {
	ks := demoKeys(t)
	plat, err := ks.PlatformIdentity()
	if err != nil {
		t.Fatal(err)
	}
	app := example(t)
	male := app.Male.IDNumber // 220102199003071235, born 1990-03-07
	mask := card.MaskID(male)
	from, to := time.Date(1990, 2, 20, 0, 0, 0, 0, time.UTC), time.Date(1990, 3, 16, 0, 0, 0, 0, time.UTC)

	t.Run("version 1", func(t *testing.T) {
		c := &token.Claims{Number: "2201022026000001", Type: card.First, County: "220102", IssueDate: time.Now(), StatusIndex: 5}
		rand.Read(c.Salt[:])
		c.Male = legacyDigest(c.Salt, 'M', male)
		c.Female = legacyDigest(c.Salt, 'F', app.Female.IDNumber)
		tok, err := token.SignLegacy(c, plat)
		if err != nil {
			t.Fatal(err)
		}
		found, tested := recoverID(tok, mask, 'M', from, to)
		t.Logf("tested %d candidates, found %v", tested, found)
		if len(found) != 1 || found[0] != male {
			t.Fatalf("recovered %v from %d candidates, want exactly %s", found, tested, male)
		}
	})

	t.Run("version 2", func(t *testing.T) {
		d := &Draft{Number: "2201022026000001", Applicant: app, IssueDate: time.Now(), StatusIndex: 5}
		var toks [][]byte
		codes := map[string]bool{}
		for i := 0; i < 4; i++ {
			r, err := Render(context.Background(), demoOrgs, d, "http://127.0.0.1:8080")
			if err != nil {
				t.Fatal(err)
			}
			if found, tested := recoverID(r.Token, mask, 'M', from, to); tested != 0 || len(found) != 0 {
				t.Fatalf("the attacker tested %d candidates and found %v", tested, found)
			}
			if r.URL != "HTTP://127.0.0.1:8080/V/"+r.Token || len(r.Token) != 26 {
				t.Fatalf("QR URL %q carries more than the token %q", r.URL, r.Token)
			}
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(r.Token)
			if err != nil || len(raw) != 16 {
				t.Fatalf("token %q decodes to %d bytes (%v), want 16", r.Token, len(raw), err)
			}
			if _, err := token.ParseHandle(r.Token); err != nil {
				t.Fatalf("token %q: %v", r.Token, err)
			}
			toks = append(toks, raw)
			codes[r.VerificationCode] = true
		}
		// Same couple, same number, same date, same index: nothing in
		// the token follows from them. Any two of 4 handles sharing even
		// 4 bytes at one offset is a 2^-32 event per pair.
		for i := range toks {
			for j := i + 1; j < len(toks); j++ {
				for k := 0; k+4 <= 16; k++ {
					if bytes.Equal(toks[i][k:k+4], toks[j][k:k+4]) {
						t.Fatalf("tokens %d and %d share bytes %d–%d: %x %x", i, j, k, k+3, toks[i], toks[j])
					}
				}
			}
		}
		if len(codes) != len(toks) {
			t.Fatalf("verification codes repeat for the same couple: %v", codes)
		}
	})
}

// BenchmarkLegacyCandidate is the attacker's cost of testing one
// candidate ID number against a version-1 token: one holder digest.
// docs/privacy.md multiplies it out.
func BenchmarkLegacyCandidate(b *testing.B) {
	var salt [8]byte
	for b.Loop() {
		legacyDigest(salt, 'M', "220102199003071235")
	}
}
