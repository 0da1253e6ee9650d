package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
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

// Download gives the holder the card's current PDF: one spouse's ID
// number, checked against the registry's encrypted record, proves the
// right to it. Every attempt counts against a per-card limit shared by
// every instance and is audited.
func (ch *Checker) Download(ctx context.Context, tok, idNumber, remote string) (*card.Card, []byte, error) {
	c, err := ch.CardForDownload(ctx, tok)
	if err != nil {
		return nil, nil, err
	}
	s := ch.Service
	allowed, err := s.reg.Hit(ctx, "download:"+c.ID, time.Hour, s.attempts())
	if err != nil {
		return nil, nil, err
	}
	if !allowed {
		return c, nil, &LimitError{What: "download attempts on this card", RetryAfter: time.Hour}
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
		if err := record("holder_mismatch"); err != nil {
			return nil, nil, err
		}
		return c, nil, ErrHolderMismatch
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
	rep, err := verifier.VerifyContext(ctx, data, verifier.Options{
		Trust:     s.keys.TrustList(),
		SealBoxes: CardSealBoxes(),
		Now:       s.Now,
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
