package keys_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/verifier"
)

var testPass = []byte("rotate-test-passphrase")

// demoStore is a demo keystore with its root key, standing in for the
// offline CA.
func demoStore(t *testing.T) (*keys.FileStore, *keys.CA) {
	t.Helper()
	dir := t.TempDir()
	if err := keys.InitDir(dir, keys.Demo, testPass, time.Now()); err != nil {
		t.Fatal(err)
	}
	ks, err := keys.OpenDir(dir, testPass)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	return ks, ca
}

// renew runs the ceremony for one organisation: request, sign, import.
func renew(t *testing.T, ks *keys.FileStore, ca *keys.CA, o org.Org) *smx509.Certificate {
	t.Helper()
	csr, err := ks.RequestSeal(o, false)
	if err != nil {
		t.Fatal(err)
	}
	req, err := keys.ParseRequest(csr)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.SignRequest(req, time.Now(), keys.SealValidity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Import(cert, time.Now()); err != nil {
		t.Fatal(err)
	}
	return cert
}

func sealedCard(t *testing.T, ks keys.Store, number string) []byte {
	t.Helper()
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := card.ParseApplicant(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := lifecycle.Render(context.Background(), keys.Demo, &lifecycle.Draft{Number: number, Applicant: a,
		IssueDate: time.Now().In(lifecycle.China)}, "https://cards.example.cn")
	if err != nil {
		t.Fatal(err)
	}
	pdf := r.PDF
	s := lifecycle.NewSealer(ks)
	for _, code := range []string{"220102001001", "220102001", "220102"} {
		if pdf, err = s.SealCard(pdf, mustOrg(keys.Demo.GetOrg(context.Background(), code)), number, time.Now()); err != nil {
			t.Fatalf("seal %s: %v", code, err)
		}
	}
	return pdf
}

func verify(t *testing.T, tl *keys.TrustList, pdf []byte) *verifier.Report {
	t.Helper()
	rep, err := verifier.Verify(pdf, verifier.Options{Trust: tl, SealBoxes: lifecycle.CardSealBoxes()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verifier.Valid {
		t.Fatalf("verdict %s: %v", rep.Verdict, rep.Reasons())
	}
	return rep
}

// A card sealed before a rotation and one sealed after both verify: a
// seal carries its certificate, judged at its signing time.
func TestRotationKeepsOldSealsValid(t *testing.T) {
	ks, ca := demoStore(t)
	village, _ := keys.Demo.GetOrg(context.Background(), "220102001001")
	old, err := ks.SealIdentity(village.Code)
	if err != nil {
		t.Fatal(err)
	}
	before := sealedCard(t, ks, "2201022026000001")

	csr, err := ks.RequestSeal(village, false)
	if err != nil {
		t.Fatal(err)
	}
	// While the request is pending the current key keeps sealing, and a
	// second request does not silently replace the first.
	if id, err := ks.SealIdentity(village.Code); err != nil || !id.Cert.Equal(old.Cert) {
		t.Fatalf("current key during a pending request: %v", err)
	}
	if _, err := ks.RequestSeal(village, false); !errors.Is(err, keys.ErrPending) {
		t.Fatalf("second request: %v, want ErrPending", err)
	}
	req, _ := keys.ParseRequest(csr)
	cert, err := ca.SignRequest(req, time.Now(), keys.SealValidity)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ks.Import(cert, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.NewOrg || res.Org != village || res.Archived == "" {
		t.Fatalf("import %+v", res)
	}
	if archived, err := os.ReadFile(res.Archived); err != nil || len(archived) == 0 {
		t.Fatalf("archived certificate: %v", err)
	}
	if _, err := ks.Import(cert, time.Now()); !errors.Is(err, keys.ErrNoPending) {
		t.Fatalf("second import: %v, want ErrNoPending", err)
	}

	// A fresh process sees the new key too.
	ks2, err := keys.OpenDir(ks.Dir(), testPass)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*keys.FileStore{ks, ks2} {
		id, err := s.SealIdentity(village.Code)
		if err != nil || !id.Cert.Equal(cert) {
			t.Fatalf("identity after import: %v", err)
		}
	}
	after := sealedCard(t, ks2, "2201022026000002")

	r1, r2 := verify(t, ks.TrustList(), before), verify(t, ks.TrustList(), after)
	want1, want2 := fmt.Sprintf("%X", old.Cert.SerialNumber), fmt.Sprintf("%X", cert.SerialNumber)
	if r1.Seals[0].CertSerial != want1 || r2.Seals[0].CertSerial != want2 {
		t.Fatalf("village seals by %s and %s, want %s then %s", r1.Seals[0].CertSerial, r2.Seals[0].CertSerial, want1, want2)
	}
}

func TestImportRefused(t *testing.T) {
	ks, ca := demoStore(t)
	_, other := demoStore(t) // another province's root, same names
	town, _ := keys.Demo.GetOrg(context.Background(), "220102001")
	csr, err := ks.RequestSeal(town, false)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := keys.ParseRequest(csr)
	now := time.Now()
	sign := func(c *keys.CA, pub any, o org.Org) *smx509.Certificate {
		cert, err := c.IssueSeal(pub, o, now)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	strange, _ := keys.NewKey()
	renamed := town
	renamed.Name = "别的街道办事处"
	plat, _ := ca.IssuePlatform(req.PublicKey(), "吉林省生育服务卡平台", now)
	tests := []struct {
		name string
		cert *smx509.Certificate
		want error
	}{
		{"other root", sign(other, req.PublicKey(), town), keys.ErrUntrusted},
		{"not the pending key", sign(ca, strange.Public(), town), keys.ErrKeyMismatch},
		{"other name than requested", sign(ca, req.PublicKey(), renamed), keys.ErrOrgMismatch},
		{"no request for that organisation", sign(ca, req.PublicKey(), org.Org{Code: "220102002", Level: org.Township, Name: "桃源街道办事处"}), keys.ErrNoPending},
		{"platform certificate for a seal key", plat, keys.ErrNoPending},
		{"expired", sign(ca, req.PublicKey(), town), keys.ErrExpired}, // imported ten years on
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := now
			if tc.want == keys.ErrExpired {
				at = now.Add(10 * 365 * 24 * time.Hour)
			}
			if _, err := ks.Import(tc.cert, at); !errors.Is(err, tc.want) {
				t.Fatalf("Import: %v, want %v", err, tc.want)
			}
		})
	}
	// Nothing changed: the pending request is still there, the current
	// certificate still current.
	if _, err := ks.PendingRequest(town.Code); err != nil {
		t.Fatal(err)
	}
	if id, err := ks.SealIdentity(town.Code); err != nil || id.Cert.PublicKey.(*ecdsa.PublicKey).Equal(req.PublicKey()) {
		t.Fatalf("current identity changed: %v", err)
	}
}

// A server without the root key: trust list only, then the platform and
// a new organisation through requests.
func TestServerWithoutRootKey(t *testing.T) {
	_, ca := demoStore(t)
	dir := t.TempDir()
	if err := keys.InitServerDir(dir, ca.Cert.Raw); err == nil {
		t.Fatal("InitServerDir accepted DER instead of PEM")
	}
	bundle := keys.NewTrustList(ca.Cert).PEM()
	if err := keys.InitServerDir(dir, bundle); err != nil {
		t.Fatal(err)
	}
	if err := keys.InitServerDir(dir, bundle); err == nil {
		t.Fatal("InitServerDir overwrote a keystore")
	}
	ks, err := keys.OpenDir(dir, testPass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.RootCA(); err == nil {
		t.Fatal("a server keystore has a root key")
	}
	if orgs, _ := ks.SealOrgs(); len(orgs) != 0 {
		t.Fatalf("orgs %v", orgs)
	}
	st := ks.Status()
	if len(st) != 3 || st[1].Kind != "platform" || st[1].Cert != nil || st[1].Pending || st[2].Kind != "tsa" || st[2].Cert != nil {
		t.Fatalf("status of an empty server: %+v", st)
	}

	csr, err := ks.RequestPlatform("", false)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := keys.ParseRequest(csr)
	pc, err := ca.SignRequest(req, time.Now(), keys.PlatformValidity)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ks.Import(pc, time.Now()); err != nil || !res.Platform || res.Archived != "" {
		t.Fatalf("platform import %+v, %v", res, err)
	}
	// The time-stamping key goes through the same ceremony; its
	// certificate has the critical timeStamping extendedKeyUsage.
	csr, err = ks.RequestTSA("", false)
	if err != nil {
		t.Fatal(err)
	}
	if req, err = keys.ParseRequest(csr); err != nil || !req.TSA || req.Platform {
		t.Fatalf("TSA request %+v, %v", req, err)
	}
	tc, err := ca.SignRequest(req, time.Now(), keys.TSAValidity)
	if err != nil {
		t.Fatal(err)
	}
	if !keys.IsTSA(tc) || keys.IsPlatform(tc) {
		t.Fatal("the TSA certificate does not follow the TSA profile")
	}
	if _, err := keys.Profile(tc); err == nil {
		t.Fatal("a TSA certificate passes as a seal certificate")
	}
	if res, err := ks.Import(tc, time.Now()); err != nil || !res.TSA || res.Platform {
		t.Fatalf("TSA import %+v, %v", res, err)
	}
	if id, err := ks.TSAIdentity(); err != nil || !keys.IsTSA(id.Cert) || len(id.Chain) != 1 {
		t.Fatalf("TSA identity after import: %v", err)
	}
	for _, o := range keys.Demo.Orgs {
		renew(t, ks, ca, o)
	}
	ks2, err := keys.OpenDir(dir, testPass)
	if err != nil {
		t.Fatal(err)
	}
	if orgs, _ := ks2.SealOrgs(); len(orgs) != len(keys.Demo.Orgs) {
		t.Fatalf("%d certified organisations, want %d", len(orgs), len(keys.Demo.Orgs))
	}
	verify(t, ks2.TrustList(), sealedCard(t, ks2, "2201022026000003"))
	if _, err := os.Stat(filepath.Join(dir, "keys", "root.key")); !os.IsNotExist(err) {
		t.Fatal("root key on the server")
	}
}

// mustOrg panics on an organisation the demo province lacks.
func mustOrg(o org.Org, err error) org.Org {
	if err != nil {
		panic(err)
	}
	return o
}

// TestEnsureDemoTSA: a demo keystore from before the TSA key gets one
// from its own root, once; a server keystore without the root key does
// not.
func TestEnsureDemoTSA(t *testing.T) {
	dir := t.TempDir()
	if err := keys.InitDir(dir, keys.Demo, testPass, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".crt", ".key"} {
		if err := os.Remove(filepath.Join(dir, "keys", "tsa"+ext)); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := keys.OpenDir(dir, testPass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.TSAIdentity(); err == nil {
		t.Fatal("TSA identity without its files")
	}
	if made, err := ks.EnsureDemoTSA(time.Now()); err != nil || !made {
		t.Fatalf("EnsureDemoTSA: %v %v", made, err)
	}
	id, err := ks.TSAIdentity()
	if err != nil || !keys.IsTSA(id.Cert) {
		t.Fatalf("after EnsureDemoTSA: %v", err)
	}
	if made, err := ks.EnsureDemoTSA(time.Now()); err != nil || made {
		t.Fatalf("second EnsureDemoTSA: %v %v", made, err)
	}
	server := t.TempDir()
	ca, _ := ks.RootCA()
	if err := keys.InitServerDir(server, keys.NewTrustList(ca.Cert).PEM()); err != nil {
		t.Fatal(err)
	}
	sks, _ := keys.OpenDir(server, testPass)
	if made, err := sks.EnsureDemoTSA(time.Now()); err != nil || made {
		t.Fatalf("server keystore: %v %v", made, err)
	}
}
