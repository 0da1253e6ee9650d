package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDataKeyRotationFiles: the next key is created once and found again;
// a wrong passphrase creates none; a promotion interrupted after keeping
// the old key is finished by a second call; every key stays in the ring.
func TestDataKeyRotationFiles(t *testing.T) {
	dir := t.TempDir()
	pass := []byte("data-key-ring-test")
	if err := InitDir(dir, ProvinceConfig{Province: "吉林省", RootName: "测试"}, pass, time.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDir(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.DataKey()
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := OpenDir(dir, []byte("not the passphrase"))
	if _, err := wrong.NextDataKey(); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("next key under a wrong passphrase: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "data.key.next")); !os.IsNotExist(err) {
		t.Fatal("a wrong passphrase created a next key")
	}
	next, err := s.NextDataKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.NextDataKey()
	if err != nil || !bytes.Equal(next, again) || bytes.Equal(next, old) {
		t.Fatalf("next key not stable or not new: %v", err)
	}
	ring, err := s.DataKeyRing()
	if err != nil || len(ring) != 2 || !bytes.Equal(ring[0], old) || !bytes.Equal(ring[1], next) {
		t.Fatalf("ring during the rotation: %d keys, %v", len(ring), err)
	}
	// Interrupted after keeping the old key, before the rename.
	retired := filepath.Join(dir, "keys", "retired", "data-"+DataKeyID(old)+".key")
	os.MkdirAll(filepath.Dir(retired), 0o700)
	if err := os.Link(filepath.Join(dir, "keys", "data.key"), retired); err != nil {
		t.Fatal(err)
	}
	if err := s.PromoteDataKey(); err != nil {
		t.Fatal(err)
	}
	if k, err := s.DataKey(); err != nil || !bytes.Equal(k, next) {
		t.Fatalf("current key after the promotion: %v", err)
	}
	ring, err = s.DataKeyRing()
	if err != nil || len(ring) != 2 || !bytes.Equal(ring[0], next) || !bytes.Equal(ring[1], old) {
		t.Fatalf("ring after the rotation: %d keys, %v", len(ring), err)
	}
	if err := s.PromoteDataKey(); err == nil {
		t.Fatal("a promotion without a next key succeeded")
	}
	if DataKeyID(old) == DataKeyID(next) || len(DataKeyID(old)) != 16 {
		t.Fatalf("key ids %s %s", DataKeyID(old), DataKeyID(next))
	}
}
