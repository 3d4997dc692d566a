package client

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultConnectionFraction is how much of a connection token's lifetime
// ConnectionTokenSource caches it for by default.
const DefaultConnectionFraction = 0.8

// ConnectionConfig configures a ConnectionTokenSource.
type ConnectionConfig struct {
	// URL is the server's HTTP base URL (required).
	URL string
	// UserID is the end user the tokens are for (required).
	UserID string
	// Auth authorises POST /api/tokens: StaticToken(apiKey) or a
	// LoginTokenSource (required).
	Auth TokenSource
	// TTL is the lifetime asked for (0: the server's default).
	TTL time.Duration
	// Channels are private channels the tokens grant.
	Channels []string
	// Cache holds the tokens (default: a MemoryCache of the source's own).
	Cache Cache
	// Lifetime says how long a token is cached (default
	// DefaultConnectionFraction of its lifetime).
	Lifetime Lifetime
	// HTTPClient makes the requests (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Logger receives cache failures (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ConnectionTokenSource mints short-lived connection tokens for one end
// user with POST /api/tokens, authorised by an API key or an access token:
// what a backend hands a browser so that it can open /ws as that user.
type ConnectionTokenSource struct {
	cfg   ConnectionConfig
	api   *API
	store tokenStore
	group singleflight.Group
	key   string
}

// NewConnectionTokenSource returns a ConnectionTokenSource for cfg.
func NewConnectionTokenSource(cfg ConnectionConfig) (*ConnectionTokenSource, error) {
	if cfg.UserID == "" {
		return nil, &Error{Type: ErrServer, Message: "ConnectionConfig needs UserID"}
	}
	api, err := NewAPI(APIConfig{URL: cfg.URL, Auth: cfg.Auth, HTTPClient: cfg.HTTPClient})
	if err != nil {
		return nil, err
	}
	if cfg.Cache == nil {
		cfg.Cache = NewMemoryCache()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &ConnectionTokenSource{cfg: cfg, api: api,
		key: "conn:" + cfg.UserID + "|" + strings.Join(cfg.Channels, ",")}
	s.store = tokenStore{cache: cfg.Cache, warn: func(msg string, err error) {
		cfg.Logger.Warn(msg, "user", cfg.UserID, "err", err)
	}}
	return s, nil
}

// Token implements TokenSource.
func (s *ConnectionTokenSource) Token(ctx context.Context) (Token, error) {
	if t, _, ok := s.store.get(ctx, s.key); ok {
		return t, nil
	}
	ch := s.group.DoChan("token", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if t, _, ok := s.store.get(ctx, s.key); ok {
			return t, nil
		}
		t, err := s.api.ConnectionToken(ctx, ConnectionTokenRequest{UserID: s.cfg.UserID, TTL: s.cfg.TTL, Channels: s.cfg.Channels})
		if err != nil {
			return Token{}, err
		}
		if t.UserID == "" {
			t.UserID = s.cfg.UserID
		}
		if !t.ExpiresAt.IsZero() {
			s.store.put(ctx, s.key, t, s.cfg.Lifetime.of(t.ExpiresAt.Sub(s.cfg.Now()), DefaultConnectionFraction))
		}
		return t, nil
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

// Invalidate implements TokenSource.
func (s *ConnectionTokenSource) Invalidate(ctx context.Context, value string) error {
	return s.store.drop(ctx, s.key, value)
}
