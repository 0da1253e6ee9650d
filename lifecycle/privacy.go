package lifecycle

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// Personal data at rest (Art. 13). Everything the registry keeps that
// names the couple is stored encrypted with SM4-GCM under a key derived
// from the keystore's data key: the applicant record, every PDF revision
// of a card, every notice, the re-birth approval form and the materials
// sent online. The associated data names the value's card and row (the
// revision, the notice, the form revision, the attachment), so a value
// moved to another card or row does not decrypt. The couple is found
// again (Art. 22) by a keyed SM3 digest, not by a plain hash an attacker
// with a database dump could brute-force.
//
// Encryption happens here and nowhere else: the applicant record through
// sealApplicant and Service.Applicant, every document through vault, the
// view of the registry every other file of the package uses (NewService
// installs it), so no caller can forget it. The store keeps bytes.
//
// Format 2, written now (docs/privacy.md, "At rest"):
//
//	"CS2" | key id (8 bytes) | nonce (12 bytes) | SM4-GCM ciphertext and tag
//
// with the SM4 key HMAC-SM3(data key, "cardseal data encryption v2")[:16]
// and the key id keys.DataKeyID(data key), so a value names the key that
// decrypts it and a rotation (RotateDataKey) can tell what is left to do.
// Still read: format 1 ("CS1" | nonce | ciphertext, applicant records and
// attachments before format 2, key HMAC-SM3(data key, "cardseal applicant
// encryption v1")[:16]) and documents stored in clear before they were
// encrypted (they start "%PDF-"); 'cardseal data-key rotate' re-encrypts
// both to format 2.

var (
	format2 = []byte("CS2")
	format1 = []byte("CS1")
	inClear = []byte("%PDF-")
)

// ErrCorrupt is returned for a stored value that does not decrypt: a
// wrong or missing data key, or a row tampered with or moved.
var ErrCorrupt = errors.New("stored data does not decrypt (wrong data key, or a tampered or moved row)")

