package lifecycle

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/statuslist"
)

// StatusListValidity is how long a published status list stays fresh;
// offline verifiers warn after it.
const StatusListValidity = 24 * time.Hour

// StatusList builds and signs the current status list from the registry:
// every voided, revoked or superseded card's bit is set.
func (s *Service) StatusList(ctx context.Context) ([]byte, error) {
	entries, err := s.reg.StatusEntries(ctx)
	if err != nil {
		return nil, err
	}
	plat, err := s.keys.PlatformIdentity()
	if err != nil {
		return nil, err
	}
	l := statuslist.New(plat.Cert.Subject.CommonName, card.StatusListSize, s.Now(), StatusListValidity)
	for _, e := range entries {
		var p statuslist.Purpose
		switch e.Status {
		case card.StatusVoided:
			p = statuslist.Voided
		case card.StatusRevoked:
			p = statuslist.Revoked
		case card.StatusSuperseded:
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

// statusListCache keeps the signed status list while the registry's
// entries are unchanged and the list is young, so its ETag is stable.
type statusListCache struct {
	mu      sync.Mutex
	entries []byte // fingerprint of the entries
	body    []byte
	at      time.Time
}

// CachedStatusList returns the signed status list, re-signed only when an
// entry changed or half its validity has passed.
func (s *Service) CachedStatusList(ctx context.Context) ([]byte, error) {
	entries, err := s.reg.StatusEntries(ctx)
	if err != nil {
		return nil, err
	}
	h := sm3.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%d:%s\n", e.Index, e.Status)
	}
	fp := h.Sum(nil)
	now := s.Now()
	s.lists.mu.Lock()
	defer s.lists.mu.Unlock()
	if s.lists.body != nil && bytes.Equal(s.lists.entries, fp) && now.Sub(s.lists.at) < StatusListValidity/2 && !now.Before(s.lists.at) {
		return s.lists.body, nil
	}
	body, err := s.StatusList(ctx)
	if err != nil {
		return nil, err
	}
	s.lists.entries, s.lists.body, s.lists.at = fp, body, now
	return body, nil
}

// ETag is the entity tag of a body: the hex SM3 of it, quoted.
func ETag(body []byte) string {
	d := sm3.Sum(body)
	return `"` + hex.EncodeToString(d[:]) + `"`
}
