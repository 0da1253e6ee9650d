package verifier

import (
	"fmt"
	"time"
)

// The archive analysis (PAdES B-LTA). A timestamp proves a time only as
// long as its time-stamping certificate is trusted: until it ends, and
// before it is revoked. A later document timestamp, made while that
// certificate still held, carries the proof forward. For every timestamp
// of the document — the seals' signature timestamps and the document
// timestamps — the report names those whose certificate has ended or was
// revoked with no such later archive timestamp (Report.Unprotected), and
// the date by which a new archive timestamp must be added
// (Report.RenewBy: the earliest end of a certificate of a timestamp that
// no later one protects). It also sets the report's validation time: the
// latest document timestamp that holds, else the latest signature
// timestamp, else the verifier's clock.

func (v *run) archive() {
	rep := v.rep
	rep.ValidationTime, rep.TimeSource = rep.CheckedAt, TimeFromVerifierClock
	for _, s := range v.stamped {
		if !s.archive && rep.TimeSource != TimeFromDocTimestamp && (rep.TimeSource == TimeFromVerifierClock || s.at.After(rep.ValidationTime)) {
			rep.ValidationTime, rep.TimeSource = s.at, TimeFromTimestamp
		}
		if s.archive && (rep.TimeSource != TimeFromDocTimestamp || s.at.After(rep.ValidationTime)) {
			rep.ValidationTime, rep.TimeSource = s.at, TimeFromDocTimestamp
		}
	}
	for _, s := range v.stamped {
		end := s.tsa.NotAfter
		since, why, revoked := v.revokedSince(s.tsa, s.root)
		if revoked && since.Before(end) {
			end = since
		}
		if v.protected(s, end) {
			continue
		}
		if rep.RenewBy.IsZero() || end.Before(rep.RenewBy) {
			rep.RenewBy = end
		}
		switch {
		case revoked:
			rep.Unprotected = append(rep.Unprotected, fmt.Sprintf("%s (%s): the time-stamping certificate %X was revoked (%s) since %s, and no later archive timestamp was made before",
				s.label, s.at.Format(time.RFC3339), s.tsa.SerialNumber, why, since.Format(time.RFC3339)))
		case !v.now.Before(end):
			rep.Unprotected = append(rep.Unprotected, fmt.Sprintf("%s (%s): the time-stamping certificate %X ended on %s, and no later archive timestamp was made before",
				s.label, s.at.Format(time.RFC3339), s.tsa.SerialNumber, end.Format(time.RFC3339)))
		}
	}
}

// protected reports whether a valid document timestamp later than s was
// made before end, the time s's certificate stopped being trusted.
func (v *run) protected(s stampedTime, end time.Time) bool {
	for _, a := range v.stamped {
		if a.archive && a.rev > s.rev && a.at.After(s.at) && a.at.Before(end) {
			return true
		}
	}
	return false
}
