// Package sealtest builds small sealed documents for the tests and fuzz
// targets of the PDF reader, the seal CMS and the verifier (issue 12,
// F1): a one-page PDF of about 600 bytes, sealed by a village, a township
// and a county, about 10 KB in all, where a rendered card is 150 KB.
//
// The organisations' SM2 keys are derived from fixed labels and every
// time is fixed, so a document made in one run verifies, at Now, under
// the trust list of any other run: a fuzzer's input written to testdata
// stays meaningful. These are test keys; no server trusts them. Only the
// certificates' serial numbers are random (keys.CA draws them), so Card
// gives other bytes in each process; Sealed gives the committed copies,
// the same bytes everywhere, which fuzz seeds need (the fuzzing workers
// are other processes).
//
// Packages whose tests cannot import this one (pdf and seal: it imports
// the signer, which imports them) read the copies in testdata/ directly.
// "go test ./internal/pdftest/sealtest -update" rewrites them; the
// package's tests check they verify.
package sealtest

import (
	"crypto"
	_ "embed"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/big"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/internal/pdftest"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/signer"
)

// Times of the test documents: the certificates are issued at Issued,
// every seal is signed at SignedAt, and Now is a time to verify at.
var (
	Issued   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	SignedAt = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	Now      = SignedAt.Add(24 * time.Hour)
)

// DocID is the document number every seal binds.
const DocID = "2201022026000001"

// Org is a test organisation and its seal identity.
type Org struct {
	org.Org
	Identity *keys.Identity
	Box      [4]float64 // where its seal goes on the page
}

// Keys are the test root and the three organisations, village first.
type Keys struct {
	Root  *smx509.Certificate
	Trust *keys.TrustList
	Orgs  [3]Org
}

// Boxes are the seal boxes of the test page, by level.
func (k *Keys) Boxes() map[org.Level][4]float64 {
	m := map[org.Level][4]float64{}
	for _, o := range k.Orgs {
		m[o.Level] = o.Box
	}
	return m
}

var (
	keysOnce sync.Once
	theKeys  *Keys
	keysErr  error
)

// TestKeys returns the test keys, made once per process.
func TestKeys() (*Keys, error) {
	keysOnce.Do(func() { theKeys, keysErr = makeKeys() })
	return theKeys, keysErr
}

// detKey signs deterministically (RFC 6979 with SM3): sealing the same
// document twice gives the same bytes, certificates aside.
type detKey struct{ k *sm2.PrivateKey }

func (d detKey) Public() crypto.PublicKey { return d.k.Public() }

func (d detKey) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.k.Sign(nil, msg, opts)
}

// keyFor derives an SM2 key from a label: SM3 of it, reduced into the
// scalar range.
func keyFor(label string) (detKey, error) {
	h := sm3.Sum([]byte("cardseal sealtest key: " + label))
	n := new(big.Int).Sub(sm2.P256().Params().N, big.NewInt(2))
	d := new(big.Int).Mod(new(big.Int).SetBytes(h[:]), n)
	k, err := sm2.NewPrivateKeyFromInt(d.Add(d, big.NewInt(1)))
	if err != nil {
		return detKey{}, fmt.Errorf("sealtest: key %q: %w", label, err)
	}
	return detKey{k}, nil
}

func makeKeys() (*Keys, error) {
	rk, err := keyFor("root")
	if err != nil {
		return nil, err
	}
	ca, err := keys.NewRoot(rk, "吉林省", "测试吉林省卫生健康委员会", Issued)
	if err != nil {
		return nil, fmt.Errorf("sealtest: root: %w", err)
	}
	k := &Keys{Root: ca.Cert, Trust: keys.NewTrustList(ca.Cert)}
	for i, o := range []org.Org{
		{Code: "220102001001", Level: org.Village, Name: "测试村民委员会"},
		{Code: "220102001", Level: org.Township, Name: "测试镇人民政府"},
		{Code: "220102", Level: org.County, Name: "测试县卫生健康局"},
	} {
		key, err := keyFor(o.Code)
		if err != nil {
			return nil, err
		}
		cert, err := ca.IssueSeal(key.Public(), o, Issued)
		if err != nil {
			return nil, fmt.Errorf("sealtest: %s: %w", o.Code, err)
		}
		x := 10 + 65*float64(i)
		k.Orgs[i] = Org{Org: o, Identity: &keys.Identity{Signer: key, Cert: cert}, Box: [4]float64{x, 10, x + 50, 60}}
	}
	return k, nil
}

// Blank is the unsealed one-page document, with a classic
// cross-reference table or a cross-reference stream. Its page has an
// indirect /Contents (object 4) and /Resources (object 5).
func Blank(kind pdf.XrefKind) []byte {
	bodies := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 120] /Resources 5 0 R /Contents 4 0 R >>",
		pdftest.Stream("BT /F1 12 Tf 10 90 Td (cardseal test card) Tj ET"),
		"<< /Font << /F1 6 0 R >> >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	const id = "/ID [<73656174657374206361726420303031> <73656174657374206361726420303031>]"
	if kind == pdf.XrefStream {
		return pdftest.XrefStream(id, bodies...)
	}
	return pdftest.Classic(id, bodies...)
}

var (
	apOnce sync.Once
	ap     *signer.Appearance
	apErr  error
)

// appearance is a red 8×8 square: the smallest seal picture.
func appearance() (*signer.Appearance, error) {
	apOnce.Do(func() {
		img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
		for y := range 8 {
			for x := range 8 {
				img.SetNRGBA(x, y, color.NRGBA{R: 0xd0, G: 0x10, B: 0x10, A: 0xff})
			}
		}
		ap, apErr = signer.NewAppearance(img)
	})
	return ap, apErr
}

// Card returns the blank document and the document after each of the
// three seals (village, township, county), under the card policy.
func Card(kind pdf.XrefKind) ([4][]byte, error) {
	var out [4][]byte
	k, err := TestKeys()
	if err != nil {
		return out, err
	}
	a, err := appearance()
	if err != nil {
		return out, err
	}
	doc := Blank(kind)
	out[0] = doc
	for i, o := range k.Orgs {
		doc, err = signer.Seal(doc, &signer.Request{
			Identity: o.Identity, Org: o.Org, Policy: chain.Card, Rect: signer.Rect(o.Box), Appearance: a,
			Reason: "审核通过", Location: o.Name, DocID: DocID, Time: SignedAt,
		})
		if err != nil {
			return out, fmt.Errorf("sealtest: seal %s: %w", o.Code, err)
		}
		out[i+1] = doc
	}
	return out, nil
}

var (
	//go:embed testdata/card.pdf
	sealedTable []byte
	//go:embed testdata/card-xref.pdf
	sealedStream []byte
)

// Sealed returns the committed copy of Card(kind)'s sealed document: the
// same bytes in every process.
func Sealed(kind pdf.XrefKind) []byte {
	if kind == pdf.XrefStream {
		return sealedStream
	}
	return sealedTable
}

// Stages cuts a sealed document at the end of each revision: the
// document before the first seal, and after each seal.
func Stages(doc []byte) ([][]byte, error) {
	f, err := pdf.Parse(doc)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, r := range f.Revisions {
		out = append(out, doc[:r.End:r.End])
	}
	return out, nil
}
