package tsa_test

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/tsa"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestOpenSSLVerifiesToken is the independent check of issue 17 with
// OpenSSL 3: `openssl ts -reply -text` prints the reply, and OpenSSL
// verifies the token over a signature value — the imprint (openssl dgst
// -sm3 of the signature value), the messageDigest (SM3 of the TSTInfo),
// the SM2 signature over the signed attributes (openssl pkeyutl), and the
// TSA certificate's chain to the province root with OpenSSL's
// time-stamping purpose (critical extendedKeyUsage timeStamping).
//
// OpenSSL 3.0 computes SM2's Z value with an empty user ID unless it is
// told the ID (-vfyopt/-pkeyopt distid); GM/T 0009 and every cardseal
// signature use 1234567812345678. `openssl ts -verify` and `openssl cms
// -verify` take no such option, so they reject every standard SM2
// certificate; the steps below are what they do, each with the ID given.
func TestOpenSSLVerifiesToken(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	a, ca := newAuthority(t, fixed(t0), fixed(t0))
	dir := t.TempDir()
	if d := os.Getenv("TSA_KEEP"); d != "" {
		dir = d
	}
	sig := []byte("0E\x02\x21the SM2 signature value of a seal's SignerInfo")
	reply, err := a.Respond(context.Background(), tsa.NewRequest(tsa.SM3, tsa.SM3.Sum(sig), nil))
	if err != nil {
		t.Fatal(err)
	}
	_, _, tok, err := tsa.ParseReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	parts := splitToken(t, tok)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemOf := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }
	sigFile := write("sig.bin", sig)
	replyFile := write("reply.tsr", reply)
	rootFile := write("root.pem", pemOf(ca.Cert.Raw))
	tsaFile := write("tsa.pem", pemOf(a.Identity().Cert.Raw))
	tstFile := write("tstinfo.der", parts.tstInfo)
	attrsFile := write("attrs.der", parts.attrs)
	tokSigFile := write("token-sig.der", parts.signature)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sm3Hex := func(file string) string {
		out := run("dgst", "-sm3", "-r", file)
		return strings.Fields(out)[0]
	}

	// The reply, as OpenSSL reads it.
	text := run("ts", "-reply", "-in", replyFile, "-text")
	imprint := sm3Hex(sigFile)
	var dump strings.Builder
	for i := 0; i < len(imprint); i += 2 {
		dump.WriteString(imprint[i : i+2])
	}
	for _, want := range []string{"Status: Granted.", "Policy OID: " + tsa.OIDPolicy, "Hash Algorithm: sm3",
		"Serial number: 0x01", "Time stamp: Nov 28 09:30:15 2026 GMT", "Accuracy: 0x03 seconds"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
		}
	}
	if got := hexDump(text); got != imprint {
		t.Errorf("the token's imprint is %s, openssl dgst -sm3 of the signature value is %s", got, imprint)
	}
	// The token's content is what it signs.
	if got := sm3Hex(tstFile); got != hex.EncodeToString(parts.messageDigest) {
		t.Errorf("messageDigest %x, openssl's SM3 of the TSTInfo %s", parts.messageDigest, got)
	}
	out := run("asn1parse", "-inform", "DER", "-in", tstFile)
	if !strings.Contains(out, ":sm3") || !strings.Contains(out, "GENERALIZEDTIME   :20261128093015Z") {
		t.Errorf("openssl asn1parse of the TSTInfo:\n%s", out)
	}
	// The SM2 signature over the signed attributes, with the standard ID.
	out = run("pkeyutl", "-verify", "-certin", "-inkey", tsaFile, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", attrsFile, "-sigfile", tokSigFile)
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl -verify: %s", out)
	}
	// The TSA certificate: chains to the root, fit for time-stamping.
	out = run("verify", "-vfyopt", "distid:1234567812345678", "-purpose", "timestampsign",
		"-attime", strconv.FormatInt(t0.Unix(), 10), "-CAfile", rootFile, tsaFile)
	if !strings.Contains(out, "OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	// A seal certificate is not fit for time-stamping.
	sk, _ := keys.NewKey()
	sc, err := ca.IssueSeal(sk.Public(), org.Org{Code: "220102", Level: org.County, Name: "长春市南关区卫生健康局"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	sealFile := write("seal.pem", pemOf(sc.Raw))
	if out, err := exec.Command(openssl, "verify", "-vfyopt", "distid:1234567812345678", "-purpose", "timestampsign",
		"-CAfile", rootFile, sealFile).CombinedOutput(); err == nil {
		t.Fatalf("openssl accepts a seal certificate for time-stamping: %s", out)
	}
}

// hexDump reads the "Message data:" hex dump of openssl ts -text.
func hexDump(text string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "Message data:"):
			in = true
		case in && strings.HasPrefix(line, "    "):
			f := strings.SplitN(strings.TrimSpace(line), " - ", 2)
			if len(f) == 2 {
				hexPart := f[1]
				if len(hexPart) > 47 {
					hexPart = hexPart[:47]
				}
				b.WriteString(strings.NewReplacer(" ", "", "-", "").Replace(hexPart))
			}
		default:
			in = false
		}
	}
	return b.String()
}

