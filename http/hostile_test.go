package http_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/hostiletest"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
)

// hostileEnv is a Server with every dependency, so that every route is
// mounted, and a short request timeout, so that bodies promised and never
// sent are answered within the test.
func hostileEnv(t testing.TB) *env {
	t.Helper()
	st := memory.NewStore(memory.Config{})
	accounts := memory.NewAccounts(memory.Config{})
	cheap := auth.Params{Memory: 64, Time: 1, Threads: 1}
	if _, err := auth.CreateAccount(context.Background(), accounts, "backend", "svc-1", "correct horse battery", cheap); err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(auth.Config{Accounts: accounts, Issuer: jwt.NewIssuer(jwt.Config{Secret: secret}),
		Refresh: jwt.NewVerifier(jwt.Config{Secret: secret, Kinds: []herald.TokenKind{herald.TokenRefresh}}),
		Params:  cheap, LoginRate: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(c *heraldhttp.Config) {
		c.Preferences, c.Deliveries, c.VAPIDPublicKey, c.Devices = st, st, "BPublicKey", st
		c.Sessions = svc
		c.Tokens = jwt.NewIssuer(jwt.Config{Secret: secret})
		c.Presence = func(context.Context, string) (bool, []string, error) { return false, nil, nil }
		c.RequestTimeout = 250 * time.Millisecond
		c.AuthFailureLimit = 1e9
	})
}

// hostileRoutes returns a route for every pattern the server mounts, with
// credentials and a body it accepts.
func hostileRoutes(e *env) map[string]hostiletest.Route {
	return hostiletest.APIRoutes(apiKey, e.token("alice"))
}

// TestHostileRequests sends every route of a fully wired Server malformed,
// truncated, oversized, deeply nested, length-lying and mistyped requests
// over raw TCP. Each must get its documented status with a JSON error (or,
// where the input is merely odd, a normal answer), never a 5xx, and the
// process must not allocate beyond a small bound while answering: a server
// that read a whole oversized body before refusing it would show here.
func TestHostileRequests(t *testing.T) {
	e := hostileEnv(t)
	routes := hostileRoutes(e)
	for _, pattern := range e.srv.Routes() {
		if _, ok := routes[pattern]; !ok {
			t.Errorf("route %s is mounted but has no hostile cases: add it to hostileRoutes", pattern)
		}
	}
	for name := range routes {
		if !slices.Contains(e.srv.Routes(), name) && !strings.HasPrefix(name, "(") {
			t.Errorf("hostileRoutes names %s, which is not mounted", name)
		}
	}
	addr := strings.TrimPrefix(e.url, "http://")
	var largest struct {
		alloc uint64
		what  string
	}
	defer func() { t.Logf("largest allocation answering a case: %d KiB (%s)", largest.alloc>>10, largest.what) }()
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		rt := routes[name]
		for _, c := range hostiletest.Cases(rt) {
			var resp hostiletest.Response
			var err error
			alloc := hostiletest.Allocated(func() { resp, err = hostiletest.Send(addr, rt, c, 20*time.Second) })
			if err == nil {
				err = c.Check(rt, resp)
			}
			if err != nil {
				t.Errorf("%s: %s: %v", name, c.Name, err)
			}
			if alloc > largest.alloc && !strings.Contains(name, "login") {
				largest.alloc, largest.what = alloc, name+": "+c.Name
			}
			if alloc > hostiletest.Bound(rt) {
				t.Errorf("%s: %s: the process allocated %d KiB answering it (bound %d KiB)", name, c.Name, alloc>>10, hostiletest.Bound(rt)>>10)
			}
		}
	}
}
