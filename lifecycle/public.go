package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/throttle"
	"github.com/jilin-health/cardseal/verifier"
)

// What the public may do without an account besides the QR check
// (check.go): the holder downloads the card (Art. 16), anyone uploads a
// PDF to have it checked.

// Errors of the public side.
var (
	// ErrHolderMismatch: the ID number given is not one of the couple's.
	ErrHolderMismatch = errors.New("ID number does not match the card's holders")
	// ErrNotIssued: the card is not (or no longer) a valid issued card.
	ErrNotIssued = errors.New("card not issued")
)

// LimitError: too many attempts; try again after RetryAfter.
type LimitError struct {
	What       string
	RetryAfter time.Duration
}

func (e *LimitError) Error() string { return "too many attempts: " + e.What }

// CardForDownload returns the card a token names, for the download form;
// card.ErrNotFound for a token that is not genuine or not registered.
func (ch *Checker) CardForDownload(ctx context.Context, tok string) (*card.Card, error) {
	c, err := ch.CardByToken(ctx, tok)
	if errors.Is(err, ErrForgedToken) || errors.Is(err, ErrUnknownToken) {
		return nil, fmt.Errorf("download: %w: %w", card.ErrNotFound, err)
	}
	return c, err
}

// DefaultHolderThrottle is the delay after wrong ID numbers from one
// client for one card: three free (typing mistakes), then 5 s doubling up
// to an hour, forgotten after a day.
var DefaultHolderThrottle = throttle.Policy{Free: 3, First: 5 * time.Second, Max: time.Hour, Forget: 24 * time.Hour}

// Scopes of the holders' failure counts.
const (
	scopeDownload = "download"
	scopeTrack    = "track"
)

// holderThrottle counts wrong ID numbers per (card, client): a stranger's
// guesses delay the stranger's own client and never the holder's, and
// the counts are shared by every instance (the registry keeps them).
func (s *Service) holderThrottle() *throttle.Throttle {
	p := s.HolderThrottle
	if p == (throttle.Policy{}) {
		p = DefaultHolderThrottle
	}
	return throttle.New(s.reg, p, func() time.Time { return s.Now() })
}

// beginHolder starts an attempt of remote on an ID number of subject; a
// client that must wait gets a *LimitError.
func (s *Service) beginHolder(ctx context.Context, scope, subject, remote, what string) (*throttle.Attempt, error) {
	if remote == "" {
		remote = "unknown"
	}
	at, err := s.holderThrottle().Begin(ctx, throttle.Key{Scope: scope, Subject: subject, Client: remote})
	var we *throttle.WaitError
	if errors.As(err, &we) {
		return nil, &LimitError{What: what, RetryAfter: we.RetryAfter}
	}
	return at, err
}

// Download gives the holder the card's current PDF: one spouse's ID
// number, checked against the registry's encrypted record, proves the
// right to it. Wrong ID numbers count per (card, client) with a growing
// delay (*LimitError); every attempt that is tried is audited.
func (ch *Checker) Download(ctx context.Context, tok, idNumber, remote string) (*card.Card, []byte, error) {
	c, err := ch.CardForDownload(ctx, tok)
	if err != nil {
		return nil, nil, err
	}
	s := ch.Service
	at, err := s.beginHolder(ctx, scopeDownload, c.ID, remote, "download attempts on this card from this client")
	if err != nil {
		return c, nil, err
	}
	holder, err := s.IsHolder(c, idNumber)
	if err != nil {
		return nil, nil, err
	}
	record := func(reason string) error {
		ev := audit.Event{Actor: "public", Action: audit.CardDownload, CardID: c.ID, Reason: reason, RemoteAddr: remote}
		ev.Detail = []byte(`{"number":"` + c.Number + `"}`)
		_, err := s.reg.AppendAudit(ctx, ev)
		return err
	}
	if !holder {
		if err := at.Failed(ctx); err != nil {
			return nil, nil, err
		}
		if err := record("holder_mismatch"); err != nil {
			return nil, nil, err
		}
		return c, nil, ErrHolderMismatch
	}
	if err := at.Succeeded(ctx); err != nil {
		return nil, nil, err
	}
	if c.Status != card.StatusIssued {
		return c, nil, fmt.Errorf("%w: card is %s", ErrNotIssued, c.Status)
	}
	_, pdf, err := s.reg.CurrentPDF(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := record("ok"); err != nil {
		return nil, nil, err
	}
	return c, pdf, nil
}

// UploadAnswer is the answer about an uploaded PDF.
type UploadAnswer struct {
	Report   *verifier.Report `json:"report"`
	Registry *Answer          `json:"registry"`
	// Current reports whether the file is byte for byte the registry's
	// newest revision of the card (an older print may lack later seals
	// or predate a status change).
	Current bool `json:"current"`
}

// CheckUpload verifies an uploaded PDF and, when its genuine seals name a
// card of the registry, adds that card's public answer (the same answer
// the QR code gets) and whether the file is the card's newest revision.
// Only seals that verified may lead to the registry: a forged file naming
// some card number learns nothing about that card.
func (ch *Checker) CheckUpload(ctx context.Context, data []byte) (*UploadAnswer, error) {
	s := ch.Service
	crls, err := s.CRLs()
	if err != nil {
		return nil, err
	}
	rep, err := verifier.VerifyContext(ctx, data, verifier.Options{
		Trust:     s.keys.TrustList(),
		SealBoxes: CardSealBoxes(),
		Now:       s.Now,
		CRLs:      crls,
	})
	if err != nil {
		return nil, err
	}
	out := &UploadAnswer{Report: rep}
	if rep.DocID == "" || (rep.Verdict != verifier.Valid && rep.Verdict != verifier.Incomplete) {
		return out, nil
	}
	c, err := s.reg.GetCardByNumber(ctx, rep.DocID)
	switch {
	case errors.Is(err, card.ErrNotFound):
		return out, nil
	case err != nil:
		return nil, err
	}
	if out.Registry, err = ch.Answer(ctx, &c); err != nil {
		return nil, err
	}
	_, cur, err := s.reg.CurrentPDF(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out.Current = bytes.Equal(cur, data)
	return out, nil
}

// Ping reports whether the registry answers.
func (s *Service) Ping(ctx context.Context) error {
	_, err := s.reg.ListOrgs(ctx)
	return err
}
