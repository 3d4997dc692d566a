package herald

import (
	"context"
	"time"
)

// TokenKind keeps Herald's tokens apart, so that one kind cannot stand in for
// another: a refresh token opens no socket, and a connection token calls no
// server API. Tokens carry it as their "typ" claim; a token without one is a
// connection token, as the design document's tokens are.
type TokenKind string

// The token kinds.
const (
	// TokenConnection opens a WebSocket and reads its user's inbox. Backends
	// mint them for end users (POST /api/tokens), or sign their own.
	TokenConnection TokenKind = "connection"
	// TokenAccess is what a credential login hands a backend: it authorises
	// the server API as the API key does, and opens sockets for the
	// account's user id. Only Herald issues it.
	TokenAccess TokenKind = "access"
	// TokenRefresh is good for one POST /auth/refresh (or /auth/logout) and
	// nowhere else. Only Herald issues it.
	TokenRefresh TokenKind = "refresh"
)

// Claims is what a verified token says about its bearer.
type Claims struct {
	UserID    string    // the userId claim, or sub when userId is absent
	Channels  []string  // private channels granted by the token
	ExpiresAt time.Time // exp, always present on a verified token
	IssuedAt  time.Time
	ID        string // jti, for revocation

	// Kind is the typ claim; a verified token without one is a TokenConnection.
	Kind TokenKind
	// Issuer and Audience are the iss and aud claims, empty when absent.
	Issuer   string
	Audience []string
	// SessionID is the sid claim: the login session (refresh-token family)
	// an access or refresh token belongs to, so that revoking the session
	// revokes every token it handed out.
	SessionID string
}

// TokenVerifier checks a bearer token and returns its claims. A missing,
// malformed, forged or expired token is an ETOKEN *Error; the error message
// never contains the token.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

// TokenIssuer signs a token carrying c. ExpiresAt is required; Kind defaults
// to TokenConnection, IssuedAt to now and ID to a fresh random jti. Issuer and
// Audience are the issuer's own and are ignored in c.
type TokenIssuer interface {
	IssueToken(c *Claims) (string, error)
}
