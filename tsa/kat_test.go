package tsa

import (
	"encoding/hex"
	"math/big"
	"testing"
	"time"
)

// The TSTInfo test vector of docs/seal-format.md ("Signature
// timestamp"): the platform's first token of 2026 over the signature
// value "cardseal test vector signature", allowed drift 2 s.
const katTSTInfo = "306902010106146983a7fe9becf6ba9aa1d38bc3dcf19dbeb380113030300c06082a811ccf5501831105000420" +
	"5e7a74fbb6fceaa1a3aa7985dae9cc76994af3ec5dd91ea81c12b7114a2d28ca020607ea00000001180f323032363131" +
	"32383039333031365a3003020103"

func TestTSTInfoKnownAnswer(t *testing.T) {
	a := &Authority{drift: 2 * time.Second}
	sig := []byte("cardseal test vector signature")
	r := &Request{Hash: SM3, Imprint: SM3.Sum(sig)}
	serial := new(big.Int).SetInt64(2026<<32 | 1)
	got := hex.EncodeToString(a.tstInfo(r, serial, time.Date(2026, 11, 28, 9, 30, 16, 0, time.UTC)))
	t.Logf("imprint %x\nserial %x\nTSTInfo %s", r.Imprint, serial, got)
	if got != katTSTInfo {
		t.Fatalf("TSTInfo\n got %s\nwant %s", got, katTSTInfo)
	}
}
