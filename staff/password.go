package staff

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new hashes: 64 MiB, two passes, one lane —
// RFC 9106's memory-constrained recommendation with one more pass, well
// under a second per login.
const (
	argonMemory  = 64 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// ErrHashFormat is returned for a stored hash that is not an argon2id
// hash this package can check.
var ErrHashFormat = errors.New("unsupported password hash format")

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC-encoded argon2id hash of a password:
// $argon2id$v=19$m=65536,t=2,p=1$SALT$HASH (unpadded standard Base64).
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Bounds on the parameters accepted from a stored hash, so a tampered
// row cannot make a login cost minutes or gigabytes.
const (
	maxArgonMemory = 1 << 20 // 1 GiB in KiB
	maxArgonTime   = 16
	maxArgonLanes  = 16
)

// CheckPassword reports whether password matches the encoded hash,
// comparing in constant time. An error means the hash could not be read.
func CheckPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, ErrHashFormat
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("%w: version %q", ErrHashFormat, parts[2])
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		m < 8 || m > maxArgonMemory || t < 1 || t > maxArgonTime || p < 1 || p > maxArgonLanes {
		return false, fmt.Errorf("%w: parameters %q", ErrHashFormat, parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, fmt.Errorf("%w: salt", ErrHashFormat)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, fmt.Errorf("%w: hash", ErrHashFormat)
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// hashSlots bounds the password checks running at once to the number of
// CPUs: each takes 64 MiB and a core for a few hundred milliseconds, so a
// burst of logins and seal confirmations — or a flood of guesses from
// many addresses — queues here instead of exhausting memory and starving
// every other request.
var hashSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// checkPassword is CheckPassword in one of the hashSlots, waiting for one
// no longer than ctx allows.
func checkPassword(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("password check: %w", ctx.Err())
	}
	defer func() { <-hashSlots }()
	return CheckPassword(encoded, password)
}

// dummyHash is checked against when the user does not exist or is
// disabled, so that these cost as much time as a wrong password and the
// answers cannot be told apart.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword("cardseal-dummy-password")
	if err != nil {
		panic(err)
	}
	return h
})

// commonPasswordsGz is the list of common passwords of zxcvbn-ts
// (npm @zxcvbn-ts/language-common 4.1.3, MIT licence), trimmed, lower-cased
// and gzipped by gen_common.go.
//
//go:generate npm pack --silent @zxcvbn-ts/language-common@4.1.3
//go:generate go run gen_common.go zxcvbn-ts-language-common-4.1.3.tgz
//go:generate rm zxcvbn-ts-language-common-4.1.3.tgz
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords is the list as a set, read on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic(fmt.Sprintf("embedded common-passwords.txt.gz: %v", err))
	}
	set := make(map[string]struct{}, 50000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		set[sc.Text()] = struct{}{}
	}
	if err := sc.Err(); err != nil || len(set) == 0 {
		panic(fmt.Sprintf("embedded common-passwords.txt.gz: %d entries, %v", len(set), err))
	}
	return set
})

// IsCommonPassword reports whether the password, trimmed and in lower
// case, is on the list of common passwords.
func IsCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(strings.TrimSpace(password))]
	return ok
}
