package keys

import (
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/pkcs8"
	"github.com/emmansun/gmsm/sm2"
)

// KDFIterations is the PBKDF2-HMAC-SM3 iteration count for keys at rest.
// gmsm's default (2,048) is far too low for a key that seals documents.
const KDFIterations = 200_000

// MinKDFIterations is the lowest count ParseKey accepts.
const MinKDFIterations = 100_000

const pemEncrypted = "ENCRYPTED PRIVATE KEY"

// Errors of the key file format.
var (
	ErrPassphrase    = errors.New("wrong passphrase or corrupted key file")
	ErrNoPassphrase  = errors.New("no key passphrase given")
	ErrWeakKeyFile   = errors.New("key file is not encrypted with PBES2 and enough PBKDF2 iterations")
	ErrNotSM2        = errors.New("key is not an SM2 private key")
	ErrKeyFileFormat = errors.New("not a PEM encrypted private key")
)

// EncryptKey encodes an SM2 private key as an encrypted PKCS#8 PEM block:
// PBES2 with SM4-CBC, PBKDF2-HMAC-SM3, 16-byte salt, KDFIterations.
func EncryptKey(key *sm2.PrivateKey, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, ErrNoPassphrase
	}
	enc := pkcs.NewPBESEncrypter(pkcs.SM4CBC, pkcs.NewPBKDF2Opts(pkcs.SM3, 16, KDFIterations))
	der, err := pkcs8.MarshalPrivateKey(key, passphrase, enc)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemEncrypted, Bytes: der}), nil
}

// DecryptKey parses an encrypted PKCS#8 PEM block made by EncryptKey. A
// wrong passphrase returns ErrPassphrase.
func DecryptKey(pemBytes, passphrase []byte) (*sm2.PrivateKey, error) {
	if len(passphrase) == 0 {
		return nil, ErrNoPassphrase
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil || block.Type != pemEncrypted || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, ErrKeyFileFormat
	}
	if n, err := kdfIterations(block.Bytes); err != nil || n < MinKDFIterations {
		return nil, ErrWeakKeyFile
	}
	key, _, err := pkcs8.ParsePrivateKey(block.Bytes, passphrase)
	if err != nil {
		// PBES2 decryption with a wrong key fails the padding check or
		// yields bytes that do not parse; neither is distinguishable from
		// corruption, and neither should be.
		return nil, ErrPassphrase
	}
	k, ok := key.(*sm2.PrivateKey)
	if !ok {
		return nil, ErrNotSM2
	}
	return k, nil
}

// ReadPassphrase reads a key passphrase kept in a file: its content
// without the line ending; an empty file is ErrNoPassphrase. Where the
// passphrase comes from (which file, or the environment) is the caller's
// decision (package config).
func ReadPassphrase(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read passphrase file: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return nil, fmt.Errorf("passphrase file %s: %w", file, ErrNoPassphrase)
	}
	return []byte(p), nil
}

// NewPassphrase returns a random passphrase for generated demo keys.
func NewPassphrase() []byte {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return []byte(hex.EncodeToString(b))
}

// kdfIterations reads the PBKDF2 iteration count of a PBES2
// EncryptedPrivateKeyInfo without decrypting it, so that weak files are
// refused before any work is done.
func kdfIterations(der []byte) (int, error) {
	var info struct {
		Alg struct {
			Algorithm asn1.ObjectIdentifier
			Params    struct {
				KDF struct {
					Algorithm asn1.ObjectIdentifier
					Params    struct {
						Salt       []byte
						Iterations int
						Rest       asn1.RawValue `asn1:"optional"`
						Rest2      asn1.RawValue `asn1:"optional"`
					}
				}
				Enc asn1.RawValue
			}
		}
		Data []byte
	}
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil || len(rest) != 0 {
		return 0, ErrKeyFileFormat
	}
	if !info.Alg.Params.KDF.Algorithm.Equal(oidPBKDF2) {
		return 0, ErrWeakKeyFile
	}
	return info.Alg.Params.KDF.Params.Iterations, nil
}

var oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}

func pemDecode(b []byte) ([]byte, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, ErrKeyFileFormat
	}
	return blk.Bytes, nil
}
