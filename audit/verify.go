// Package audit owns the tamper evidence of the audit log: it checks the
// SM3 hash chain the store keeps and the platform-signed checkpoints over
// its head, and names what was done to the log (an event edited, deleted,
// moved, the newest events cut off, the chain rewritten and re-hashed, a
// checkpoint forged). RunAuditSigner signs the head periodically.
//
// What it cannot see: events changed after the newest checkpoint by an
// attacker who recomputes their hashes and the chain head, and a log whose
// checkpoints were deleted with it. Sign often, and keep the output of
// 'cardseal audit sign' somewhere the database's administrators cannot
// write.
package audit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
)

// Log is what Verify reads; store.Store provides it.
type Log interface {
	AuditCheckpoints(ctx context.Context) ([]Checkpoint, error)
	AuditChain(ctx context.Context, fn func(Event) error) (headID int64, headHash []byte, err error)
}

// Kind classifies a problem.
type Kind string

const (
	// Edited: the event's content no longer matches its hash, or (when
	// the event was re-hashed alone) its successor no longer links to it.
	Edited Kind = "edited"
	// Missing: events deleted from the middle, or from the end when the
	// chain head still names them.
	Missing Kind = "missing"
	// Reordered: the event sits at another position than the one it was
	// hashed at (its content hashes correctly under another ID).
	Reordered Kind = "reordered"
	// Truncated: a signed checkpoint covers events that no longer exist.
	Truncated Kind = "truncated"
	// Rewritten: the chain links, but a signed checkpoint's hash differs
	// from the log's: an event in the range was changed and every later
	// hash recomputed.
	Rewritten Kind = "rewritten"
	// Head: the chain head does not match the newest event.
	Head Kind = "head"
	// BadCheckpoint: a checkpoint's signature or certificate does not
	// verify: forged, or signed by a key that is not a trusted platform
	// key.
	BadCheckpoint Kind = "bad-checkpoint"
)

// Problem is one thing wrong with the log.
type Problem struct {
	Kind       Kind   `json:"kind"`
	EventID    int64  `json:"event_id"`             // the first event concerned
	LastID     int64  `json:"last_id,omitempty"`    // the last, when a range is concerned
	Checkpoint int64  `json:"checkpoint,omitempty"` // the checkpoint that shows it
	Reason     string `json:"reason"`
}

func (p Problem) String() string {
	if p.LastID > p.EventID {
		return fmt.Sprintf("events %d to %d: %s", p.EventID, p.LastID, p.Reason)
	}
	return fmt.Sprintf("event %d: %s", p.EventID, p.Reason)
}

// Report is the result of Verify.
type Report struct {
	Events       int64     `json:"events"`                      // events in the log
	Checkpoints  int       `json:"checkpoints"`                 // checkpoints with a valid signature
	LastSignedAt time.Time `json:"last_signed_at,omitzero"`     // newest valid checkpoint
	LastSignedID int64     `json:"last_signed_event,omitempty"` // the event it covers
	// Unsigned counts the events after the newest valid checkpoint: only
	// the hash chain protects them.
	Unsigned int64     `json:"unsigned"`
	Problems []Problem `json:"problems"` // by event; empty if intact
	// More counts problems found beyond the first maxProblems.
	More int `json:"more_problems,omitempty"`
}

// Intact reports whether no problem was found.
func (r *Report) Intact() bool { return len(r.Problems) == 0 }

// maxProblems bounds the report of a badly damaged log.
const maxProblems = 100

// moveWindow is how far from its position Verify looks for the position an
// event was hashed at, to tell a moved event from an edited one.
const moveWindow = 16

