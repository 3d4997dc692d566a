package jwt

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/heraldhq/herald"
)

// Issuer signs HS256 tokens that a Verifier with the same secret accepts. Dev
// mode and tests use it to mint tokens, and a token endpoint can later.
type Issuer struct {
	secret []byte
	now    func() time.Time
}

// NewIssuer returns an Issuer for c; c.Leeway is not used. The secret is copied.
func NewIssuer(c Config) *Issuer {
	return &Issuer{secret: append([]byte(nil), c.Secret...), now: c.now}
}

// Issue returns a token for userID that expires ttl from now and grants
// channels. It carries userId and sub (both userID), iat, exp and a random jti.
func (i *Issuer) Issue(userID string, ttl time.Duration, channels []string) (string, error) {
	switch {
	case len(i.secret) == 0:
		return "", herald.Errorf(herald.EINTERNAL, "token issuer has no secret")
	case !validUserID(userID):
		return "", herald.Errorf(herald.EINVALID, "userId must be 1 to %d bytes of printable text", herald.MaxUserIDLen)
	case ttl <= 0:
		return "", herald.Errorf(herald.EINVALID, "token lifetime must be positive")
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	now := i.now()
	claims := tokenClaims{
		UserID:   userID,
		Channels: channels,
		RegisteredClaims: gojwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  gojwt.NewNumericDate(now),
			ExpiresAt: gojwt.NewNumericDate(now.Add(ttl)),
			ID:        hex.EncodeToString(id[:]),
		},
	}
	return gojwt.NewWithClaims(algorithm, claims).SignedString(i.secret)
}