// dataKey is one data key's derived keys.
type dataKey struct {
	id     []byte // 8 bytes
	v2, v1 cipher.AEAD
	mac    []byte // the couple key's HMAC key
	search []byte // the search index's HMAC key (search.go)
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sm3.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func gcm(key []byte) (cipher.AEAD, error) {
	blk, err := sm4.NewCipher(key[:16])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func newDataKey(k []byte) (*dataKey, error) {
	id, err := hex.DecodeString(keys.DataKeyID(k))
	if err != nil {
		return nil, err
	}
	v2, err := gcm(derive(k, "cardseal data encryption v2"))
	if err != nil {
		return nil, err
	}
	v1, err := gcm(derive(k, "cardseal applicant encryption v1"))
	if err != nil {
		return nil, err
	}
	return &dataKey{id: id, v2: v2, v1: v1, mac: derive(k, "cardseal couple key v1"), search: derive(k, searchLabel)}, nil
}

// privacy encrypts under the current data key and decrypts under any key
// of the ring.
type privacy struct {
	cur  *dataKey
	ring []*dataKey // cur first
}

// newPrivacy builds the codec of a ring of data keys, the one that
// encrypts first.
func newPrivacy(ring ...[]byte) (*privacy, error) {
	if len(ring) == 0 {
		return nil, errors.New("no data key")
	}
	p := &privacy{}
	for _, k := range ring {
		dk, err := newDataKey(k)
		if err != nil {
			return nil, err
		}
		p.ring = append(p.ring, dk)
	}
	p.cur = p.ring[0]
	return p, nil
}

// slot is where a value lives, as its associated data says.
type slot struct {
	ad string // format 2
	v1 string // format 1 ("" if format 1 never held this kind of value)
	// document: a value stored in clear before encryption (a PDF) is
	// still read.
	document bool
}

func applicantSlot(cardID string) slot {
	return slot{ad: "cardseal/applicant/" + cardID, v1: cardID}
}

func pdfSlot(cardID string, seq int) slot {
	return slot{ad: "cardseal/card-pdf/" + cardID + "/" + strconv.Itoa(seq), document: true}
}

func noticeSlot(cardID string, kind card.NoticeKind, number string) slot {
	return slot{ad: "cardseal/notice/" + cardID + "/" + string(kind) + "/" + number, document: true}
}

func formSlot(cardID, formID string, seq int) slot {
	return slot{ad: "cardseal/form/" + cardID + "/" + formID + "/" + strconv.Itoa(seq), document: true}
}

func attachmentSlot(cardID string, seq int) slot {
	n := strconv.Itoa(seq)
	return slot{ad: "cardseal/attachment/" + cardID + "/" + n, v1: cardID + "/attachment/" + n}
}

func (p *privacy) seal(s slot, plain []byte) []byte {
	nonce := make([]byte, p.cur.v2.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return p.sealNonce(s, nonce, plain)
}

// sealNonce is seal with a given nonce (the test vector's).
func (p *privacy) sealNonce(s slot, nonce, plain []byte) []byte {
	k := p.cur
	out := make([]byte, 0, len(format2)+len(k.id)+len(nonce)+len(plain)+k.v2.Overhead())
	out = append(append(append(out, format2...), k.id...), nonce...)
	return k.v2.Seal(out, nonce, plain, []byte(s.ad))
}

func (p *privacy) open(s slot, b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, format2):
		k, rest := p.key(b[len(format2):])
		if k == nil {
			if len(rest) < 8 {
				return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
			}
			return nil, fmt.Errorf("%w: encrypted under data key %x, which this keystore lacks", ErrCorrupt, rest[:8])
		}
		rest = rest[len(k.id):]
		n := k.v2.NonceSize()
		if len(rest) < n+k.v2.Overhead() {
			return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		plain, err := k.v2.Open(nil, rest[:n], rest[n:], []byte(s.ad))
		if err != nil {
			return nil, ErrCorrupt
		}
		return plain, nil
	case bytes.HasPrefix(b, format1) && s.v1 != "":
		rest := b[len(format1):]
		for _, k := range p.ring {
			n := k.v1.NonceSize()
			if len(rest) < n+k.v1.Overhead() {
				return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
			}
			if plain, err := k.v1.Open(nil, rest[:n], rest[n:], []byte(s.v1)); err == nil {
				return plain, nil
			}
		}
		return nil, ErrCorrupt
	case s.document && bytes.HasPrefix(b, inClear):
		return b, nil
	}
	return nil, fmt.Errorf("%w: not an encrypted value", ErrCorrupt)
}

// key returns the ring's key whose id starts b, and b.
func (p *privacy) key(b []byte) (*dataKey, []byte) {
	for _, k := range p.ring {
		if bytes.HasPrefix(b, k.id) {
			return k, b
		}
	}
	return nil, b
}

// current reports whether b is encrypted in format 2 under the current
// key.
func (p *privacy) current(b []byte) bool {
	return bytes.HasPrefix(b, format2) && bytes.HasPrefix(b[len(format2):], p.cur.id)
}

// coupleKey is the keyed digest of the couple's ID numbers, in either
// order.
func (p *privacy) coupleKey(a *card.Applicant) string {
	x, y := a.Male.IDNumber, a.Female.IDNumber
	if x > y {
		x, y = y, x
	}
	m := hmac.New(sm3.New, p.cur.mac)
	m.Write([]byte(x + "|" + y))
	return hex.EncodeToString(m.Sum(nil))
}

type privacyOnce struct {
	once sync.Once
	p    *privacy
	err  error
}

// dataKeyRing is the keystore that holds more than one data key (a
// rotation in progress, retired keys): keys.FileStore is one.
type dataKeyRing interface {
	DataKeyRing() ([][]byte, error)
}

func (s *Service) privacy() (*privacy, error) {
	s.priv.once.Do(func() {
		var ring [][]byte
		var err error
		if r, ok := s.keys.(dataKeyRing); ok {
			ring, err = r.DataKeyRing()
		} else {
			var k []byte
			k, err = s.keys.DataKey()
			ring = [][]byte{k}
		}
		if err != nil {
			s.priv.err = fmt.Errorf("data key: %w", err)
			return
		}
		s.priv.p, s.priv.err = newPrivacy(ring...)
	})
	return s.priv.p, s.priv.err
}

// sealApplicant encrypts a card's application.
func (s *Service) sealApplicant(cardID string, app *card.Applicant) ([]byte, error) {
	b, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	p, err := s.privacy()
	if err != nil {
		return nil, err
	}
	return p.seal(applicantSlot(cardID), b), nil
}

// Applicant decrypts a card's application.
func (s *Service) Applicant(c *card.Card) (*card.Applicant, error) {
	p, err := s.privacy()
	if err != nil {
		return nil, err
	}
	return openApplicant(p, c.ID, c.Applicant)
}

func openApplicant(p *privacy, cardID string, b []byte) (*card.Applicant, error) {
	plain, err := p.open(applicantSlot(cardID), b)
	if err != nil {
		return nil, fmt.Errorf("card %s: applicant record: %w", cardID, err)
	}
	var a card.Applicant
	if err := json.Unmarshal(plain, &a); err != nil {
		return nil, fmt.Errorf("card %s: applicant record: %w", cardID, err)
	}
	return &a, nil
}

// vault is the registry as the rest of the package sees it: every
// document goes into a port encrypted and comes out of it decrypted. The
// digests the lifecycle records (a seal's PDFDigest) are of the plaintext.
type vault struct {
	Registry
	s *Service
}

func (v vault) seal(sl slot, plain []byte) ([]byte, error) {
	p, err := v.s.privacy()
	if err != nil {
		return nil, err
	}
	return p.seal(sl, plain), nil
}

func (v vault) open(what string, sl slot, b []byte) ([]byte, error) {
	p, err := v.s.privacy()
	if err != nil {
		return nil, err
	}
	plain, err := p.open(sl, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return plain, nil
}

func (v vault) CreateCard(ctx context.Context, c *card.Card, pdf0 []byte, ev audit.Event) error {
	enc, err := v.seal(pdfSlot(c.ID, 0), pdf0)
	if err != nil {
		return err
	}
	return v.Registry.CreateCard(ctx, c, enc, ev)
}

func (v vault) CurrentPDF(ctx context.Context, cardID string) (int, []byte, error) {
	seq, enc, err := v.Registry.CurrentPDF(ctx, cardID)
	if err != nil {
		return 0, nil, err
	}
	pdf, err := v.open(fmt.Sprintf("card %s revision %d", cardID, seq), pdfSlot(cardID, seq), enc)
	return seq, pdf, err
}

func (v vault) PDF(ctx context.Context, cardID string, seq int) ([]byte, error) {
	enc, err := v.Registry.PDF(ctx, cardID, seq)
	if err != nil {
		return nil, err
	}
	return v.open(fmt.Sprintf("card %s revision %d", cardID, seq), pdfSlot(cardID, seq), enc)
}

func (v vault) AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal card.Seal, newStatus card.Status, next org.Level, bar *card.CoupleBar, ev audit.Event) error {
	if len(seal.PDFDigest) == 0 {
		d := sm3.Sum(pdf)
		seal.PDFDigest = d[:]
	}
	enc, err := v.seal(pdfSlot(cardID, expectSeq+1), pdf)
	if err != nil {
		return err
	}
	return v.Registry.AddSeal(ctx, cardID, expectSeq, enc, seal, newStatus, next, bar, ev)
}

func (v vault) AddNotice(ctx context.Context, n *card.Notice, to card.Status, reason string, ev audit.Event) error {
	enc, err := v.seal(noticeSlot(n.CardID, n.Kind, n.Number), n.PDF)
	if err != nil {
		return err
	}
	m := *n
	m.PDF = enc
	if err := v.Registry.AddNotice(ctx, &m, to, reason, ev); err != nil {
		return err
	}
	n.Seq, n.CreatedAt = m.Seq, m.CreatedAt
	return nil
}

func (v vault) GetNotice(ctx context.Context, cardID string, seq int) (card.Notice, error) {
	n, err := v.Registry.GetNotice(ctx, cardID, seq)
	if err != nil {
		return n, err
	}
	n.PDF, err = v.open(fmt.Sprintf("notice %d of card %s", seq, cardID), noticeSlot(n.CardID, n.Kind, n.Number), n.PDF)
	return n, err
}

func (v vault) CreateForm(ctx context.Context, f *card.Form, ev audit.Event) error {
	enc, err := v.seal(formSlot(f.CardID, f.ID, 0), f.PDF)
	if err != nil {
		return err
	}
	g := *f
	g.PDF = enc
	if err := v.Registry.CreateForm(ctx, &g, ev); err != nil {
		return err
	}
	f.Seq, f.CreatedAt, f.UpdatedAt = g.Seq, g.CreatedAt, g.UpdatedAt
	return nil
}

func (v vault) GetForm(ctx context.Context, id string) (card.Form, error) {
	f, err := v.Registry.GetForm(ctx, id)
	if err != nil {
		return f, err
	}
	f.PDF, err = v.open("form "+id, formSlot(f.CardID, f.ID, f.Seq), f.PDF)
	return f, err
}

func (v vault) CardForm(ctx context.Context, cardID string) (card.Form, error) {
	f, err := v.Registry.CardForm(ctx, cardID)
	if err != nil {
		return f, err
	}
	f.PDF, err = v.open("form "+f.ID, formSlot(f.CardID, f.ID, f.Seq), f.PDF)
	return f, err
}

func (v vault) UpdateForm(ctx context.Context, id string, expectSeq int, pdf []byte, ev audit.Event) error {
	// The form's card is part of the associated data.
	f, err := v.Registry.GetForm(ctx, id)
	if err != nil {
		return err
	}
	enc, err := v.seal(formSlot(f.CardID, id, expectSeq+1), pdf)
	if err != nil {
		return err
	}
	return v.Registry.UpdateForm(ctx, id, expectSeq, enc, ev)
}

func (v vault) AddAttachments(ctx context.Context, cardID string, atts []card.Attachment) error {
	// Each attachment's number is in its associated data: number them as
	// the store will, which refuses (card.ErrConflict) if another
	// addition came first.
	have, err := v.Registry.Attachments(ctx, cardID)
	if err != nil {
		return err
	}
	last := 0
	for _, a := range have {
		last = max(last, a.Seq)
	}
	enc := make([]card.Attachment, len(atts))
	for i, a := range atts {
		a.Seq = last + i + 1
		if a.Data, err = v.seal(attachmentSlot(cardID, a.Seq), a.Data); err != nil {
			return err
		}
		enc[i] = a
	}
	return v.Registry.AddAttachments(ctx, cardID, enc)
}

func (v vault) Attachments(ctx context.Context, cardID string) ([]card.Attachment, error) {
	atts, err := v.Registry.Attachments(ctx, cardID)
	if err != nil {
		return nil, err
	}
	for i := range atts {
		a := &atts[i]
		if a.Data, err = v.open(fmt.Sprintf("attachment %d of card %s", a.Seq, cardID), attachmentSlot(cardID, a.Seq), a.Data); err != nil {
			return nil, err
		}
	}
	return atts, nil
}
