package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTailStopsWhenRefused: a refused token or user ends `herald tail` at
// once with a plain reason instead of a retry loop; docs/protocol.md says
// 4003 must not be retried, and no retry fixes a wrong secret either.
func TestTailStopsWhenRefused(t *testing.T) {
	s := startApp(t, nil)
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"wrong secret", []string{"--user", "bea"}, map[string]string{"JWT_SECRET": strings.Repeat("w", 32)}, "refused the token"},
		{"another user's token", []string{"--user", "eve", "--token", token(t, s.secret, "bea")}, nil, "another user than --user"},
		{"garbage token", []string{"--user", "bea", "--token", "not-a-jwt"}, nil, "close 4002"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out, errOut syncBuffer
		err := run(ctx, append([]string{"tail", "--url", "http://" + s.addr}, c.args...), mapEnv(c.env), &out, &errOut)
		stoppedByItself := ctx.Err() == nil
		cancel()
		if !stoppedByItself {
			t.Errorf("%s: tail was still retrying after 30s; stderr %q", c.name, errOut.String())
			continue
		}
		if err == nil || !strings.Contains(cliMessage(err), c.want) {
			t.Errorf("%s: tail = %v, want an error saying %q", c.name, err, c.want)
			continue
		}
		for _, internal := range []string{"herald client", "authentication_failed", "Options.UserID", "herald: herald"} {
			if strings.Contains(cliMessage(err)+errOut.String(), internal) {
				t.Errorf("%s: the message names SDK internals (%q): %s / %s", c.name, internal, cliMessage(err), errOut.String())
			}
		}
		if strings.Contains(errOut.String(), "reconnecting") {
			t.Errorf("%s: tail retried: %s", c.name, errOut.String())
		}
	}
}

// TestCLIHelpAndMistakes: help asked for is on stdout and shows no secret
// from the environment; mistakes are named plainly, once.
func TestCLIHelpAndMistakes(t *testing.T) {
	secret, key := "s3cret-"+strings.Repeat("x", 30), "k3y-"+strings.Repeat("y", 30)
	env := mapEnv(map[string]string{"JWT_SECRET": secret, "HERALD_API_KEY": key, "HERALD_DB_PATH": filepath.Join(t.TempDir(), "h.db")})
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"token", "--help"}, {"tail", "--help"}, {"send", "--help"}, {"user", "add", "--help"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env, &out, &errOut)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: %v", args, err)
		}
		if out.Len() == 0 || errOut.Len() != 0 {
			t.Errorf("%q: help on stdout %d bytes, stderr %q", args, out.Len(), errOut.String())
		}
		if strings.Contains(out.String(), secret) || strings.Contains(out.String(), key) {
			t.Errorf("%q: the help shows a secret from the environment", args)
		}
	}

	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{[]string{"user", "frob", "alice"}, nil, `unknown user subcommand "frob"`},
		{[]string{"user", "list"}, map[string]string{"DATABASE_URL": "mysql://root:pw-in-url@db/app"}, `DATABASE_URL has an unsupported scheme "mysql"`},
		{[]string{"user", "list", "--db", filepath.Join(t.TempDir(), "no", "such", "dir.db")}, nil, "opening the store"},
		{[]string{"serve", "--port", "x", "--queue-size", "0"}, nil, "WS_QUEUE_SIZE must be a positive integer"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, mapEnv(c.env), &out, &errOut)
		if err == nil {
			t.Errorf("%q: no error", c.args)
			continue
		}
		msg := cliMessage(err)
		if !strings.Contains(msg, c.want) {
			t.Errorf("%q: %q, want %q", c.args, msg, c.want)
		}
		if strings.Contains(msg, "herald:") || strings.Contains(msg, "USERNAME") || strings.Contains(msg, "pw-in-url") {
			t.Errorf("%q: %q repeats a prefix, asks for the wrong thing or shows a password", c.args, msg)
		}
	}
}
