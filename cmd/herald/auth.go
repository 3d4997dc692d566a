package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	"github.com/heraldhq/herald/jwt"
)

// AuthConfig is how tokens are signed and checked and how accounts log in.
type AuthConfig struct {
	JWTSecret       string
	Leeway          time.Duration
	PreviousSecrets []string
	Issuer          string
	Audience        string
	TrustedIssuer   string
	PublicKeys      []string
	JWKSFile        string
	JWKSURL         string
	JWKSRefresh     time.Duration
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	ConnTTL         time.Duration
	ConnMaxTTL      time.Duration
	LoginRate       float64
	PollInterval    time.Duration
	APIKey          string
}

var authSettings = []setting{
	{"JWT_SECRET", "jwt-secret", "", "HS256 secret for connection tokens, 32 bytes or more in production (development generates one)"},
	{"JWT_LEEWAY", "jwt-leeway", "5s", "clock skew allowed on exp and nbf"},
	{"JWT_PREVIOUS_SECRETS", "jwt-previous-secrets", "", "comma-separated HS256 secrets still accepted while tokens signed with them live (secret rotation); never used to sign"},
	{"JWT_ISSUER", "jwt-issuer", "", "iss of the tokens Herald signs; HS256 tokens must carry it (empty: tokens without iss)"},
	{"JWT_AUDIENCE", "jwt-audience", "", "aud every token must carry, and Herald's tokens do (empty: not checked)"},
	{"JWT_TRUSTED_ISSUER", "jwt-trusted-issuer", "", "iss of another issuer (an identity provider) whose RS256/ES256/EdDSA connection tokens are accepted with the keys below"},
	{"JWT_PUBLIC_KEYS", "jwt-public-keys", "", "comma-separated PEM files of the trusted issuer's public keys; a key's kid is its file name without extension"},
	{"JWKS_FILE", "jwks-file", "", "JSON Web Key Set file of the trusted issuer's public keys"},
	{"JWKS_URL", "jwks-url", "", "URL of the trusted issuer's JSON Web Key Set, fetched with a 5s timeout and cached (https in production)"},
	{"JWKS_REFRESH", "jwks-refresh", "1h", "how often JWKS_URL is fetched again (an unknown kid also fetches it, at most once a minute)"},
	{"ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "lifetime of the access tokens /auth/login and /auth/refresh hand out"},
	{"REFRESH_TOKEN_TTL", "refresh-token-ttl", "168h", "lifetime of refresh tokens (each is good for one refresh)"},
	{"CONNECTION_TOKEN_TTL", "connection-token-ttl", "15m", "default lifetime of the connection tokens POST /api/tokens issues"},
	{"CONNECTION_TOKEN_MAX_TTL", "connection-token-max-ttl", "24h", "longest lifetime a POST /api/tokens request may ask for"},
	{"LOGIN_RATE_LIMIT", "login-rate-limit", "10", "login attempts per minute per account and per client address (429 beyond)"},
	{"ACCOUNT_POLL_INTERVAL", "account-poll-interval", "5s", "how often a server looks for accounts disabled or removed by `herald user`, to close their sockets"},
	{"HERALD_API_KEY", "api-key", "", "bearer key for the server API, 32 bytes or more in production (development generates one)"},
}

func parseAuth(p *parser, c *Config) {
	a := &c.Auth
	a.JWTSecret = p.str("JWT_SECRET")
	a.Leeway = p.dur("JWT_LEEWAY", 0)
	a.PreviousSecrets = p.list("JWT_PREVIOUS_SECRETS")
	a.Issuer = p.str("JWT_ISSUER")
	a.Audience = p.str("JWT_AUDIENCE")
	a.TrustedIssuer = p.str("JWT_TRUSTED_ISSUER")
	a.PublicKeys = p.list("JWT_PUBLIC_KEYS")
	a.JWKSFile = p.str("JWKS_FILE")
	a.JWKSURL = p.str("JWKS_URL")
	a.JWKSRefresh = p.dur("JWKS_REFRESH", time.Nanosecond)
	a.AccessTTL = p.dur("ACCESS_TOKEN_TTL", time.Nanosecond)
	a.RefreshTTL = p.dur("REFRESH_TOKEN_TTL", time.Nanosecond)
	a.ConnTTL = p.dur("CONNECTION_TOKEN_TTL", time.Nanosecond)
	a.ConnMaxTTL = p.dur("CONNECTION_TOKEN_MAX_TTL", time.Nanosecond)
	a.LoginRate = p.rate("LOGIN_RATE_LIMIT")
	a.PollInterval = p.dur("ACCOUNT_POLL_INTERVAL", time.Nanosecond)
	a.APIKey = p.str("HERALD_API_KEY")
}

// checkAuth checks the token and login settings that go together.
func (c *Config) checkAuth(p *parser) {
	a := c.Auth
	if p.ok("CONNECTION_TOKEN_TTL", "CONNECTION_TOKEN_MAX_TTL") && a.ConnTTL > a.ConnMaxTTL {
		p.errorf("CONNECTION_TOKEN_TTL must not exceed CONNECTION_TOKEN_MAX_TTL")
	}
	if p.ok("ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL") && a.AccessTTL > a.RefreshTTL {
		p.errorf("ACCESS_TOKEN_TTL must not exceed REFRESH_TOKEN_TTL")
	}
	keys := len(a.PublicKeys) > 0 || a.JWKSFile != "" || a.JWKSURL != ""
	switch {
	case keys && a.TrustedIssuer == "":
		p.errorf("JWT_TRUSTED_ISSUER is required with JWT_PUBLIC_KEYS, JWKS_FILE or JWKS_URL: keys belong to an issuer")
	case !keys && a.TrustedIssuer != "":
		p.errorf("JWT_TRUSTED_ISSUER needs JWT_PUBLIC_KEYS, JWKS_FILE or JWKS_URL")
	case keys && a.TrustedIssuer == a.Issuer:
		p.errorf("JWT_TRUSTED_ISSUER must differ from JWT_ISSUER")
	}
	if u := a.JWKSURL; u != "" {
		pu, err := url.Parse(u)
		switch {
		case err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "":
			p.fail("JWKS_URL", "must be an http(s) URL")
		case pu.Scheme != "https" && c.production():
			p.fail("JWKS_URL", "must be https in production: keys fetched in the clear can be replaced")
		}
	}
	if c.production() {
		for _, s := range a.PreviousSecrets {
			if len(s) < minSecretLen {
				p.fail("JWT_PREVIOUS_SECRETS", "must each be at least %d bytes in production%s", minSecretLen, c.inferred())
				break
			}
		}
	}
}

// authParts is the wired token verification and credential login.
type authParts struct {
	verifier *jwt.Verifier // /ws and the API: connection and access tokens
	issuer   *jwt.Issuer   // Herald's own tokens
	service  *auth.Service
	jwks     *jwt.JWKS // nil without JWKS_URL
	log      *slog.Logger
}

// jwtConfig is the verifier configuration the settings describe, without the
// trusted issuer's keys.
func jwtConfig(cfg AuthConfig) jwt.Config {
	c := jwt.Config{
		Secret:   []byte(cfg.JWTSecret),
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		Leeway:   cfg.Leeway,
	}
	for _, s := range cfg.PreviousSecrets {
		c.PreviousSecrets = append(c.PreviousSecrets, []byte(s))
	}
	return c
}

// newAuth wires verification, issuing and login on store (which must also be
// a herald.AccountStore); close orders go through pub.
func newAuth(ctx context.Context, cfg AuthConfig, store herald.Store, pub herald.Publisher, log *slog.Logger) (*authParts, error) {
	accounts, ok := store.(herald.AccountStore)
	if !ok {
		return nil, fmt.Errorf("the store keeps no accounts")
	}
	a := &authParts{log: log}
	jc := jwtConfig(cfg)
	if name := cfg.TrustedIssuer; name != "" {
		ti := jwt.TrustedIssuer{Name: name}
		if files := cfg.PublicKeys; len(files) > 0 {
			keys, err := jwt.LoadPEMFiles(files...)
			if err != nil {
				return nil, err
			}
			ti.Keys = append(ti.Keys, keys...)
		}
		if f := cfg.JWKSFile; f != "" {
			keys, err := jwt.LoadJWKSFile(f)
			if err != nil {
				return nil, err
			}
			ti.Keys = append(ti.Keys, keys...)
		}
		if u := cfg.JWKSURL; u != "" {
			a.jwks = &jwt.JWKS{URL: u, Refresh: cfg.JWKSRefresh}
			if err := a.jwks.Fetch(ctx); err != nil {
				// The issuer may be down: start, and keep trying.
				log.Warn("JWKS fetch failed; retrying in the background", "url", u, "err", err)
			}
			ti.JWKS = a.jwks
		}
		jc.Trusted = []jwt.TrustedIssuer{ti}
		log.Info("trusting tokens of another issuer", "iss", name, "kids", keyList(ti.Keys), "jwks", cfg.JWKSURL != "")
	}
	a.issuer = jwt.NewIssuer(jc)

	refresh := jc
	refresh.Trusted = nil
	refresh.Kinds = []herald.TokenKind{herald.TokenRefresh}
	svc, err := auth.New(auth.Config{
		Accounts:     accounts,
		Issuer:       a.issuer,
		Refresh:      jwt.NewVerifier(refresh),
		Publisher:    pub,
		AccessTTL:    cfg.AccessTTL,
		RefreshTTL:   cfg.RefreshTTL,
		LoginRate:    cfg.LoginRate,
		PollInterval: cfg.PollInterval,
		Leeway:       max(cfg.Leeway, jwt.DefaultLeeway),
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	a.service = svc
	jc.Revoked = svc.Revoked
	a.verifier = jwt.NewVerifier(jc)
	// Know the disabled accounts before the first connection arrives.
	svc.Poll(ctx)
	return a, nil
}

// run watches accounts and refreshes the JWKS until ctx ends.
func (a *authParts) run(ctx context.Context) error {
	var wg sync.WaitGroup
	if a.jwks != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.jwks.Run(ctx, func(err error) { a.log.Warn("JWKS refresh failed", "err", err) })
		}()
	}
	err := a.service.Run(ctx)
	wg.Wait()
	return err
}

// keyList formats kids for logs.
func keyList(keys []jwt.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return strings.Join(ids, ",")
}
