package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Token is a bearer token and what the client knows about it.
type Token struct {
	Value string
	// ExpiresAt is when the server stops accepting the token; zero when
	// unknown, in which case the client never refreshes it in-band.
	ExpiresAt time.Time
	// UserID is the user the token is for, when known.
	UserID string
}

// TokenSource gives the client its tokens. Implementations must be safe for
// concurrent use.
type TokenSource interface {
	// Token returns a token that is valid now, from a cache when it can.
	Token(ctx context.Context) (Token, error)
	// Invalidate tells the source the server refused value (a 401 or a
	// close with 4002), so the next Token call must not return it. A value
	// that is no longer the cached one is ignored, so that a late caller
	// cannot throw away a token another caller just fetched.
	Invalidate(ctx context.Context, value string) error
}

// StaticToken is a TokenSource of one fixed token, for scripts and tests.
// Its expiry and user are read from the token when it is a JWT.
func StaticToken(value string) TokenSource { return staticToken(TokenFromJWT(value)) }

type staticToken Token

func (s staticToken) Token(context.Context) (Token, error)     { return Token(s), nil }
func (s staticToken) Invalidate(context.Context, string) error { return nil }

// TokenFunc adapts a function to a TokenSource with nothing to invalidate:
// the function is called for every token, e.g. one that signs tokens itself.
type TokenFunc func(ctx context.Context) (Token, error)

func (f TokenFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }
func (f TokenFunc) Invalidate(context.Context, string) error { return nil }

// TokenFromJWT returns a Token for value with ExpiresAt and UserID read
// from its claims (exp, and userId or sub) when it is a JWT. The signature
// is not checked: that is the server's job; the client only needs to know
// when to refresh.
func TokenFromJWT(value string) Token {
	t := Token{Value: value}
	parts := strings.Split(value, ".")
	if len(parts) != 3 {
		return t
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return t
	}
	var claims struct {
		Exp    json.Number `json:"exp"`
		UserID string      `json:"userId"`
		Sub    string      `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return t
	}
	if exp, err := claims.Exp.Float64(); err == nil && exp > 0 {
		t.ExpiresAt = time.Unix(0, int64(exp*float64(time.Second)))
	}
	t.UserID = claims.UserID
	if t.UserID == "" {
		t.UserID = claims.Sub
	}
	return t
}

// expiryOf estimates when a token the server just issued expires, on the
// local clock: expiresIn seconds from now, less a second since JWT times
// are whole seconds (the server may have rounded its now down). Counting
// from the local clock keeps clock skew out of it; without expiresIn, the
// token's own exp or the server's expiresAt is taken as it is.
func expiryOf(now time.Time, expiresIn int64, value string, serverExp time.Time) time.Time {
	if expiresIn > 0 {
		return now.Add(time.Duration(expiresIn)*time.Second - time.Second)
	}
	if exp := TokenFromJWT(value).ExpiresAt; !exp.IsZero() {
		return exp
	}
	return serverExp
}
