package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	"github.com/heraldhq/herald/jwt"
)

// validateAuth checks the token and login settings.
func (c config) validateAuth() error {
	for _, k := range []string{"JWKS_REFRESH", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "CONNECTION_TOKEN_TTL",
		"CONNECTION_TOKEN_MAX_TTL", "ACCOUNT_POLL_INTERVAL"} {
		if d, err := time.ParseDuration(c[k]); err != nil || d <= 0 {
			return fmt.Errorf("%s must be a positive duration such as 15m, got %q", k, c[k])
		}
	}
	if c.dur("CONNECTION_TOKEN_TTL") > c.dur("CONNECTION_TOKEN_MAX_TTL") {
		return fmt.Errorf("CONNECTION_TOKEN_TTL must not exceed CONNECTION_TOKEN_MAX_TTL")
	}
	if c.dur("ACCESS_TOKEN_TTL") > c.dur("REFRESH_TOKEN_TTL") {
		return fmt.Errorf("ACCESS_TOKEN_TTL must not exceed REFRESH_TOKEN_TTL")
	}
	if f, err := strconv.ParseFloat(c["LOGIN_RATE_LIMIT"], 64); err != nil || f <= 0 {
		return fmt.Errorf("LOGIN_RATE_LIMIT must be a positive number, got %q", c["LOGIN_RATE_LIMIT"])
	}
	keys := c["JWT_PUBLIC_KEYS"] != "" || c["JWKS_FILE"] != "" || c["JWKS_URL"] != ""
	switch {
	case keys && c["JWT_TRUSTED_ISSUER"] == "":
		return fmt.Errorf("JWT_TRUSTED_ISSUER is required with JWT_PUBLIC_KEYS, JWKS_FILE or JWKS_URL: keys belong to an issuer")
	case !keys && c["JWT_TRUSTED_ISSUER"] != "":
		return fmt.Errorf("JWT_TRUSTED_ISSUER needs JWT_PUBLIC_KEYS, JWKS_FILE or JWKS_URL")
	case keys && c["JWT_TRUSTED_ISSUER"] == c["JWT_ISSUER"]:
		return fmt.Errorf("JWT_TRUSTED_ISSUER must differ from JWT_ISSUER")
	}
	if u := c["JWKS_URL"]; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("JWKS_URL must be an http(s) URL")
		}
		if p.Scheme != "https" && c.production() {
			return fmt.Errorf("JWKS_URL must be https in production: keys fetched in the clear can be replaced")
		}
	}
	if c.production() {
		for _, s := range c.list("JWT_PREVIOUS_SECRETS") {
			if len(s) < minSecretLen {
				return fmt.Errorf("JWT_PREVIOUS_SECRETS must each be at least %d bytes in production%s", minSecretLen, c.inferred())
			}
		}
	}
	return nil
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
func jwtConfig(cfg config) jwt.Config {
	c := jwt.Config{
		Secret:   []byte(cfg.str("JWT_SECRET")),
		Issuer:   cfg.str("JWT_ISSUER"),
		Audience: cfg.str("JWT_AUDIENCE"),
		Leeway:   cfg.dur("JWT_LEEWAY"),
	}
	for _, s := range cfg.list("JWT_PREVIOUS_SECRETS") {
		c.PreviousSecrets = append(c.PreviousSecrets, []byte(s))
	}
	return c
}

// newAuth wires verification, issuing and login on store (which must also be
// a herald.AccountStore); close orders go through pub.
func newAuth(ctx context.Context, cfg config, store herald.Store, pub herald.Publisher, log *slog.Logger) (*authParts, error) {
	accounts, ok := store.(herald.AccountStore)
	if !ok {
		return nil, fmt.Errorf("the store keeps no accounts")
	}
	a := &authParts{log: log}
	jc := jwtConfig(cfg)
	if name := cfg.str("JWT_TRUSTED_ISSUER"); name != "" {
		ti := jwt.TrustedIssuer{Name: name}
		if files := cfg.list("JWT_PUBLIC_KEYS"); len(files) > 0 {
			keys, err := jwt.LoadPEMFiles(files...)
			if err != nil {
				return nil, err
			}
			ti.Keys = append(ti.Keys, keys...)
		}
		if f := cfg.str("JWKS_FILE"); f != "" {
			keys, err := jwt.LoadJWKSFile(f)
			if err != nil {
				return nil, err
			}
			ti.Keys = append(ti.Keys, keys...)
		}
		if u := cfg.str("JWKS_URL"); u != "" {
			a.jwks = &jwt.JWKS{URL: u, Refresh: cfg.dur("JWKS_REFRESH")}
			if err := a.jwks.Fetch(ctx); err != nil {
				// The issuer may be down: start, and keep trying.
				log.Warn("JWKS fetch failed; retrying in the background", "url", u, "err", err)
			}
			ti.JWKS = a.jwks
		}
		jc.Trusted = []jwt.TrustedIssuer{ti}
		log.Info("trusting tokens of another issuer", "iss", name, "kids", keyList(ti.Keys), "jwks", cfg.str("JWKS_URL") != "")
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
		AccessTTL:    cfg.dur("ACCESS_TOKEN_TTL"),
		RefreshTTL:   cfg.dur("REFRESH_TOKEN_TTL"),
		LoginRate:    cfg.float("LOGIN_RATE_LIMIT"),
		PollInterval: cfg.dur("ACCOUNT_POLL_INTERVAL"),
		Leeway:       max(cfg.dur("JWT_LEEWAY"), jwt.DefaultLeeway),
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
