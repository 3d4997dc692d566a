// Package auth is Herald's credential login: accounts with argon2id password
// hashes, access and refresh tokens, refresh-token rotation with reuse
// detection, logout, the login limiter, and the revocation that closes a
// user's sockets. It implements herald.Authenticator for the /auth routes and
// gives the token verifier its revocation hook.
//
// A login starts a session: a family of refresh tokens, whose id is the sid
// claim of every token it hands out. Each refresh spends the presented token
// and returns a new pair. A spent token presented again means two parties
// hold it, so the whole family is revoked, its access tokens denied and the
// user's sockets closed; whoever still has a valid token must log in again.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/keyrate"
)

// Defaults of Config.
const (
	DefaultAccessTTL     = 15 * time.Minute
	DefaultRefreshTTL    = 7 * 24 * time.Hour
	DefaultLoginRate     = 10 // attempts per minute, per account and per address
	DefaultPollInterval  = 5 * time.Second
	DefaultPurgeInterval = time.Hour
)

// Close reasons sent with close orders.
const (
	ReasonLoggedOut       = "Logged out"
	ReasonSessionRevoked  = "Session revoked"
	ReasonAccountDisabled = "Account disabled"
	ReasonAccountRemoved  = "Account removed"
)

// Config configures a Service. Accounts, Issuer and Refresh are required.
type Config struct {
	// Accounts stores accounts, refresh-token families and the denylist.
	Accounts herald.AccountStore
	// Issuer signs access and refresh tokens.
	Issuer herald.TokenIssuer
	// Refresh verifies refresh tokens; it must accept that kind only.
	Refresh herald.TokenVerifier
	// Publisher carries close orders to the user's sockets on every node
	// (default: none are sent).
	Publisher herald.Publisher
	// AccessTTL and RefreshTTL are the tokens' lifetimes (defaults
	// DefaultAccessTTL and DefaultRefreshTTL).
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// LoginRate is how many login attempts per minute one account, and one
	// client address, may make (default DefaultLoginRate); LoginBurst is how
	// many at once (default LoginRate).
	LoginRate  float64
	LoginBurst int
	// Params are the argon2id costs of the dummy hash an unknown username is
	// checked against, which must cost what a real check does (default
	// DefaultParams, as HashPassword uses).
	Params Params
	// MaxConcurrentHashes bounds the password checks running at once, so a
	// login flood from many addresses queues instead of exhausting memory
	// (default: the number of CPUs, at least 2).
	MaxConcurrentHashes int
	// PollInterval is how often Run looks for accounts disabled or removed
	// by `herald user`, to close their sockets (default DefaultPollInterval).
	PollInterval time.Duration
	// PurgeInterval is how often Run drops expired refresh tokens and
	// denials (default DefaultPurgeInterval).
	PurgeInterval time.Duration
	// Leeway is the verifiers' clock skew: denials outlive an access token's
	// exp by it (default 5s).
	Leeway time.Duration
	// ActForUsers names the accounts (by username) that may log in for
	// another user with LoginFor: the service account of a backend that
	// hands each browser a token of the browser's own user. No other
	// account may; empty: none.
	ActForUsers []string

	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default: time.Now
}

// Service is the login service. It is safe for concurrent use.
type Service struct {
	cfg      Config
	log      *slog.Logger
	byAddr   *keyrate.Limiter
	byName   *keyrate.Limiter
	hashSem  chan struct{}
	dummy    string // a hash no password matches, checked for unknown usernames
	mu       sync.RWMutex
	blocked  map[string]string         // user id of a disabled account → its username
	accounts map[string]herald.Account // as last polled, by username
}

var _ herald.Authenticator = (*Service)(nil)

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Accounts == nil || cfg.Issuer == nil || cfg.Refresh == nil {
		return nil, errors.New("auth: Accounts, Issuer and Refresh are required")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = DefaultLoginRate
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = max(1, int(cfg.LoginRate))
	}
	if cfg.Params == (Params{}) {
		cfg.Params = DefaultParams
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = max(2, runtime.NumCPU())
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.PurgeInterval <= 0 {
		cfg.PurgeInterval = DefaultPurgeInterval
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dummy, err := HashPassword(randomID(), cfg.Params)
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg:      cfg,
		log:      cfg.Logger,
		byAddr:   keyrate.New(cfg.LoginRate/60, cfg.LoginBurst, cfg.Now), // LoginRate is per minute
		byName:   keyrate.New(cfg.LoginRate/60, cfg.LoginBurst, cfg.Now),
		hashSem:  make(chan struct{}, cfg.MaxConcurrentHashes),
		dummy:    dummy,
		blocked:  make(map[string]string),
		accounts: make(map[string]herald.Account),
	}, nil
}

