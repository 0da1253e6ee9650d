package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// ErrBroken: the hash chain or a checkpoint does not hold (an event
// edited, deleted or reordered).
var ErrBroken = errors.New("audit chain broken")

// Event is one entry of the audit log: who did what, when, why and from
// where. Hash = SM3(PrevHash || canonical encoding), so the events form a
// chain that Verify checks.
type Event struct {
	ID         int64 // assigned when appended, 1, 2, 3, … without gaps
	At         time.Time
	Actor      string // username, or a fixed name for the public ("public", "citizen", "system")
	OrgCode    string
	Action     Action
	CardID     string
	Reason     string
	Detail     json.RawMessage // optional JSON object
	RemoteAddr string
	PrevHash   []byte
	Hash       []byte
}

// domain separates audit hashes from every other SM3 use.
const domain = "cardseal audit event v1"

// canonical returns the encoding the audit hash covers: the domain label,
// then the ID and time as big-endian 64-bit integers (time in Unix
// microseconds) and every text field as a 32-bit big-endian length and its
// bytes. Fixed order, no optional parts, so one event has one encoding.
func canonical(ev *Event) []byte {
	var b bytes.Buffer
	str := func(s string) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	str(domain)
	_ = binary.Write(&b, binary.BigEndian, ev.ID)
	_ = binary.Write(&b, binary.BigEndian, ev.At.UnixMicro())
	for _, s := range []string{ev.Actor, ev.OrgCode, string(ev.Action), ev.CardID, ev.Reason, string(ev.Detail), ev.RemoteAddr} {
		str(s)
	}
	return b.Bytes()
}

// Hash returns the hash an event must carry given the hash of its
// predecessor: SM3(prev || canonical encoding). The log computes it when
// appending; Verify recomputes it.
func Hash(prev []byte, ev *Event) []byte {
	h := sm3.New()
	h.Write(prev)
	h.Write(canonical(ev))
	return h.Sum(nil)
}

// Checkpoint is the platform's signed statement that the audit chain
// ended at event UpToID, whose hash was Hash, at SignedAt. An attacker
// with database access can edit an event and recompute every later hash,
// but cannot make the checkpoint's hash match the rewritten chain.
type Checkpoint struct {
	ID        int64     // assigned when stored: 1, 2, 3, …
	UpToID    int64     // the newest audit event when signed
	Hash      []byte    // that event's Hash
	SignedAt  time.Time // UTC, whole seconds: the message carries RFC 3339
	Signature []byte    // SM2 over Message(), DER SEQUENCE{r, s}
	Cert      []byte    // the signing platform certificate, DER
}

// checkpointLabel opens every checkpoint message; a new message format
// gets a new label.
const checkpointLabel = "cardseal-audit-v1"

// Message returns the bytes the checkpoint's signature covers:
//
//	cardseal-audit-v1\n<UpToID>\n<lower-case hex Hash>\n<SignedAt, RFC 3339, UTC>\n
func (c Checkpoint) Message() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%x\n%s\n", checkpointLabel, c.UpToID, c.Hash,
		c.SignedAt.UTC().Format(time.RFC3339))
}
