package lifecycle

import "github.com/jilin-health/cardseal/signer"

// SetTimestamper makes every seal the service applies (cards, notices,
// forms) carry a signature timestamp from t (PAdES B-T, issue 17): the
// platform's time-stamping authority. A seal whose timestamp cannot be
// had is not applied (signer.ErrTimestamp).
func (s *Service) SetTimestamper(t signer.Timestamper) { s.sealer.Stamp = t }