// errCredentials is the one answer to a failed login, whatever failed.
func errCredentials() error { return herald.Errorf(herald.ETOKEN, "Invalid credentials") }

func errToken() error { return herald.Errorf(herald.ETOKEN, "Invalid or expired token") }

// throttled is an ERATELIMIT error that says when to try again.
type throttled struct {
	err   *herald.Error
	after time.Duration
}

func (e *throttled) Error() string             { return e.err.Error() }
func (e *throttled) Unwrap() error             { return e.err }
func (e *throttled) RetryAfter() time.Duration { return e.after }

func tooMany(after time.Duration) error {
	return &throttled{herald.Errorf(herald.ERATELIMIT, "Too many login attempts"), after}
}

// Login checks username and password and starts a session. Unknown
// usernames cost a password check too, so timing does not tell which
// usernames exist; every failure is the same ETOKEN "Invalid credentials".
func (s *Service) Login(ctx context.Context, username, password, addr string) (*herald.Tokens, error) {
	return s.login(ctx, username, password, "", addr)
}

// LoginFor is Login by a service account for userID: its tokens, and those
// of every refresh in the session, carry userID, so a browser handed the
// access token connects as its own user. The credentials are checked as
// Login does; right credentials of an account not in Config.ActForUsers are
// EFORBIDDEN. A userID of the account's own is plain Login.
func (s *Service) LoginFor(ctx context.Context, username, password, userID, addr string) (*herald.Tokens, error) {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return nil, err
	}
	return s.login(ctx, username, password, userID, addr)
}

// mayActFor reports whether the account username may log in for others.
func (s *Service) mayActFor(username string) bool {
	for _, u := range s.cfg.ActForUsers {
		if strings.EqualFold(u, username) {
			return true
		}
	}
	return false
}

// login is Login, for userID when it is not empty.
func (s *Service) login(ctx context.Context, username, password, userID, addr string) (*herald.Tokens, error) {
	if addr == "" {
		addr = "unknown"
	}
	if ok, wait := s.byAddr.Take(addr); !ok {
		s.log.Warn("login throttled", "remote", addr, "scope", "address")
		return nil, tooMany(wait)
	}
	key := strings.ToLower(username)
	if len(key) > herald.MaxUsernameLen {
		key = key[:herald.MaxUsernameLen]
	}
	if ok, wait := s.byName.Take(key); !ok {
		s.log.Warn("login throttled", "remote", addr, "scope", "account")
		return nil, tooMany(wait)
	}
	if username == "" || password == "" || len(username) > herald.MaxUsernameLen || len(password) > herald.MaxPasswordLen {
		return nil, errCredentials()
	}

	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		return nil, herald.Errorf(herald.EUNAVAILABLE, "Request canceled")
	}
	acct, err := s.cfg.Accounts.FindAccount(ctx, username)
	var match bool
	switch {
	case herald.CodeOf(err) == herald.ENOTFOUND:
		CheckPassword(s.dummy, password)
	case err != nil:
		<-s.hashSem
		return nil, err
	default:
		match = CheckPassword(acct.PasswordHash, password)
	}
	<-s.hashSem

	switch {
	case acct == nil:
		s.log.Info("login refused", "remote", addr, "reason", "unknown username")
		return nil, errCredentials()
	case !match:
		s.log.Info("login refused", "remote", addr, "username", acct.Username, "reason", "wrong password")
		return nil, errCredentials()
	case acct.Disabled:
		s.log.Info("login refused", "remote", addr, "username", acct.Username, "reason", "account disabled")
		return nil, errCredentials()
	case userID != "" && userID != acct.UserID && !s.mayActFor(acct.Username):
		s.log.Warn("login for a user refused", "remote", addr, "username", acct.Username, "user", userID, "reason", "the account may not act for users")
		return nil, herald.Errorf(herald.EFORBIDDEN, "This account may not log in for other users")
	}
	if userID == acct.UserID {
		userID = "" // the account's own user: a plain login
	}

	now := s.cfg.Now()
	rt := &herald.RefreshToken{ID: randomID(), FamilyID: randomID(), Username: acct.Username,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	if err := s.cfg.Accounts.CreateRefreshToken(ctx, rt); err != nil {
		return nil, err
	}
	if userID != "" {
		s.log.Info("login for a user", "remote", addr, "username", acct.Username, "user", userID)
	} else {
		s.log.Info("login", "remote", addr, "username", acct.Username, "user", acct.UserID)
	}
	return s.issue(acct, userID, rt, now)
}

