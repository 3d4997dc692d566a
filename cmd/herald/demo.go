package main

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/demo"
	"github.com/heraldhq/herald/jwt"
)

// demoTokenTTL is the life of a token from the demo sign-in: the design
// document's 15-minute access token.
const demoTokenTTL = 15 * time.Minute

// mountDemo serves the demo page at /. With HERALD_DEMO on (by default only
// when this process generated its JWT secret) its sign-in hands out
// connection tokens for any user and its button sends sample notifications
// through the inbox; otherwise both are refused and only the page is served.
func (a *app) mountDemo(cfg *Config, verifier herald.TokenVerifier, ib herald.Inbox) {
	issuer := jwt.NewIssuer(jwtConfig(cfg.Auth)) // the same issuer, audience and key id the verifier expects
	a.api.Handle("/", demo.New(demo.Config{
		DevMode: cfg.demo(),
		IssueToken: func(user string) (string, time.Time, error) {
			// JWT expiries are whole seconds; report the one in the token.
			exp := time.Now().Add(demoTokenTTL).Truncate(time.Second)
			tok, err := issuer.Issue(user, demoTokenTTL, nil)
			return tok, exp, err
		},
		Verifier: verifier,
		Notify: func(ctx context.Context, n *herald.NewNotification) (*herald.Notification, error) {
			out, err := ib.Create(ctx, []*herald.NewNotification{n})
			if err != nil {
				return nil, err
			}
			return out[0].Notification, nil
		},
		Logger: a.log,
	}))
}
