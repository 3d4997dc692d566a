package herald

import (
	"context"
	"time"
)

// Account is a login for the credential endpoints (/auth/login): typically a
// backend that signs in with a username and password and receives an access
// token and a refresh token, as the design document's server actions do.
type Account struct {
	// Username is what the account logs in with; it is unique.
	Username string
	// UserID is the user id its tokens carry (default: the username).
	UserID string
	// PasswordHash is the encoded password hash (argon2id); never the password.
	PasswordHash string
	// Disabled accounts cannot log in or refresh, and their sockets are closed.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits on account fields.
const (
	MaxUsernameLen = 64
	MaxPasswordLen = 1024
	MinPasswordLen = 8
)

// RefreshToken is the stored state of one refresh token. Every login starts a
// family; each refresh spends the presented token and adds its successor to
// the family. A spent token presented again means it was stolen (or its
// holder is confused), so the whole family is revoked.
type RefreshToken struct {
	ID        string // the token's jti
	FamilyID  string // the login session: the sid claim of its tokens
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   *time.Time // when it was rotated
	RevokedAt *time.Time // when its family was revoked (logout, reuse, disable)
}

// AccountStore persists accounts, refresh-token families and the denylist of
// revoked token ids. The sqlite, postgres and memory stores implement it and
// share a test suite in storetest.
type AccountStore interface {
	// CreateAccount stores a; a taken username is ECONFLICT. It sets
	// CreatedAt and UpdatedAt.
	CreateAccount(ctx context.Context, a *Account) error
	// FindAccount returns the account of username, or ENOTFOUND.
	FindAccount(ctx context.Context, username string) (*Account, error)
	// ListAccounts returns every account, by username.
	ListAccounts(ctx context.Context) ([]*Account, error)
	// SetAccountDisabled disables or re-enables an account; ENOTFOUND when
	// there is none.
	SetAccountDisabled(ctx context.Context, username string, disabled bool) error
	// DeleteAccount removes an account and its refresh tokens; ENOTFOUND
	// when there is none.
	DeleteAccount(ctx context.Context, username string) error

	// CreateRefreshToken stores the first token of a new family.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// RotateRefreshToken spends the token id at next.CreatedAt and stores
	// next in its family, atomically; next's FamilyID and Username are set
	// from the spent token's. An unknown id is ENOTFOUND. A token
	// already spent or revoked is ECONFLICT, returned together with the
	// stored token so the caller can revoke its family; next is then not
	// stored. Of two concurrent rotations of one token, one wins.
	RotateRefreshToken(ctx context.Context, id string, next *RefreshToken) (*RefreshToken, error)
	// RevokeFamily revokes every token of a family at at, and denies the
	// family id (the sid of its access tokens) until denyUntil. It reports
	// how many tokens it revoked.
	RevokeFamily(ctx context.Context, familyID string, at, denyUntil time.Time) (int, error)
	// RevokeAccountTokens does RevokeFamily for every family of username.
	RevokeAccountTokens(ctx context.Context, username string, at, denyUntil time.Time) (int, error)

	// DenyToken adds id (a jti or a sid) to the denylist until until.
	DenyToken(ctx context.Context, id string, until time.Time) error
	// TokenDenied reports whether any of ids is on the denylist at at.
	TokenDenied(ctx context.Context, at time.Time, ids ...string) (bool, error)
	// PurgeTokens drops refresh tokens and denials that expired before
	// before, and reports how many rows went.
	PurgeTokens(ctx context.Context, before time.Time) (int, error)
}

// Tokens is what a login or a refresh hands out: the wire shape of the
// /auth/login and /auth/refresh answers.
type Tokens struct {
	AccessToken      string    `json:"accessToken"`
	RefreshToken     string    `json:"refreshToken"`
	ExpiresIn        int64     `json:"expiresIn"`        // seconds the access token lives
	RefreshExpiresIn int64     `json:"refreshExpiresIn"` // seconds the refresh token lives
	TokenType        string    `json:"tokenType"`        // always "Bearer"
	UserID           string    `json:"userId"`
	ExpiresAt        time.Time `json:"-"`
}

// Authenticator is the credential login service behind /auth/*. Every
// failure of Login is one generic ETOKEN "Invalid credentials", whatever went
// wrong, except ERATELIMIT when the account or the address is over its limit
// (such an error may carry RetryAfter() time.Duration).
type Authenticator interface {
	// Login checks username and password; addr is the client's address, for
	// the per-address limit.
	Login(ctx context.Context, username, password, addr string) (*Tokens, error)
	// LoginFor is Login by a service account for the user userID: the
	// tokens carry userID. Only accounts allowed to act for users may
	// (EFORBIDDEN otherwise, after the credentials were checked).
	LoginFor(ctx context.Context, username, password, userID, addr string) (*Tokens, error)
	// Refresh spends refreshToken and returns its successors.
	Refresh(ctx context.Context, refreshToken string) (*Tokens, error)
	// Logout revokes the session of refreshToken, or of the access token
	// whose claims are given (either may be empty), and closes the user's
	// sockets.
	Logout(ctx context.Context, refreshToken string, access *Claims) error
}