// issue signs the access token and the refresh token rt of a session. For
// a session of LoginFor (forUser set) the tokens carry that user, and the
// access token is a connection token: it is meant for a browser, so it
// opens the user's sockets and inbox but calls no server API, which the
// account's own access token does.
func (s *Service) issue(acct *herald.Account, forUser string, rt *herald.RefreshToken, now time.Time) (*herald.Tokens, error) {
	user, kind := acct.UserID, herald.TokenAccess
	if forUser != "" {
		user, kind = forUser, herald.TokenConnection
	}
	access, err := s.cfg.Issuer.IssueToken(&herald.Claims{Kind: kind, UserID: user,
		SessionID: rt.FamilyID, IssuedAt: now, ExpiresAt: now.Add(s.cfg.AccessTTL)})
	if err != nil {
		return nil, err
	}
	refresh, err := s.cfg.Issuer.IssueToken(&herald.Claims{Kind: herald.TokenRefresh, UserID: user,
		SessionID: rt.FamilyID, ID: rt.ID, IssuedAt: now, ExpiresAt: rt.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return &herald.Tokens{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", UserID: user,
		ExpiresIn: int64(s.cfg.AccessTTL / time.Second), RefreshExpiresIn: int64(s.cfg.RefreshTTL / time.Second),
		ExpiresAt: now.Add(s.cfg.AccessTTL)}, nil
}

// Refresh spends refreshToken and returns a new pair in the same session. A
// token spent before revokes its session: see the package comment.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*herald.Tokens, error) {
	claims, err := s.cfg.Refresh.Verify(ctx, refreshToken)
	if err != nil {
		if herald.CodeOf(err) == herald.EINTERNAL {
			return nil, err
		}
		return nil, errToken()
	}
	if claims.Kind != herald.TokenRefresh || claims.ID == "" || claims.SessionID == "" {
		return nil, errToken()
	}
	now := s.cfg.Now()
	next := &herald.RefreshToken{ID: randomID(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	old, err := s.cfg.Accounts.RotateRefreshToken(ctx, claims.ID, next)
	switch code := herald.CodeOf(err); {
	case code == herald.ENOTFOUND:
		return nil, errToken()
	case code == herald.ECONFLICT && old != nil:
		if old.RevokedAt == nil {
			// Spent and presented again: stolen, or replayed. Revoke all.
			s.log.Warn("refresh token reused: session revoked", "username", old.Username, "user", claims.UserID)
			s.revokeFamily(ctx, old.FamilyID, claims.UserID, ReasonSessionRevoked, herald.CloseInvalidToken)
		}
		return nil, errToken()
	case err != nil:
		return nil, err
	}
	if old.FamilyID != claims.SessionID {
		s.revokeFamily(ctx, old.FamilyID, claims.UserID, ReasonSessionRevoked, herald.CloseInvalidToken)
		return nil, errToken()
	}
	acct, err := s.cfg.Accounts.FindAccount(ctx, old.Username)
	if err != nil || acct.Disabled {
		if err != nil && herald.CodeOf(err) != herald.ENOTFOUND {
			return nil, err
		}
		s.revokeFamily(ctx, old.FamilyID, claims.UserID, ReasonAccountDisabled, herald.CloseForbidden)
		return nil, errToken()
	}
	var forUser string
	if claims.UserID != acct.UserID {
		// A session of LoginFor: it stays its user's while the account
		// may still act for users.
		if !s.mayActFor(acct.Username) {
			s.revokeFamily(ctx, old.FamilyID, claims.UserID, ReasonSessionRevoked, herald.CloseInvalidToken)
			return nil, errToken()
		}
		forUser = claims.UserID
	}
	next.FamilyID, next.Username = old.FamilyID, old.Username
	return s.issue(acct, forUser, next, now)
}

// Logout ends the session of refreshToken, or of the access token whose
// claims are given, and closes the user's sockets.
func (s *Service) Logout(ctx context.Context, refreshToken string, access *herald.Claims) error {
	var family, user string
	switch {
	case refreshToken != "":
		c, err := s.cfg.Refresh.Verify(ctx, refreshToken)
		if err != nil || c.Kind != herald.TokenRefresh || c.SessionID == "" {
			if herald.CodeOf(err) == herald.EINTERNAL {
				return err
			}
			return errToken()
		}
		family, user = c.SessionID, c.UserID
	case access != nil:
		if access.Kind != herald.TokenAccess || access.SessionID == "" {
			return errToken()
		}
		family, user = access.SessionID, access.UserID
	default:
		return herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials")
	}
	if access != nil && access.ID != "" {
		if err := s.cfg.Accounts.DenyToken(ctx, access.ID, access.ExpiresAt.Add(s.cfg.Leeway)); err != nil {
			return err
		}
	}
	if err := s.revokeFamily(ctx, family, user, ReasonLoggedOut, herald.CloseInvalidToken); err != nil {
		return err
	}
	s.log.Info("logout", "user", user)
	return nil
}

// revokeFamily revokes a session, denies its access tokens for as long as
// they may live, and closes the user's sockets.
func (s *Service) revokeFamily(ctx context.Context, family, user, reason string, code int) error {
	now := s.cfg.Now()
	if _, err := s.cfg.Accounts.RevokeFamily(ctx, family, now, now.Add(s.cfg.AccessTTL+s.cfg.Leeway)); err != nil {
		s.log.Error("revoking a session failed", "user", user, "err", err)
		return err
	}
	s.closeSockets(ctx, user, reason, code)
	return nil
}

// closeSockets publishes a close order for user's sockets on every node.
func (s *Service) closeSockets(ctx context.Context, user, reason string, code int) {
	if s.cfg.Publisher == nil || user == "" {
		return
	}
	m := &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: user}, Close: code, Payload: []byte(reason)}
	if _, err := s.cfg.Publisher.Publish(context.WithoutCancel(ctx), m); err != nil {
		s.log.Error("close order failed", "user", user, "err", err)
	}
}

// Revoked is the verifiers' revocation hook (jwt.Config.Revoked): a token of
// a disabled account's user is refused, and so is an access token whose jti
// or session was revoked.
//
// The set of disabled accounts is the last poll's; a token of a user in it is
// checked against the store before it is refused, so that an account enabled
// again since the poll works at once instead of up to a poll interval later.
// Only tokens of disabled users pay that read.
func (s *Service) Revoked(ctx context.Context, c *herald.Claims) (bool, error) {
	s.mu.RLock()
	username, blocked := s.blocked[c.UserID]
	s.mu.RUnlock()
	if blocked {
		a, err := s.cfg.Accounts.FindAccount(ctx, username)
		switch {
		case herald.CodeOf(err) == herald.ENOTFOUND:
			return true, nil
		case err != nil:
			return false, err
		case a.Disabled || a.UserID != c.UserID:
			return true, nil
		}
		s.mu.Lock()
		if s.blocked[c.UserID] == username {
			delete(s.blocked, c.UserID)
		}
		s.mu.Unlock()
	}
	// Access tokens, and the connection tokens of LoginFor sessions (which
	// carry their session's sid), end with their session.
	if c.Kind != herald.TokenAccess && c.SessionID == "" {
		return false, nil
	}
	return s.cfg.Accounts.TokenDenied(ctx, s.cfg.Now(), c.ID, c.SessionID)
}

// Run watches the accounts until ctx ends: it closes the sockets of accounts
// disabled or removed (by `herald user`, possibly on another machine) and
// purges expired tokens. It loads the accounts once before returning from
// its first poll; it returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	purge := time.NewTicker(s.cfg.PurgeInterval)
	defer purge.Stop()
	s.Poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			s.Poll(ctx)
		case <-purge.C:
			if n, err := s.cfg.Accounts.PurgeTokens(ctx, s.cfg.Now()); err != nil {
				s.log.Warn("purging expired tokens failed", "err", err)
			} else if n > 0 {
				s.log.Debug("purged expired tokens", "rows", n)
			}
		}
	}
}

// Poll compares the accounts with what it saw last: the sockets of accounts
// newly disabled or removed are closed, and the set of blocked user ids that
// Revoked refuses is brought up to date.
func (s *Service) Poll(ctx context.Context) {
	list, err := s.cfg.Accounts.ListAccounts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("polling accounts failed", "err", err)
		}
		return
	}
	now := make(map[string]herald.Account, len(list))
	blocked := make(map[string]string)
	for _, a := range list {
		now[a.Username] = *a
		if a.Disabled {
			blocked[a.UserID] = a.Username
		}
	}
	s.mu.Lock()
	before := s.accounts
	s.accounts, s.blocked = now, blocked
	s.mu.Unlock()
	for name, old := range before {
		cur, ok := now[name]
		switch {
		case !ok:
			s.log.Info("account removed: closing its sockets", "username", name, "user", old.UserID)
			s.closeSockets(ctx, old.UserID, ReasonAccountRemoved, herald.CloseForbidden)
		case cur.Disabled && !old.Disabled:
			s.log.Info("account disabled: closing its sockets", "username", name, "user", cur.UserID)
			s.closeSockets(ctx, cur.UserID, ReasonAccountDisabled, herald.CloseForbidden)
		}
	}
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}
