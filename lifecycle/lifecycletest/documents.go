package lifecycletest

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Documents: notices, re-birth approval forms, attachments.

func (r *Registry) AddNotice(ctx context.Context, n *card.Notice, to card.Status, reason string, ev audit.Event) error {
	switch {
	case n.Kind != card.NoticeMissing && n.Kind != card.NoticeRefusal:
		return invalid("add notice: kind %q", n.Kind)
	case !cardIDRE.MatchString(n.CardID), n.Number == "", len(n.PDF) == 0, n.CreatedBy == "", n.OrgCode == "":
		return invalid("add notice: card, number, PDF, organisation and creator are required")
	case to != "" && !to.Valid():
		return invalid("add notice: status %q", to)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(n.CardID)
	if err != nil {
		return fmt.Errorf("add notice: %w", err)
	}
	if rec.c.Status != card.StatusDraft {
		return fmt.Errorf("add %s notice to card %s: %w: card is %s", n.Kind, n.CardID, card.ErrConflict, rec.c.Status)
	}
	if r.noteNums[n.Number] {
		return fmt.Errorf("add notice: %w: number %s", card.ErrDuplicate, n.Number)
	}
	if n.Kind == card.NoticeMissing && slices.ContainsFunc(rec.notices, func(x card.Notice) bool {
		return x.Kind == card.NoticeMissing && x.AppDigest == n.AppDigest
	}) {
		return fmt.Errorf("add notice: %w: a missing-materials notice of this application exists", card.ErrDuplicate)
	}
	if _, ok := r.orgs[n.OrgCode]; !ok {
		return fmt.Errorf("add notice: %w: organisation %s", card.ErrNotFound, n.OrgCode)
	}
	ev.CardID = n.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	n.Seq = len(rec.notices) + 1
	n.CreatedAt = t
	stored := *n
	stored.PDF = bytes.Clone(n.PDF)
	rec.notices = append(rec.notices, stored)
	r.noteNums[n.Number] = true
	if to != "" {
		c := &rec.c
		c.Status, c.StatusReason, c.StatusNote, c.NextLevel = to, reason, n.Number, ""
		c.UpdatedAt, c.Version = t, c.Version+1
	}
	return nil
}

func (r *Registry) Notices(ctx context.Context, cardID string) ([]card.Notice, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok {
		return nil, nil
	}
	var out []card.Notice
	for _, n := range rec.notices {
		n.PDF = nil
		out = append(out, n)
	}
	return out, nil
}

func (r *Registry) GetNotice(ctx context.Context, cardID string, seq int) (card.Notice, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok || seq < 1 || seq > len(rec.notices) {
		return card.Notice{}, fmt.Errorf("notice %d of card %s: %w", seq, cardID, card.ErrNotFound)
	}
	return rec.notices[seq-1], nil
}

func (r *Registry) CreateForm(ctx context.Context, f *card.Form, ev audit.Event) error {
	if !cardIDRE.MatchString(f.ID) || !cardIDRE.MatchString(f.CardID) || f.Number == "" || len(f.PDF) == 0 || f.CreatedBy == "" {
		return invalid("create form: id, card, number, PDF and creator are required")
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, idTaken := r.forms[f.ID]
	_, cardTaken := r.formOf[f.CardID]
	if idTaken || cardTaken || r.formNums[f.Number] {
		return fmt.Errorf("create form for card %s: %w", f.CardID, card.ErrDuplicate)
	}
	if _, err := r.get(f.CardID); err != nil {
		return fmt.Errorf("create form: %w", err)
	}
	ev.CardID = f.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	f.Seq, f.CreatedAt, f.UpdatedAt = 0, t, t
	stored := *f
	stored.PDF = bytes.Clone(f.PDF)
	r.forms[f.ID] = &stored
	r.formOf[f.CardID] = f.ID
	r.formNums[f.Number] = true
	return nil
}

func (r *Registry) GetForm(ctx context.Context, id string) (card.Form, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.forms[id]
	if !ok {
		return card.Form{}, fmt.Errorf("get form %s: %w", id, card.ErrNotFound)
	}
	return *f, nil
}

// UpdateForm answers card.ErrConflict for an unknown form as for a stale
// revision, as the store does: both are "no form at that revision".
func (r *Registry) UpdateForm(ctx context.Context, id string, expectSeq int, pdf []byte, ev audit.Event) error {
	if len(pdf) == 0 {
		return invalid("update form %s: empty PDF", id)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.forms[id]
	if !ok || f.Seq != expectSeq {
		return fmt.Errorf("update form %s: %w: form is no longer at revision %d", id, card.ErrConflict, expectSeq)
	}
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	f.PDF, f.Seq, f.UpdatedAt = bytes.Clone(pdf), f.Seq+1, r.now()
	return nil
}

func (r *Registry) AddAttachments(ctx context.Context, cardID string, atts []card.Attachment) error {
	for _, a := range atts {
		if a.Material == "" || a.ContentType == "" || len(a.Data) == 0 {
			return invalid("add attachments to card %s: attachment needs a material, a type and data", cardID)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(atts) == 0 {
		return nil
	}
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("add attachments: %w", err)
	}
	for i, a := range atts {
		if seq := len(rec.atts) + i + 1; a.Seq != 0 && a.Seq != seq {
			return fmt.Errorf("add attachments to card %s: %w: attachment %d would be number %d", cardID, card.ErrConflict, a.Seq, seq)
		}
	}
	t := r.now()
	for _, a := range atts {
		a.CardID, a.Seq, a.CreatedAt, a.Data = cardID, len(rec.atts)+1, t, bytes.Clone(a.Data)
		rec.atts = append(rec.atts, a)
	}
	return nil
}

func (r *Registry) Attachments(ctx context.Context, cardID string) ([]card.Attachment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok {
		return nil, nil
	}
	return slices.Clone(rec.atts), nil
}