// Verify checks the audit log: every event against its hash and its
// predecessor, the chain head, and every checkpoint (signature, platform
// certificate chaining to trust at the signing time, and its hash against
// the log's at that event). Problems are verdicts in the report; an error
// means the log could not be checked.
func Verify(ctx context.Context, lg Log, trust *keys.TrustList) (*Report, error) {
	if trust == nil {
		return nil, errors.New("verify audit log: no trust list")
	}
	r := &Report{Problems: []Problem{}}
	add := func(p Problem) {
		if len(r.Problems) >= maxProblems {
			r.More++
			return
		}
		r.Problems = append(r.Problems, p)
	}

	// Checkpoints first, then the events: the log only grows, so every
	// checkpoint read names events that the later read sees.
	cps, err := lg.AuditCheckpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify audit log: %w", err)
	}
	var valid []Checkpoint
	need := map[int64]bool{}
	for _, cp := range cps {
		if reason := checkCheckpoint(cp, trust); reason != "" {
			add(Problem{Kind: BadCheckpoint, EventID: cp.UpToID, Checkpoint: cp.ID,
				Reason: fmt.Sprintf("checkpoint %d (signed at %s) %s", cp.ID, cp.SignedAt.UTC().Format(time.RFC3339), reason)})
			continue
		}
		valid = append(valid, cp)
		need[cp.UpToID] = true
	}

	var (
		want   int64 = 1
		prev         = []byte{}
		prevOK       = true // the previous event matched its own hash
		last   int64
		hashAt = map[int64][]byte{}
		badAt  = map[int64]bool{}
	)
	headID, headHash, err := lg.AuditChain(ctx, func(ev Event) error {
		r.Events++
		if ev.ID < want {
			// Only IDs below 1 get here: rows come in ID order.
			add(Problem{Kind: Reordered, EventID: ev.ID, Reason: "its ID is outside the chain, which starts at 1"})
			return nil
		}
		gap := ev.ID > want
		if gap {
			p := Problem{Kind: Missing, EventID: want, Reason: "deleted"}
			if ev.ID-1 > want {
				p.LastID = ev.ID - 1
			}
			add(p)
		}
		selfOK := bytes.Equal(Hash(ev.PrevHash, &ev), ev.Hash)
		switch {
		case !selfOK:
			badAt[ev.ID] = true
			if from := movedFrom(ev, len(r.Problems) < maxProblems); from != 0 {
				add(Problem{Kind: Reordered, EventID: ev.ID, Reason: fmt.Sprintf("moved: it holds event %d", from)})
			} else {
				add(Problem{Kind: Edited, EventID: ev.ID, Reason: "edited: its content no longer matches its hash"})
			}
		case !gap && prevOK && !bytes.Equal(ev.PrevHash, prev):
			// This event matches its own hash, which covers its link, so
			// the link is as written: the predecessor's hash changed.
			if ev.ID == 1 {
				add(Problem{Kind: Missing, EventID: 1, Reason: "the first event links to a predecessor that is not in the log"})
			} else {
				badAt[ev.ID-1] = true
				add(Problem{Kind: Edited, EventID: ev.ID - 1,
					Reason: fmt.Sprintf("edited and re-hashed: event %d no longer links to it", ev.ID)})
			}
		}
		if selfOK && need[ev.ID] {
			hashAt[ev.ID] = ev.Hash
		}
		prev, prevOK, want, last = ev.Hash, selfOK, ev.ID+1, ev.ID
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify audit log: %w", err)
	}
	switch {
	case headID > last:
		p := Problem{Kind: Missing, EventID: last + 1, Reason: fmt.Sprintf("deleted from the end (the chain head names event %d)", headID)}
		if headID > last+1 {
			p.LastID = headID
		}
		add(p)
	case headID < last:
		add(Problem{Kind: Head, EventID: headID + 1, LastID: last,
			Reason: fmt.Sprintf("past the chain head (event %d): added behind the store's back, or the head was moved back", headID)})
	case last > 0 && !bytes.Equal(headHash, prev):
		add(Problem{Kind: Head, EventID: last, Reason: "the chain head's hash does not match the newest event"})
	}

	sort.SliceStable(valid, func(i, j int) bool {
		if valid[i].UpToID != valid[j].UpToID {
			return valid[i].UpToID < valid[j].UpToID
		}
		return valid[i].ID < valid[j].ID
	})
	from, prevMatched := int64(1), true
	for _, cp := range valid {
		signed := cp.SignedAt.UTC().Format(time.RFC3339)
		switch h, ok := hashAt[cp.UpToID]; {
		case cp.UpToID > last:
			p := Problem{Kind: Truncated, EventID: max(last+1, from), Checkpoint: cp.ID,
				Reason: fmt.Sprintf("deleted: checkpoint %d, signed at %s, covers event %d but the log ends at event %d",
					cp.ID, signed, cp.UpToID, last)}
			if cp.UpToID > p.EventID {
				p.LastID = cp.UpToID
			}
			add(p)
		case !ok:
			// The event is missing or was edited: already named.
		case bytes.Equal(h, cp.Hash):
			prevMatched = true
		default:
			if prevMatched && !badAt[cp.UpToID] {
				p := Problem{Kind: Rewritten, EventID: from, Checkpoint: cp.ID,
					Reason: fmt.Sprintf("rewritten: an event was changed and the chain re-hashed; checkpoint %d, signed at %s, "+
						"holds hash %x for event %d, the log now has %x", cp.ID, signed, cp.Hash, cp.UpToID, h)}
				if cp.UpToID > from {
					p.LastID = cp.UpToID
				}
				add(p)
			}
			prevMatched = false
		}
		from = cp.UpToID + 1
		r.Checkpoints++
		if cp.SignedAt.After(r.LastSignedAt) {
			r.LastSignedAt = cp.SignedAt
		}
		r.LastSignedID = max(r.LastSignedID, cp.UpToID)
	}
	r.Unsigned = max(last-r.LastSignedID, 0)
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].EventID < r.Problems[j].EventID })
	return r, nil
}

// checkCheckpoint returns why the checkpoint's signature or certificate
// does not verify, or "".
func checkCheckpoint(cp Checkpoint, trust *keys.TrustList) string {
	cert, err := smx509.ParseCertificate(cp.Cert)
	if err != nil {
		return "has an unreadable certificate"
	}
	if !keys.IsPlatform(cert) {
		return fmt.Sprintf("is signed by %q, not a platform certificate", cert.Subject.CommonName)
	}
	if _, err := trust.Verify(cert, nil, cp.SignedAt); err != nil {
		return fmt.Sprintf("is signed by an untrusted certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || cp.UpToID < 1 || !sm2.VerifyASN1WithSM2(pub, nil, cp.Message(), cp.Signature) {
		return "has a bad signature: forged or altered"
	}
	return ""
}

// movedFrom returns the ID, near the event's own, under which its content
// matches its hash, or 0.
func movedFrom(ev Event, search bool) int64 {
	if !search {
		return 0
	}
	at := ev.ID
	for d := int64(1); d <= moveWindow; d++ {
		for _, id := range []int64{at - d, at + d} {
			if id < 1 {
				continue
			}
			ev.ID = id
			if bytes.Equal(Hash(ev.PrevHash, &ev), ev.Hash) {
				return id
			}
		}
	}
	return 0
}
