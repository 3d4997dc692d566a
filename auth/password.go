package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/heraldhq/herald"
)

// Params are argon2id's cost parameters (RFC 9106). Hashes record the
// parameters they were made with, so raising them later leaves old hashes
// valid.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams are OWASP's recommended minimum for argon2id: 19 MiB, two
// passes, one thread; about 30 ms on a current core. Every login pays it,
// which is what makes guessing expensive, and the login limiter and
// Config.MaxConcurrentHashes keep it from becoming a denial of service.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Bounds on the parameters a stored hash may name, so that a corrupt or
// hostile row cannot make a login allocate gigabytes.
const (
	maxMemory  = 256 << 10 // KiB: 256 MiB
	maxTime    = 16
	saltLen    = 16
	keyLen     = 32
	hashPrefix = "$argon2id$v=19$"
)

// HashPassword returns the encoded argon2id hash of password with a fresh
// random salt, in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string, p Params) (string, error) {
	if p == (Params{}) {
		p = DefaultParams
	}
	if p.Memory < 8*uint32(max(p.Threads, 1)) || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 {
		return "", herald.Errorf(herald.EINVALID, "argon2id parameters out of range")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", hashPrefix, p.Memory, p.Time, p.Threads, b64(salt), b64(key)), nil
}

// CheckPassword reports whether password matches the encoded hash, comparing
// in constant time. A malformed hash matches nothing.
func CheckPassword(encoded, password string) bool {
	p, salt, want, ok := parseHash(encoded)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func parseHash(encoded string) (p Params, salt, key []byte, ok bool) {
	rest, found := strings.CutPrefix(encoded, hashPrefix)
	if !found {
		return p, nil, nil, false
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return p, nil, nil, false
	}
	var m, t, th uint32
	if n, err := fmt.Sscanf(parts[0], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || n != 3 {
		return p, nil, nil, false
	}
	if m > maxMemory || t < 1 || t > maxTime || th < 1 || th > 255 || m < 8*th {
		return p, nil, nil, false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[1])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, false
	}
	return Params{Memory: m, Time: t, Threads: uint8(th)}, salt, key, true
}

// CheckNewPassword enforces the password rules for new accounts: 8 to 1024
// bytes of UTF-8 (NIST SP 800-63B: length, not composition).
func CheckNewPassword(password string) error {
	switch {
	case len(password) < herald.MinPasswordLen:
		return herald.Errorf(herald.EINVALID, "password must be at least %d characters", herald.MinPasswordLen)
	case len(password) > herald.MaxPasswordLen:
		return herald.Errorf(herald.EINVALID, "password must be at most %d bytes", herald.MaxPasswordLen)
	case !utf8.ValidString(password):
		return herald.Errorf(herald.EINVALID, "password must be UTF-8 text")
	}
	return nil
}

// CheckUsername enforces the username rules: 1 to 64 characters of
// A-Z a-z 0-9 . _ @ -, so that a username is safe in logs and URLs.
func CheckUsername(name string) error {
	ok := name != "" && len(name) <= herald.MaxUsernameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._@-", c) >= 0
	}
	if !ok {
		return herald.Errorf(herald.EINVALID, "username must be 1 to %d characters of letters, digits and . _ @ -", herald.MaxUsernameLen)
	}
	return nil
}
