package keys

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emmansun/gmsm/sm3"
)

// Rotation of the data key (docs/operations.md, "Rotating the data
// key"). Besides keys/data.key, the key new values are encrypted under,
// the keys directory may hold
//
//	keys/data.key.next           the key a rotation in progress
//	                             re-encrypts every value to;
//	keys/retired/data-ID.key     keys rotated out, kept so that backups
//	                             taken before the rotation stay readable
//	                             (ID: DataKeyID of the key).
//
// each wrapped with the passphrase like data.key. Every one of them
// decrypts (DataKeyRing); only data.key encrypts.

// DataKeyID names a data key without revealing it: the first 8 bytes of
// HMAC-SM3(key, "cardseal data key id"), in hex. Encrypted values carry
// it, so the key that decrypts them is found at once.
func DataKeyID(k []byte) string {
	m := hmac.New(sm3.New, k)
	m.Write([]byte("cardseal data key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

func (s *FileStore) nextDataKeyPath() string {
	return filepath.Join(keyDir(s.dir), "data.key.next")
}

func (s *FileStore) retiredDir() string { return filepath.Join(keyDir(s.dir), "retired") }

// DataKeyRing returns every data key of the installation, the current
// one first, then the key of a rotation in progress, then the retired
// ones: all of them decrypt.
func (s *FileStore) DataKeyRing() ([][]byte, error) {
	cur, err := s.DataKey()
	if err != nil {
		return nil, err
	}
	ring := [][]byte{cur}
	paths := []string{s.nextDataKeyPath()}
	retired, err := filepath.Glob(filepath.Join(s.retiredDir(), "data-*.key"))
	if err != nil {
		return nil, err
	}
	sort.Strings(retired)
	paths = append(paths, retired...)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("data key: %w", err)
		}
		k, err := unwrapDataKey(b, s.pass)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		ring = append(ring, k)
	}
	return ring, nil
}

// NextDataKey returns the key a rotation re-encrypts to: keys/data.key.next,
// created on the first call and found again by a rotation that resumes
// after an interruption.
func (s *FileStore) NextDataKey() ([]byte, error) {
	// Unlock the current key first: a wrong passphrase must not wrap a
	// new key that the right one cannot open.
	if _, err := s.DataKey(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.nextDataKeyPath()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		if err := s.createDataKey(p); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(p)
	}
	if err != nil {
		return nil, fmt.Errorf("next data key: %w", err)
	}
	return unwrapDataKey(b, s.pass)
}

// PromoteDataKey ends a rotation once every value is re-encrypted: the
// current key moves to keys/retired/data-ID.key and data.key.next becomes
// data.key. Each step is a link or a rename: a promotion interrupted
// before the rename is finished by calling it again, and after it there
// is nothing left to do.
func (s *FileStore) PromoteDataKey() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.nextDataKeyPath()
	if _, err := os.Stat(next); err != nil {
		return fmt.Errorf("promote data key: %w", err)
	}
	cur := filepath.Join(keyDir(s.dir), "data.key")
	b, err := os.ReadFile(cur)
	if err != nil {
		return fmt.Errorf("promote data key: %w", err)
	}
	k, err := unwrapDataKey(b, s.pass)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.retiredDir(), 0o700); err != nil {
		return fmt.Errorf("promote data key: %w", err)
	}
	old := filepath.Join(s.retiredDir(), "data-"+DataKeyID(k)+".key")
	if err := os.Link(cur, old); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("promote data key: keep the old key: %w", err)
	}
	if err := os.Rename(next, cur); err != nil {
		return fmt.Errorf("promote data key: %w", err)
	}
	s.dataKey = nil
	return nil
}

// RetiredDataKeys lists the files of the retired data keys.
func (s *FileStore) RetiredDataKeys() ([]string, error) {
	ps, err := filepath.Glob(filepath.Join(s.retiredDir(), "data-*.key"))
	if err != nil {
		return nil, err
	}
	sort.Strings(ps)
	for i, p := range ps {
		ps[i] = strings.TrimPrefix(p, s.dir+string(filepath.Separator))
	}
	return ps, nil
}
