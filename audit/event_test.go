package audit

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

func TestAuditCanonicalKnownAnswer(t *testing.T) {
	ev := Event{
		ID: 1, At: time.Date(2026, 11, 28, 8, 0, 0, 123456000, time.UTC),
		Actor: "220102", OrgCode: "220102", Action: "card.void", CardID: "0123456789abcdef",
		Reason: "error", Detail: []byte(`{"n":1}`), RemoteAddr: "192.0.2.1",
	}
	enc := canonical(&ev)
	// The encoding is length-prefixed: moving bytes between adjacent
	// fields changes it.
	shifted := ev
	shifted.Actor, shifted.OrgCode = "2201022", "20102"
	if bytes.Equal(enc, canonical(&shifted)) {
		t.Error("field boundaries are not part of the encoding")
	}
	h := sm3.New()
	h.Write(enc)
	if got := Hash(nil, &ev); !bytes.Equal(got, h.Sum(nil)) {
		t.Error("Hash(nil, ev) != SM3(canonical(ev))")
	}
	wantPrefix := "00000017" + hex.EncodeToString([]byte(domain)) + "0000000000000001"
	if got := hex.EncodeToString(enc); !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("encoding starts %s, want %s", got[:len(wantPrefix)], wantPrefix)
	}
}
