package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/statuslist"
	"github.com/jilin-health/cardseal/store"
)

// StatusListValidity is how long a published status list stays fresh;
// offline verifiers warn after it.
const StatusListValidity = 24 * time.Hour

// StatusList builds and signs the current status list from the registry:
// every voided, revoked or superseded card's bit is set.
func (s *Service) StatusList(ctx context.Context) ([]byte, error) {
	entries, err := s.Store.StatusEntries(ctx)
	if err != nil {
		return nil, err
	}
	plat, err := s.Keys.PlatformIdentity()
	if err != nil {
		return nil, err
	}
	l := statuslist.New(plat.Cert.Subject.CommonName, store.StatusListSize, s.Now(), StatusListValidity)
	for _, e := range entries {
		var p statuslist.Purpose
		switch e.Status {
		case store.StatusVoided:
			p = statuslist.Voided
		case store.StatusRevoked:
			p = statuslist.Revoked
		case store.StatusSuperseded:
			p = statuslist.Superseded
		default:
			continue
		}
		if err := l.Set(p, e.Index); err != nil {
			return nil, fmt.Errorf("status list: %w", err)
		}
	}
	return l.Sign(plat)
}
