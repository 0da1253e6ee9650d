package verifier

import (
	"fmt"
	"slices"
	"time"

	"github.com/jilin-health/cardseal/keys"
)

// The cryptographic checks of one seal: its CMS signature, its certificate
// at its validation time, the certificate's profile.

// verifySeal is the last stage, for seals taken in revision order: the
// CMS signature over SM3 of the two ranges (streamed, under the
// context), the signature timestamp, the certificate path at the
// timestamp's time (or the check's, without one), the certificate's
// profile and the seal's widget.
func (v *run) verifySeal(s *found) {
	rep, signed := s.report, s.signed
	digest, err := v.hash.digest(v.ctx, s.a, s.b, s.end)
	if err != nil {
		v.err = canceled(err)
		return
	}
	v.work.cms++
	if err := signed.Verify(digest); err != nil {
		fail(rep, CheckCMS, "%v", err)
	} else {
		pass(rep, CheckCMS)
	}

	cert := signed.Signer
	rep.CertSerial = fmt.Sprintf("%X", cert.SerialNumber)
	rep.NotBefore, rep.NotAfter = cert.NotBefore, cert.NotAfter
	at := v.validationTime(s)
	v.work.chains++
	if root, err := v.opt.Trust.Verify(cert, slices.Concat(signed.Certs, v.dssCerts), at); err != nil {
		fail(rep, CheckCertificate, "%v", err)
	} else {
		rep.Province = keys.Province(root)
		pass(rep, CheckCertificate)
		v.checkRevocation(rep, cert, root, at)
	}
	if signed.SigningTime.After(v.now.Add(clockSkew)) {
		fail(rep, CheckTime, "signing time %s lies in the future", signed.SigningTime.Format(time.RFC3339))
	}
	org, err := keys.Profile(cert)
	if err != nil {
		fail(rep, CheckProfile, "%v", err)
		return
	}
	pass(rep, CheckProfile)
	rep.Level, rep.DivisionCode, rep.Organisation = string(org.Level), org.Code, org.Name
	v.checkWidget(s, org.Level)
}
