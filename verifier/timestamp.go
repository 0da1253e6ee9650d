package verifier

import (
	"fmt"
	"slices"
	"time"

	"github.com/jilin-health/cardseal/internal/lru"
	"github.com/jilin-health/cardseal/tsa"
)

// tokens remembers the tokens whose signature held, by their DER: the
// check of a token depends on its bytes alone (the trust decisions are
// made per verification), and a stored card is verified again and again.
// Bounded.
var tokens = lru.New[string, *tsa.Token](1024)

// verifiedToken parses a token and checks its signature, once per
// distinct DER.
func verifiedToken(der []byte) (*tsa.Token, error) {
	if tok, ok := tokens.Get(string(der)); ok {
		return tok, nil
	}
	tok, err := tsa.ParseToken(der)
	if err != nil {
		return nil, err
	}
	if err := tok.Verify(); err != nil {
		return nil, err
	}
	tokens.Put(string(tok.DER), tok)
	return tok, nil
}

// maxStampDelay is how long before its timestamp a seal's signing time
// may lie: the platform stamps each signature as it is made.
const maxStampDelay = time.Hour

// validationTime checks a seal's signature timestamp (PAdES B-T) and
// returns the time its certificate is judged at: the timestamp's, which
// the signer cannot choose, or — for a seal without one — the time of
// the check, reported as such. A timestamp that does not hold (bad
// signature, stamps another signature, its authority not trusted at its
// time, in the future, or earlier than the signing time) fails the seal.
func (v *run) validationTime(s *found) time.Time {
	rep, signed := s.report, s.signed
	rep.ValidationTime, rep.TimeSource = v.now, TimeFromVerifierClock
	if signed.Timestamp == nil {
		return v.now
	}
	v.work.stamps++
	tok, err := verifiedToken(signed.Timestamp)
	if err != nil {
		fail(rep, CheckTimestamp, "%v", err)
		return v.now
	}
	rep.Timestamp, rep.TimestampSerial, rep.TSA = tok.GenTime, fmt.Sprintf("%X", tok.Serial), tok.Signer.Subject.CommonName
	if err := tok.Covers(signed.Signature()); err != nil {
		fail(rep, CheckTimestamp, "the timestamp stamps another signature: %v", err)
		return v.now
	}
	tsaRoot, err := v.opt.Trust.Verify(tok.Signer, slices.Concat(tok.Certs, v.dssCerts), tok.GenTime)
	if err != nil {
		fail(rep, CheckTimestamp, "the time-stamping authority's certificate: %v", err)
		return v.now
	}
	if since, reason, ok := v.revokedSince(tok.Signer, tsaRoot); ok && !tok.GenTime.Before(since) {
		fail(rep, CheckTimestamp, "the time-stamping authority's certificate %X was revoked (%s) since %s, before the timestamp",
			tok.Signer.SerialNumber, reason, since.Format(time.RFC3339))
		return v.now
	}
	if tok.GenTime.After(v.now.Add(clockSkew)) {
		fail(rep, CheckTimestamp, "timestamp %s lies in the future", tok.GenTime.Format(time.RFC3339))
		return v.now
	}
	// The seal was signed just before it was stamped: a signing time
	// after its own timestamp, or long before it (back-dated), is a lie
	// about the time.
	if signed.SigningTime.After(tok.GenTime.Add(clockSkew)) {
		fail(rep, CheckTimestamp, "signing time %s is after the seal's timestamp %s",
			signed.SigningTime.Format(time.RFC3339), tok.GenTime.Format(time.RFC3339))
		return v.now
	}
	if tok.GenTime.Sub(signed.SigningTime) > maxStampDelay {
		fail(rep, CheckTimestamp, "signing time %s is back-dated: the seal was timestamped at %s",
			signed.SigningTime.Format(time.RFC3339), tok.GenTime.Format(time.RFC3339))
		return v.now
	}
	pass(rep, CheckTimestamp)
	v.stamped = append(v.stamped, stampedTime{label: fmt.Sprintf("seal %d's timestamp", rep.Index),
		at: tok.GenTime, tsa: tok.Signer, root: tsaRoot, rev: s.rev})
	rep.ValidationTime, rep.TimeSource = tok.GenTime, TimeFromTimestamp
	return tok.GenTime
}
