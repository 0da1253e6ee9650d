package keys

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"golang.org/x/crypto/pbkdf2"
)

// The data key protects personal data at rest (applicants' names and ID
// numbers, Art. 13). It is 32 random bytes kept in keys/data.key,
// wrapped with SM4-GCM under a key derived from the keystore passphrase
// (PBKDF2-HMAC-SM3, KDFIterations). Every instance of one installation
// must share it (copy the keys directory), as they share the seal keys.

const pemDataKey = "CARDSEAL DATA KEY"

// DataKey returns the installation's data key, creating it on first use.
// Concurrent first uses (two processes) agree on one key: the file is
// created with a hard link that fails if another process got there first.
func (s *FileStore) DataKey() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dataKey != nil {
		return s.dataKey, nil
	}
	path := filepath.Join(keyDir(s.dir), "data.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := s.createDataKey(path); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	k, err := unwrapDataKey(b, s.pass)
	if err != nil {
		return nil, err
	}
	s.dataKey = k
	return k, nil
}

func (s *FileStore) createDataKey(path string) error {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	wrapped, err := wrapDataKey(k, s.pass)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".data.key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(wrapped); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("data key: %w", err)
	}
	return nil
}

func kek(pass, salt []byte) (cipher.AEAD, error) {
	if len(pass) == 0 {
		return nil, ErrNoPassphrase
	}
	blk, err := sm4.NewCipher(pbkdf2.Key(pass, salt, KDFIterations, 16, sm3.New))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func wrapDataKey(k, pass []byte) ([]byte, error) {
	salt := make([]byte, 16)
	nonce := make([]byte, 12)
	rand.Read(salt)
	rand.Read(nonce)
	aead, err := kek(pass, salt)
	if err != nil {
		return nil, err
	}
	body := append(append(salt, nonce...), aead.Seal(nil, nonce, k, []byte(pemDataKey))...)
	return pem.EncodeToMemory(&pem.Block{Type: pemDataKey, Bytes: body}), nil
}

func unwrapDataKey(b, pass []byte) ([]byte, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != pemDataKey || len(blk.Bytes) != 16+12+32+16 {
		return nil, fmt.Errorf("data key: %w", ErrKeyFileFormat)
	}
	aead, err := kek(pass, blk.Bytes[:16])
	if err != nil {
		return nil, err
	}
	k, err := aead.Open(nil, blk.Bytes[16:28], blk.Bytes[28:], []byte(pemDataKey))
	if err != nil {
		return nil, fmt.Errorf("data key: %w", ErrPassphrase)
	}
	return k, nil
}
