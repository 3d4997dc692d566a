package client

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"
)

// Default cache lifetimes of LoginTokenSource, as fractions of the server's
// lifetimes: the access token for 12 of its 15 minutes, the refresh token
// for 6.5 of its 7 days.
const (
	DefaultAccessFraction  = 12.0 / 15.0
	DefaultRefreshFraction = 6.5 / 7.0
)

// LoginConfig configures a LoginTokenSource.
type LoginConfig struct {
	// URL is the server's HTTP base URL, e.g. http://localhost:3007 (required).
	URL string
	// Username and Password are the account's credentials (required).
	Username, Password string
	// Cache holds the tokens (default: a MemoryCache of the source's own).
	// A RedisCache shares them between backend instances.
	Cache Cache
	// AccessLifetime and RefreshLifetime say how long tokens are cached
	// (default: DefaultAccessFraction and DefaultRefreshFraction of the
	// lifetimes the server gives).
	AccessLifetime, RefreshLifetime Lifetime
	// LockTimeout bounds how long one instance may hold the cache's lock
	// while it logs in or refreshes (default 30s).
	LockTimeout time.Duration
	// HTTPClient makes the requests (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Logger receives cache failures (default: discard). Tokens and
	// passwords are never logged.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// LoginTokenSource gets access tokens by logging in with a username and
// password (POST /auth/login) and keeps them fresh with the refresh token
// (POST /auth/refresh), logging in again only when the refresh token is
// gone or refused. It plays the design document's server actions: its
// tokens authorise the server API and /ws for the account's user.
//
// Concurrent callers share one login or refresh: within a process through
// singleflight, across processes sharing a RedisCache through the cache's
// lock. The latter matters because refresh tokens rotate: two instances
// refreshing with the same token would have the server revoke them both.
type LoginTokenSource struct {
	cfg   LoginConfig
	rest  rest
	store tokenStore
	group singleflight.Group

	accessKey, refreshKey, lockKey string
}

// NewLoginTokenSource returns a LoginTokenSource for cfg.
func NewLoginTokenSource(cfg LoginConfig) (*LoginTokenSource, error) {
	if cfg.URL == "" || cfg.Username == "" || cfg.Password == "" {
		return nil, &Error{Type: ErrServer, Message: "LoginConfig needs URL, Username and Password"}
	}
	if cfg.Cache == nil {
		cfg.Cache = NewMemoryCache()
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &LoginTokenSource{
		cfg:        cfg,
		rest:       newRest(cfg.URL, cfg.HTTPClient),
		accessKey:  "access:" + cfg.Username,
		refreshKey: "refresh:" + cfg.Username,
		lockKey:    "lock:" + cfg.Username,
	}
	s.store = tokenStore{cache: cfg.Cache, warn: func(msg string, err error) {
		cfg.Logger.Warn(msg, "user", cfg.Username, "err", err)
	}}
	return s, nil
}

// tokenPair is the answer of /auth/login and /auth/refresh.
type tokenPair struct {
	AccessToken      string `json:"accessToken"`
	RefreshToken     string `json:"refreshToken"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
	UserID           string `json:"userId"`
}

// Token implements TokenSource: the cached access token, or a new one from
// a refresh or a login.
func (s *LoginTokenSource) Token(ctx context.Context) (Token, error) {
	if t, _, ok := s.store.get(ctx, s.accessKey); ok {
		return t, nil
	}
	ch := s.group.DoChan("token", func() (any, error) {
		// Not the caller's context: the other callers share this call.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LockTimeout)
		defer cancel()
		return s.renew(ctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		return r.Val.(Token), nil
	case <-ctx.Done():
		return Token{}, asError(ctx.Err(), ErrNetwork, "waiting for a token")
	}
}

// renew refreshes or logs in, holding the cache's lock so that one instance
// does it for all.
func (s *LoginTokenSource) renew(ctx context.Context) (Token, error) {
	unlock, err := s.store.lock(ctx, s.lockKey, s.cfg.LockTimeout)
	if err != nil {
		return Token{}, asError(err, ErrNetwork, "waiting for the token cache lock")
	}
	defer unlock()
	// Another instance may have done it while this one waited.
	if t, _, ok := s.store.get(ctx, s.accessKey); ok {
		return t, nil
	}
	if rt, _, ok := s.store.get(ctx, s.refreshKey); ok {
		var pair tokenPair
		err := s.rest.call(ctx, "POST", "/auth/refresh", "", nil, map[string]string{"refreshToken": rt.Value}, &pair)
		if err == nil {
			return s.keep(ctx, pair)
		}
		if !IsAuthentication(err) {
			return Token{}, err
		}
		// Refused (expired, revoked or spent): log in again.
		_ = s.store.drop(ctx, s.refreshKey, rt.Value)
	}
	var pair tokenPair
	body := map[string]string{"username": s.cfg.Username, "password": s.cfg.Password}
	if err := s.rest.call(ctx, "POST", "/auth/login", "", nil, body, &pair); err != nil {
		return Token{}, err
	}
	return s.keep(ctx, pair)
}

// LoginFor logs the account in for the user userID (POST /auth/login with
// "userId") and returns that user's connection token, for a backend to hand
// the browser of userID's session: the design document's flow, where the
// browser then connects with its own userId. The server allows it only for
// the accounts named in its LOGIN_FOR_ACCOUNTS (403 otherwise, an ErrServer
// error with Status 403). The token opens userID's sockets and inbox, never
// the server API. Each user's token is cached like the account's own, for
// AccessLifetime of its life, so a backend may call LoginFor on every page
// it serves; its refresh token is not kept (a new login is as cheap as a
// refresh and keeps no family alive per user).
func (s *LoginTokenSource) LoginFor(ctx context.Context, userID string) (Token, error) {
	if userID == "" {
		return Token{}, &Error{Type: ErrServer, Message: "LoginFor needs a user id"}
	}
	key := s.accessKey + ":for:" + userID
	if t, _, ok := s.store.get(ctx, key); ok {
		return t, nil
	}
	v, err, _ := s.group.Do("for:"+userID, func() (any, error) {
		var pair tokenPair
		body := map[string]string{"username": s.cfg.Username, "password": s.cfg.Password, "userId": userID}
		if err := s.rest.call(ctx, "POST", "/auth/login", "", nil, body, &pair); err != nil {
			return Token{}, err
		}
		if pair.AccessToken == "" {
			return Token{}, &Error{Type: ErrServer, Message: "the server answered without an access token"}
		}
		now := s.cfg.Now()
		t := Token{Value: pair.AccessToken, UserID: pair.UserID, ExpiresAt: expiryOf(now, pair.ExpiresIn, pair.AccessToken, time.Time{})}
		if t.UserID != userID {
			return Token{}, &Error{Type: ErrServer, Message: "the server answered a token for another user"}
		}
		if !t.ExpiresAt.IsZero() {
			life := t.ExpiresAt.Sub(now)
			if pair.ExpiresIn > 0 {
				life = time.Duration(pair.ExpiresIn) * time.Second
			}
			s.store.put(ctx, key, t, min(s.cfg.AccessLifetime.of(life, DefaultAccessFraction), t.ExpiresAt.Sub(now)))
		}
		return t, nil
	})
	if err != nil {
		return Token{}, err
	}
	return v.(Token), nil
}

// keep caches a fresh pair and returns its access token.
func (s *LoginTokenSource) keep(ctx context.Context, p tokenPair) (Token, error) {
	if p.AccessToken == "" {
		return Token{}, &Error{Type: ErrServer, Message: "the server answered without an access token"}
	}
	now := s.cfg.Now()
	access := Token{Value: p.AccessToken, UserID: p.UserID,
		ExpiresAt: expiryOf(now, p.ExpiresIn, p.AccessToken, time.Time{})}
	if access.UserID == "" {
		access.UserID = TokenFromJWT(p.AccessToken).UserID
	}
	if !access.ExpiresAt.IsZero() {
		life := time.Duration(p.ExpiresIn) * time.Second
		if life <= 0 {
			life = access.ExpiresAt.Sub(now)
		}
		// The cache keeps it for a part of the lifetime the server gave,
		// and never past its estimated expiry.
		ttl := min(s.cfg.AccessLifetime.of(life, DefaultAccessFraction), access.ExpiresAt.Sub(now))
		s.store.put(ctx, s.accessKey, access, ttl)
	}
	if p.RefreshToken != "" {
		rexp := expiryOf(now, p.RefreshExpiresIn, p.RefreshToken, time.Time{})
		rlife := time.Duration(p.RefreshExpiresIn) * time.Second
		if rlife <= 0 {
			rlife = rexp.Sub(now)
		}
		refresh := Token{Value: p.RefreshToken, ExpiresAt: rexp, UserID: access.UserID}
		if !rexp.IsZero() {
			ttl := min(s.cfg.RefreshLifetime.of(rlife, DefaultRefreshFraction), rexp.Sub(now))
			s.store.put(ctx, s.refreshKey, refresh, ttl)
		}
	}
	return access, nil
}

// Invalidate implements TokenSource: the server refused value, so it is
// dropped from the cache and the next Token call refreshes.
func (s *LoginTokenSource) Invalidate(ctx context.Context, value string) error {
	return s.store.drop(ctx, s.accessKey, value)
}

// Logout revokes the refresh token's family on the server (which also
// closes the user's sockets) and empties the cache.
func (s *LoginTokenSource) Logout(ctx context.Context) error {
	unlock, err := s.store.lock(ctx, s.lockKey, s.cfg.LockTimeout)
	if err != nil {
		return asError(err, ErrNetwork, "waiting for the token cache lock")
	}
	defer unlock()
	rt, _, hasRefresh := s.store.get(ctx, s.refreshKey)
	at, _, hasAccess := s.store.get(ctx, s.accessKey)
	if hasRefresh || hasAccess {
		body := map[string]string{}
		if hasRefresh {
			body["refreshToken"] = rt.Value
		}
		bearer := ""
		if hasAccess {
			bearer = at.Value
		}
		if err := s.rest.call(ctx, "POST", "/auth/logout", bearer, nil, body, nil); err != nil && !IsAuthentication(err) {
			return err
		}
	}
	if hasAccess {
		_ = s.store.drop(ctx, s.accessKey, at.Value)
	}
	if hasRefresh {
		_ = s.store.drop(ctx, s.refreshKey, rt.Value)
	}
	return nil
}
