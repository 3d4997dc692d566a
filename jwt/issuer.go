package jwt

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
)

// Issuer signs HS256 tokens that a Verifier with the same secret accepts: the
// connection tokens of POST /api/tokens and the access and refresh tokens of
// a login, and in dev mode and tests a token to try.
type Issuer struct {
	secret   []byte
	kid      string
	issuer   string
	audience string
	now      func() time.Time
}

var _ herald.TokenIssuer = (*Issuer)(nil)

// NewIssuer returns an Issuer for c; it signs with c.Secret and stamps
// c.Issuer and c.Audience. The secret is copied.
func NewIssuer(c Config) *Issuer {
	s := append([]byte(nil), c.Secret...)
	return &Issuer{secret: s, kid: hmacKeyID(s), issuer: c.Issuer, audience: c.Audience, now: c.now}
}

// Issue returns a connection token for userID that expires ttl from now and
// grants channels. It carries userId and sub (both userID), typ, iat, exp and
// a random jti.
func (i *Issuer) Issue(userID string, ttl time.Duration, channels []string) (string, error) {
	if ttl <= 0 {
		return "", herald.Errorf(herald.EINVALID, "token lifetime must be positive")
	}
	return i.IssueToken(&herald.Claims{UserID: userID, Channels: channels, ExpiresAt: i.now().Add(ttl)})
}

// IssueToken signs a token carrying c; see herald.TokenIssuer.
func (i *Issuer) IssueToken(c *herald.Claims) (string, error) {
	now := i.now()
	kind := c.Kind
	if kind == "" {
		kind = herald.TokenConnection
	}
	switch {
	case len(i.secret) == 0:
		return "", herald.Errorf(herald.EINTERNAL, "token issuer has no secret")
	case !herald.ValidUserID(c.UserID):
		return "", herald.Errorf(herald.EINVALID, "userId must be 1 to %d bytes of printable text", herald.MaxUserIDLen)
	case c.ExpiresAt.IsZero() || !c.ExpiresAt.After(now):
		return "", herald.Errorf(herald.EINVALID, "token lifetime must be positive")
	case kind != herald.TokenConnection && kind != herald.TokenAccess && kind != herald.TokenRefresh:
		return "", herald.Errorf(herald.EINVALID, "unknown token kind")
	}
	id := c.ID
	if id == "" {
		var err error
		if id, err = RandomID(); err != nil {
			return "", err
		}
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = now
	}
	claims := tokenClaims{
		UserID:    c.UserID,
		Channels:  c.Channels,
		Type:      string(kind),
		SessionID: c.SessionID,
		RegisteredClaims: gojwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   c.UserID,
			IssuedAt:  gojwt.NewNumericDate(iat),
			ExpiresAt: gojwt.NewNumericDate(c.ExpiresAt),
			ID:        id,
		},
	}
	if i.audience != "" {
		claims.Audience = gojwt.ClaimStrings{i.audience}
	}
	return issuedToken(i.kid, claims).SignedString(i.secret)
}

// issuedToken is a token as the Issuer writes it: HS256, its header naming
// the secret's kid. The verifier derives from it the headers it recognises
// as Herald's own (ownHeaders), so the two cannot drift apart.
func issuedToken(kid string, claims gojwt.Claims) *gojwt.Token {
	t := gojwt.NewWithClaims(algorithm, claims)
	t.Header["kid"] = kid
	return t
}

// RandomID returns 128 random bits in hex, for a jti or a session id.
func RandomID() (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}
