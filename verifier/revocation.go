package verifier

import (
	"bytes"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
)

// revokedSince looks a certificate up in the CRLs signed by root.
func (v *run) revokedSince(cert, root *smx509.Certificate) (time.Time, string, bool) {
	for _, crl := range v.opt.CRLs {
		if crl == nil || root == nil || !bytes.Equal(crl.RawIssuer, root.RawSubject) || crl.CheckSignatureFrom(root) != nil {
			continue
		}
		if since, reason, ok := keys.RevokedSince(crl, cert); ok {
			return since, reason, true
		}
	}
	return time.Time{}, "", false
}

// checkRevocation judges a seal's certificate against the CRLs of
// Options.CRLs signed by the root it chains to: revoked since T (the
// invalidity date of a keyCompromise entry, else the revocation time), a
// seal whose validation time (its timestamp's, or the check's) is T or
// later fails with the reason; a seal made before T stays valid and the
// report names the later revocation.
func (v *run) checkRevocation(rep *Seal, cert, root *smx509.Certificate, at time.Time) {
	if root == nil || (len(v.opt.CRLs) == 0 && !v.opt.Offline) {
		return
	}
	checked, current := false, false
	for _, crl := range v.opt.CRLs {
		if crl == nil || !bytes.Equal(crl.RawIssuer, root.RawSubject) || crl.CheckSignatureFrom(root) != nil {
			continue
		}
		checked = true
		// Issued after the seal's time, or current at it.
		current = current || at.Before(crl.NextUpdate)
		since, reason, ok := keys.RevokedSince(crl, cert)
		if !ok {
			continue
		}
		rep.RevokedSince, rep.RevocationReason = since, reason
		if !at.Before(since) {
			fail(rep, CheckRevocation, "certificate %X revoked (%s) since %s; the seal dates from %s",
				cert.SerialNumber, reason, since.Format(time.RFC3339), at.Format(time.RFC3339))
			return
		}
	}
	switch {
	case v.opt.Offline && !current:
		fail(rep, CheckRevocation, "offline: the document's /DSS has no CRL of %s issued after the seal's time %s or current at it",
			root.Subject.CommonName, at.Format(time.RFC3339))
	case checked:
		pass(rep, CheckRevocation)
	}
}
