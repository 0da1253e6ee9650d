package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// TestIssuedCardIsBLTA: the seal that issues a card also adds the
// long-term validation data (issue 17): the stored card has a /DSS with
// the installed CRL and a document timestamp, verifies offline with the
// trust list alone, and the public answer and the upload check still say
// valid; on SQLite and PostgreSQL.
func TestIssuedCardIsBLTA(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		testIssuedCardIsBLTA(t, st)
	})
}

func testIssuedCardIsBLTA(t *testing.T, st *store.DB) {
	ks, err := keys.OpenDir(copyDir(t, demoKeys(t)), []byte("test-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	v := newEnvKeys(t, st, ks, keys.Demo.Orgs, Options{})
	ca, err := ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	crl, err := keys.IssueCRL(t.TempDir(), ca, v.clock.Now().Add(-time.Minute), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.InstallCRL(crl); err != nil {
		t.Fatal(err)
	}
	c := v.newCard()
	v.issue(c.ID)
	pdf := v.currentPDF(c.ID)
	rep := v.verifyPDF(t, pdf, chain.Card, c.Number)
	if rep.Verdict != verifier.Valid || len(rep.Seals) != 3 || len(rep.DocTimestamps) != 1 || rep.TimeSource != verifier.TimeFromDocTimestamp {
		t.Fatalf("verdict %s, %d seals, document timestamps %+v, time source %q: %v", rep.Verdict, len(rep.Seals), rep.DocTimestamps, rep.TimeSource, rep.Reasons())
	}
	off, err := verifier.Verify(pdf, verifier.Options{Trust: v.ks.TrustList(), DocID: c.Number, Offline: true})
	if err != nil || off.Verdict != verifier.Valid {
		t.Fatalf("offline: %v %v", err, off.Reasons())
	}
	var a lifecycle.Answer
	v.do(http.MethodGet, "/api/v1/verify/"+v.cardToken(c.ID), "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicValid {
		t.Fatalf("public answer %q", a.Status)
	}
	var ua UploadAnswer
	v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", pdf).json(t, &ua)
	if ua.Report == nil || ua.Report.Verdict != "valid" {
		t.Fatalf("upload: %+v", ua.Report)
	}
	// The file check's report shows the document timestamp with its
	// authority, the validation time, and what the revisions after the
	// last seal added.
	page := v.uploadPage(t, pdf).Body.String()
	for _, want := range []string{`id="doc-timestamps"`, "第 1 个文档时间戳", rep.DocTimestamps[0].TSA, `id="validation-time"`, "依据文档时间戳确定",
		"最后一枚印章之后的版本只添加了长期验证数据（证书和证书吊销列表）和文档时间戳"} {
		if want == "" || !strings.Contains(page, want) {
			t.Errorf("upload report lacks %q", want)
		}
	}
}
