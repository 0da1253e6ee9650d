package seal

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// detSigner signs deterministically (RFC 6979 with SM3), for the
// known-answer vector.
type detSigner struct{ *sm2.PrivateKey }

func (d detSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.PrivateKey.Sign(nil, msg, opts)
}

// SignMessage shadows the promoted method, which crypto.SignMessage (and
// so smx509.CreateCertificate) prefers and which would use randomness.
func (d detSigner) SignMessage(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.PrivateKey.Sign(nil, msg, opts)
}

// testCA is a root certificate and its key.
type testCA struct {
	key  crypto.Signer
	cert *smx509.Certificate
}

func mustKey(t testing.TB, scalar string) *sm2.PrivateKey {
	t.Helper()
	if scalar == "" {
		k, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	d, _ := new(big.Int).SetString(scalar, 16)
	k, err := sm2.NewPrivateKeyFromInt(d)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var certEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newRoot makes a self-signed SM2 root. A non-empty scalar (hex) and a
// deterministic signer make it reproducible.
func newRoot(t testing.TB, scalar string) *testCA {
	t.Helper()
	k := mustKey(t, scalar)
	tmpl := &smx509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Country: []string{"CN"}, Province: []string{"Jilin"}, CommonName: "cardseal test root"},
		NotBefore:             certEpoch,
		NotAfter:              certEpoch.AddDate(20, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		SignatureAlgorithm:    smx509.SM2WithSM3,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), detSigner{k})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{key: k, cert: c}
}

// newIdentity makes an organisation's seal identity issued by ca, with
// OU=level and SERIALNUMBER=code in the subject.
func (ca *testCA) newIdentity(t testing.TB, scalar string, serial int64, level org.Level, code string) *keys.Identity {
	t.Helper()
	k := mustKey(t, scalar)
	return ca.issue(t, k, serial, level, code)
}

func (ca *testCA) issue(t testing.TB, k *sm2.PrivateKey, serial int64, level org.Level, code string) *keys.Identity {
	t.Helper()
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject: pkix.Name{
			Country: []string{"CN"}, Province: []string{"Jilin"},
			OrganizationalUnit: []string{string(level)}, SerialNumber: code,
			CommonName: "seal " + code,
		},
		NotBefore:          certEpoch,
		NotAfter:           certEpoch.AddDate(5, 0, 0),
		KeyUsage:           smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
		SignatureAlgorithm: smx509.SM2WithSM3,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.cert, k.Public(), detSigner{ca.key.(*sm2.PrivateKey)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Identity{Signer: detSigner{k}, Cert: c, Chain: []*smx509.Certificate{ca.cert}}
}

// randomSigner makes id sign with fresh randomness.
func randomSigner(id *keys.Identity) *keys.Identity {
	cp := *id
	cp.Signer = id.Signer.(detSigner).PrivateKey
	return &cp
}
