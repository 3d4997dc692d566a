package herald

import (
	"context"
	"time"
)

// Claims is what a verified token says about its bearer.
type Claims struct {
	UserID    string    // the userId claim, or sub when userId is absent
	Channels  []string  // private channels granted by the token
	ExpiresAt time.Time // exp, always present on a verified token
	IssuedAt  time.Time
	ID        string // jti, for revocation
}

// TokenVerifier checks a bearer token and returns its claims. A missing,
// malformed, forged or expired token is an ETOKEN *Error; the error message
// never contains the token.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}
