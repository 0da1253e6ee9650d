package lifecycle

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"

	"github.com/jilin-health/cardseal/card"
)

// Personal data at rest (Art. 13): the applicant record — names, ID
// numbers, addresses — is stored encrypted with SM4-GCM under a key
// derived from the keystore's data key, with the card id as associated
// data (a ciphertext moved to another card does not decrypt). The couple
// is found again (Art. 22) by a keyed SM3 digest, not by a plain hash an
// attacker with a database dump could brute-force.

// sealedPrefix marks an encrypted applicant record (format version 1).
var sealedPrefix = []byte("CS1")

// ErrCorrupt is returned for an applicant record that does not decrypt.
var ErrCorrupt = errors.New("applicant record does not decrypt (wrong data key or tampered row)")

type privacy struct {
	aead   cipher.AEAD
	macKey []byte
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sm3.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func newPrivacy(dataKey []byte) (*privacy, error) {
	blk, err := sm4.NewCipher(derive(dataKey, "cardseal applicant encryption v1")[:16])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &privacy{aead: aead, macKey: derive(dataKey, "cardseal couple key v1")}, nil
}

func (p *privacy) seal(cardID string, plain []byte) []byte {
	nonce := make([]byte, p.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := append(append([]byte{}, sealedPrefix...), nonce...)
	return p.aead.Seal(out, nonce, plain, []byte(cardID))
}

func (p *privacy) open(cardID string, b []byte) ([]byte, error) {
	n := len(sealedPrefix) + p.aead.NonceSize()
	if !bytes.HasPrefix(b, sealedPrefix) || len(b) < n+p.aead.Overhead() {
		return nil, ErrCorrupt
	}
	plain, err := p.aead.Open(nil, b[len(sealedPrefix):n], b[n:], []byte(cardID))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// coupleKey is the keyed digest of the couple's ID numbers, in either
// order.
func (p *privacy) coupleKey(a *card.Applicant) string {
	x, y := a.Male.IDNumber, a.Female.IDNumber
	if x > y {
		x, y = y, x
	}
	m := hmac.New(sm3.New, p.macKey)
	m.Write([]byte(x + "|" + y))
	return hex.EncodeToString(m.Sum(nil))
}

type privacyOnce struct {
	once sync.Once
	p    *privacy
	err  error
}

func (s *Service) privacy() (*privacy, error) {
	s.priv.once.Do(func() {
		k, err := s.keys.DataKey()
		if err != nil {
			s.priv.err = fmt.Errorf("data key: %w", err)
			return
		}
		s.priv.p, s.priv.err = newPrivacy(k)
	})
	return s.priv.p, s.priv.err
}

// Applicant decrypts a card's application.
func (s *Service) Applicant(c *card.Card) (*card.Applicant, error) {
	p, err := s.privacy()
	if err != nil {
		return nil, err
	}
	plain, err := p.open(c.ID, c.Applicant)
	if err != nil {
		return nil, fmt.Errorf("card %s: %w", c.ID, err)
	}
	var a card.Applicant
	if err := json.Unmarshal(plain, &a); err != nil {
		return nil, fmt.Errorf("card %s: applicant record: %w", c.ID, err)
	}
	return &a, nil
}
