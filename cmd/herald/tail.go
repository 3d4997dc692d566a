package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/jwt"
)

// tailCmd connects to /ws as a user with the Go SDK and prints every message
// that arrives, one JSON line each, until interrupted. It reconnects and
// resumes by itself after a lost connection, so it also shows what happens
// when the server restarts; it stops at once, with the reason, when the
// server refuses its credentials or its user (4001 to 4004), which no retry
// would change.
func tailCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald tail", flag.ContinueOnError)
	fs.SetOutput(helpOutput(args, stdout, stderr))
	user := fs.String("user", "", "user id to connect as (required unless --token names it)")
	server := fs.String("url", envOr(getenv, "HERALD_URL", defaultServerURL), "server URL (env HERALD_URL)")
	token := fs.String("token", "", "connection token to use (default: sign tokens with --jwt-secret)")
	secret := fs.String("jwt-secret", "", "HS256 secret to sign tokens with (default: env JWT_SECRET)")
	ttl := fs.Duration("ttl", 15*time.Minute, "lifetime of the tokens tail signs; they are refreshed before they expire")
	since := fs.Int64("since", -1, "replay notifications after this seq first (0: the whole inbox; -1: live only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tail takes flags only, got %q", fs.Arg(0))
	}
	if *secret == "" {
		*secret = getenv("JWT_SECRET") // not the flag's default, which --help would print
	}
	endpoint, err := serverWSURL(*server)
	if err != nil {
		return err
	}
	var ts client.TokenSource
	switch {
	case *token != "":
		ts = client.StaticToken(*token)
		if *user == "" {
			*user = client.TokenFromJWT(*token).UserID
		}
	case *secret != "":
		if *user == "" {
			return errors.New("tail needs --user")
		}
		if *ttl <= 0 {
			return errors.New("--ttl must be positive")
		}
		issuer := jwt.NewIssuer(jwt.Config{Secret: []byte(*secret), Issuer: getenv("JWT_ISSUER"), Audience: getenv("JWT_AUDIENCE")})
		u, life := *user, *ttl
		ts = client.TokenFunc(func(context.Context) (client.Token, error) {
			tok, err := issuer.Issue(u, life, nil)
			if err != nil {
				return client.Token{}, err
			}
			return client.TokenFromJWT(tok), nil
		})
	default:
		return errors.New("tail needs a token: --token, or --jwt-secret (env JWT_SECRET) to sign one")
	}
	if *user == "" {
		return errors.New("tail needs --user")
	}
	o := client.Options{URL: endpoint, UserID: *user, TokenSource: ts}
	if *since < -1 {
		return errors.New("--since must be -1 (live only) or a seq of 0 or more")
	}
	if *since >= 0 {
		o.Since = since
	}
	c, err := client.New(o)
	if err != nil {
		return err
	}

	var mu sync.Mutex // one line at a time
	line := func(w io.Writer, format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format, a...)
	}
	c.OnRaw(func(m json.RawMessage) {
		var buf bytes.Buffer
		if json.Compact(&buf, m) == nil {
			line(stdout, "%s\n", buf.Bytes())
		}
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	refused := make(chan *client.Error, 1)
	c.OnConnected(func() { line(stderr, "herald tail: connected to %s as %s\n", endpoint, *user) })
	c.OnReconnecting(func(n int) {
		if runCtx.Err() == nil { // not after a refusal has stopped it
			line(stderr, "herald tail: reconnecting (attempt %d)\n", n)
		}
	})
	c.OnError(func(e *client.Error) {
		if endsTail(e) {
			select {
			case refused <- e:
			default:
			}
			stop()
			return
		}
		line(stderr, "herald tail: %s\n", clientMessage(e))
	})

	err = c.ConnectWithRetry(runCtx)
	if err == nil {
		<-runCtx.Done()
	}
	c.Disconnect()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	derr := c.Drain(dctx)
	select {
	case e := <-refused:
		return errors.New("tail: " + clientMessage(e))
	default:
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return derr
}