type tokenParts struct {
	tstInfo, attrs, signature, messageDigest []byte
}

// splitToken takes a token apart with a walker of its own (not package
// tsa's parser), for OpenSSL to check each part.
func splitToken(t *testing.T, tok []byte) tokenParts {
	t.Helper()
	var p tokenParts
	in := cryptobyte.String(tok)
	var ci, sd, encap, econt, certs, sis, si, skip cryptobyte.String
	var attrs cryptobyte.String
	ok := in.ReadASN1(&ci, casn1.SEQUENCE) && ci.SkipASN1(casn1.OBJECT_IDENTIFIER) &&
		ci.ReadASN1(&sd, casn1.Tag(0).ContextSpecific().Constructed()) && sd.ReadASN1(&sd, casn1.SEQUENCE) &&
		sd.SkipASN1(casn1.INTEGER) && sd.SkipASN1(casn1.SET) && sd.ReadASN1(&encap, casn1.SEQUENCE) &&
		encap.SkipASN1(casn1.OBJECT_IDENTIFIER) && encap.ReadASN1(&econt, casn1.Tag(0).ContextSpecific().Constructed()) &&
		econt.ReadASN1Bytes(&p.tstInfo, casn1.OCTET_STRING) &&
		sd.ReadASN1(&certs, casn1.Tag(0).ContextSpecific().Constructed()) && sd.ReadASN1(&sis, casn1.SET) &&
		sis.ReadASN1(&si, casn1.SEQUENCE) && si.SkipASN1(casn1.INTEGER) && si.SkipASN1(casn1.SEQUENCE) && si.SkipASN1(casn1.SEQUENCE) &&
		si.ReadASN1Element(&attrs, casn1.Tag(0).ContextSpecific().Constructed()) && si.ReadASN1(&skip, casn1.SEQUENCE) &&
		si.ReadASN1Bytes(&p.signature, casn1.OCTET_STRING)
	if !ok {
		t.Fatal("cannot take the token apart")
	}
	p.attrs = append([]byte{0x31}, attrs[1:]...)
	body := cryptobyte.String(attrs)
	var set cryptobyte.String
	body.ReadASN1(&set, casn1.Tag(0).ContextSpecific().Constructed())
	mdOID := []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04}
	for !set.Empty() {
		var attr, vals cryptobyte.String
		var oid []byte
		if !set.ReadASN1(&attr, casn1.SEQUENCE) || !attr.ReadASN1Bytes(&oid, casn1.OBJECT_IDENTIFIER) || !attr.ReadASN1(&vals, casn1.SET) {
			t.Fatal("bad attribute")
		}
		if string(oid) == string(mdOID) {
			vals.ReadASN1Bytes(&p.messageDigest, casn1.OCTET_STRING)
		}
	}
	if p.messageDigest == nil {
		t.Fatal("no messageDigest")
	}
	return p
}
