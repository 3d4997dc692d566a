package jwt

import (
	"context"
	"unicode"
	"unicode/utf8"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/heraldhq/herald"
)

// Verifier checks HS256 tokens against a shared secret. It implements
// herald.TokenVerifier and is safe for concurrent use.
type Verifier struct {
	secret []byte
	parser *gojwt.Parser
}

var _ herald.TokenVerifier = (*Verifier)(nil)

// NewVerifier returns a Verifier for c. The secret is copied, so the caller
// may reuse its slice.
func NewVerifier(c Config) *Verifier {
	return &Verifier{
		secret: append([]byte(nil), c.Secret...),
		parser: gojwt.NewParser(
			gojwt.WithValidMethods([]string{algorithm.Alg()}),
			gojwt.WithExpirationRequired(),
			gojwt.WithIssuedAt(),
			gojwt.WithLeeway(c.leeway()),
			gojwt.WithTimeFunc(c.now),
			gojwt.WithStrictDecoding(),
		),
	}
}

// errInvalid is the one answer to every bad token. It deliberately says
// nothing about why, so the error cannot leak the token or help forge one.
func errInvalid() error { return herald.Errorf(herald.ETOKEN, "Invalid or expired token") }

// Verify checks token's signature, algorithm and times and returns its claims.
// An empty token is ECREDENTIALS; any other failure is ETOKEN.
func (v *Verifier) Verify(ctx context.Context, token string) (*herald.Claims, error) {
	if token == "" {
		return nil, herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials")
	}
	if len(v.secret) == 0 || len(token) > MaxTokenLen {
		return nil, errInvalid()
	}
	var tc tokenClaims
	t, err := v.parser.ParseWithClaims(token, &tc, v.key)
	if err != nil || !t.Valid {
		return nil, errInvalid()
	}
	c := &herald.Claims{
		UserID:    tc.UserID,
		Channels:  tc.Channels,
		ExpiresAt: tc.ExpiresAt.Time,
		ID:        tc.ID,
	}
	if c.UserID == "" {
		c.UserID = tc.Subject
	}
	if tc.IssuedAt != nil {
		c.IssuedAt = tc.IssuedAt.Time
	}
	if !validUserID(c.UserID) {
		return nil, errInvalid()
	}
	return c, nil
}

// key hands the parser the secret, after checking once more that the token is
// HMAC-signed: the parser's method list already pins HS256, this is the belt
// to its braces.
func (v *Verifier) key(t *gojwt.Token) (any, error) {
	if _, ok := t.Method.(*gojwt.SigningMethodHMAC); !ok || t.Method.Alg() != algorithm.Alg() {
		return nil, gojwt.ErrTokenSignatureInvalid
	}
	return v.secret, nil
}

// validUserID reports whether id can name a user everywhere Herald uses one:
// non-empty, at most herald.MaxUserIDLen bytes of printable UTF-8.
func validUserID(id string) bool {
	if id == "" || len(id) > herald.MaxUserIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
