package lifecycle

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestAtRestVector is the known-answer vector of format 2 in
// docs/privacy.md ("At rest"), also computed independently with Python's
// hmac (SM3) and cryptography (SM4-GCM).
func TestAtRestVector(t *testing.T) {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	nonce := make([]byte, 12)
	for i := range nonce {
		nonce[i] = byte(0xa0 + i)
	}
	p, err := newPrivacy(k)
	if err != nil {
		t.Fatal(err)
	}
	sl := pdfSlot("0123456789abcdef", 1)
	if sl.ad != "cardseal/card-pdf/0123456789abcdef/1" {
		t.Fatalf("associated data %q", sl.ad)
	}
	if got := hex.EncodeToString(p.cur.id); got != "239e619e753f3f4c" {
		t.Fatalf("key id %s", got)
	}
	if got := hex.EncodeToString(derive(k, "cardseal data encryption v2")[:16]); got != "6d546e5c0c2611f63a4002dca7111fb8" {
		t.Fatalf("SM4 key %s", got)
	}
	const want = "435332239e619e753f3f4ca0a1a2a3a4a5a6a7a8a9aaabe282e321fd36af2a9c94d52200bc2f73ba88993cfa6b438546"
	enc := p.sealNonce(sl, nonce, []byte("%PDF-1.7\n"))
	if got := hex.EncodeToString(enc); got != want {
		t.Fatalf("ciphertext\n got %s\nwant %s", got, want)
	}
	if plain, err := p.open(sl, enc); err != nil || !bytes.Equal(plain, []byte("%PDF-1.7\n")) {
		t.Fatalf("open: %q, %v", plain, err)
	}
	// One bit flipped anywhere: nothing decrypts.
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 1
		if _, err := p.open(sl, bad); err == nil {
			t.Fatalf("byte %d flipped still decrypts", i)
		}
	}
}
