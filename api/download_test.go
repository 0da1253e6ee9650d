package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/pbkdf2"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/token"
)

// The couple of examples/applicant.json, and two strangers.
const (
	maleID, femaleID      = "220102199003071235", "220102199208152346"
	strangerM, strangerF  = "110101198001010017", "110101198202020026"
	formContentType       = "application/x-www-form-urlencoded"
	legacyTokenLen, v2Len = 180, 26
)

// legacyStore makes the cards created through it look like cards issued
// before version-2 tokens: CreateCard replaces the new card's QR token with
// a version-1 token, signed by the platform key for the card's number as
// cardseal used to sign it, whose holder digests are computed from the ID
// numbers digestIDs names (docs/qr-token.md, "Version 1"). The card's PDF
// keeps its version-2 QR code; nothing here reads it.
type legacyStore struct {
	*store.DB
	plat      *keys.Identity
	digestIDs [2]string // male, female
}

func (l legacyStore) CreateCard(ctx context.Context, c *card.Card, pdf0 []byte, ev audit.Event) error {
	claims := &token.Claims{Number: c.Number, Type: c.Type, County: c.CountyCode, IssueDate: time.Now(), StatusIndex: c.StatusIndex}
	rand.Read(claims.Salt[:])
	for i, role := range []byte{'M', 'F'} {
		d := pbkdf2.Key([]byte(l.digestIDs[i]), append(claims.Salt[:], role), 4096, 6, sm3.New)
		copy([][]byte{claims.Male[:], claims.Female[:]}[i], d)
	}
	tok, err := token.SignLegacy(claims, l.plat)
	if err != nil {
		return err
	}
	c.QRToken = tok
	return l.DB.CreateCard(ctx, c, pdf0, ev)
}

// issueLegacy issues a card with a version-1 token whose holder digests
// are those of digestIDs.
func (v *env) issueLegacy(digestIDs [2]string) (CardView, string) {
	v.t.Helper()
	plat, err := v.ks.PlatformIdentity()
	if err != nil {
		v.t.Fatal(err)
	}
	// The same registry, through a service whose store writes legacy
	// tokens.
	svc := lifecycle.NewService(legacyStore{DB: v.st, plat: plat, digestIDs: digestIDs}, v.ks, "http://127.0.0.1:8080")
	app, err := card.ParseApplicant(exampleApplicant(v.t))
	if err != nil {
		v.t.Fatal(err)
	}
	village, err := v.st.GetOrg(context.Background(), "220102001001")
	if err != nil {
		v.t.Fatal(err)
	}
	sc, err := svc.Apply(context.Background(), lifecycle.Actor{Username: village.Code, Org: village}, app)
	if err != nil {
		v.t.Fatal(err)
	}
	c := CardView{ID: sc.ID, Number: sc.Number}
	tok := v.cardToken(c.ID)
	if len(tok) != legacyTokenLen {
		v.t.Fatalf("legacy card token has %d characters", len(tok))
	}
	v.issue(c.ID)
	return c, tok
}

func (v *env) downloadWith(tok, id string) *resp {
	return v.do("POST", "/c/"+tok, "", formContentType, []byte("id_number="+id))
}

// expectPDF checks that a download answered the card's current PDF.
func (v *env) expectPDF(r *resp, cardID, what string) {
	v.t.Helper()
	if r.Code != 200 || r.Header().Get("Content-Type") != "application/pdf" {
		v.t.Fatalf("%s: %d %s", what, r.Code, r.Header().Get("Content-Type"))
	}
	if pdf := v.currentPDF(cardID); !bytes.Equal(r.body, pdf) {
		v.t.Fatalf("%s: the body is not the card's current PDF", what)
	}
}

// TestDownloadV2Token: a card issued today has a version-2 token (26
// characters, a random handle); a holder's ID number downloads the PDF,
// any other is refused. The token carries nothing to compare with, so
// the check can only have read the registry's encrypted record.
func TestDownloadV2Token(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	tok := v.cardToken(c.ID)
	if _, err := token.ParseHandle(tok); err != nil || len(tok) != v2Len {
		t.Fatalf("new card's token %q: %v", tok, err)
	}
	v.issue(c.ID)
	for _, id := range []string{maleID, femaleID} {
		v.expectPDF(v.downloadWith(tok, id), c.ID, "holder "+id)
		v.expectPDF(v.downloadWith(strings.ToLower(tok), id), c.ID, "lower-case token, holder "+id)
	}
	for _, id := range []string{strangerM, "220102199003071234", femaleID[:17] + "X"} {
		if r := v.downloadWith(tok, id); r.Code != 403 || !strings.Contains(r.Body.String(), "不符") {
			t.Errorf("ID number %s: %d", id, r.Code)
		}
	}
	// A changed handle names no card.
	other := token.NewHandle().String()
	if r := v.downloadWith(other, maleID); r.Code != 404 {
		t.Errorf("unknown handle: %d", r.Code)
	}
}

// TestDownloadLegacyToken: a card printed with a version-1 token keeps
// working — its public check is valid and its holders download the PDF —
// but the ID number is checked against the registry's encrypted record,
// never against the token's holder digests: on a card whose digests were
// made from two strangers' ID numbers, the strangers are refused and the
// couple is served.
func TestDownloadLegacyToken(t *testing.T) {
	v := newEnv(t, Options{})
	c, tok := v.issueLegacy([2]string{strangerM, strangerF})
	var a lifecycle.Answer
	v.do("GET", "/api/v1/verify/"+tok, "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicValid || a.Number != c.Number {
		t.Fatalf("legacy card: %q %q, want valid %s", a.Status, a.Number, c.Number)
	}
	if p := v.do("GET", "/V/"+tok, "", "", nil); p.Code != 200 || !strings.Contains(p.Body.String(), "有效") {
		t.Fatalf("legacy card page: %d", p.Code)
	}
	for _, id := range []string{strangerM, strangerF} {
		if r := v.downloadWith(tok, id); r.Code != 403 {
			t.Errorf("stranger %s, whose digest the token carries: %d, want 403", id, r.Code)
		}
	}
	for _, id := range []string{maleID, femaleID} {
		v.expectPDF(v.downloadWith(tok, id), c.ID, "holder "+id)
	}
	// A version-1 token with a changed character is forged.
	forged := []byte(tok)
	if i := 60; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	v.do("GET", "/api/v1/verify/"+string(forged), "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicForged {
		t.Errorf("forged legacy token: %q", a.Status)
	}
	if r := v.downloadWith(string(forged), maleID); r.Code != 404 {
		t.Errorf("forged legacy token download: %d", r.Code)
	}
}
