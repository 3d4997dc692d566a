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
		c.Preferences, c.Deliveries, c.VAPIDPublicKey = st, st, "BPublicKey"
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
	key := "Bearer " + apiKey
	user := "Bearer " + e.token("alice")
	small, batch, authLimit := int64(heraldhttp.DefaultMaxBodyBytes), int64(heraldhttp.DefaultMaxBatchBodyBytes), int64(16<<10)
	sub := `{"endpoint":"https://push.example/send/h","keys":{"p256dh":"B` + strings.Repeat("A", 86) + `","auth":"` + strings.Repeat("Q", 22) + `"}}`
	r := func(method, path, auth, body string, limit int64) hostiletest.Route {
		return hostiletest.Route{Method: method, Path: path, Auth: auth, Body: body, Limit: limit}
	}
	opaque := func(rt hostiletest.Route) hostiletest.Route { rt.Opaque = true; return rt }
	optional := func(rt hostiletest.Route) hostiletest.Route { rt.OptionalBody = true; return rt }
	return map[string]hostiletest.Route{
		"GET /healthz":                              r("GET", "/healthz", "", "", small),
		"GET /readyz":                               r("GET", "/readyz", "", "", small),
		"GET /metrics":                              r("GET", "/metrics", key, "", small),
		"POST /api/users/{userId}/messages":         opaque(r("POST", "/api/users/alice/messages", key, `{"type":"x","n":1}`, small)),
		"POST /api/channels/{channel}/messages":     opaque(r("POST", "/api/channels/news/messages", key, `{"type":"x","n":1}`, small)),
		"POST /api/broadcast":                       opaque(r("POST", "/api/broadcast", key, `{"type":"x","n":1}`, small)),
		"GET /api/users/{userId}/presence":          r("GET", "/api/users/alice/presence", key, "", small),
		"GET /api/stats":                            r("GET", "/api/stats", key, "", small),
		"POST /api/notifications":                   r("POST", "/api/notifications", key, `{"userId":"alice","type":"t","title":"T","message":"m"}`, batch),
		"POST /api/events":                          r("POST", "/api/events", key, `{"event":"booking:confirmed","data":{"userId":"alice"}}`, small),
		"POST /api/tokens":                          r("POST", "/api/tokens", key, `{"userId":"alice","ttl":"5m"}`, small),
		"POST /auth/login":                          r("POST", "/auth/login", "", `{"username":"backend","password":"correct horse battery"}`, authLimit),
		"POST /auth/refresh":                        r("POST", "/auth/refresh", "", `{"refreshToken":"not.a.token"}`, authLimit),
		"POST /auth/logout":                         optional(r("POST", "/auth/logout", "", `{"refreshToken":"not.a.token"}`, authLimit)),
		"GET /api/notifications":                    r("GET", "/api/notifications?limit=5", user, "", small),
		"GET /api/notifications/unread-count":       r("GET", "/api/notifications/unread-count", user, "", small),
		"POST /api/notifications/read-all":          r("POST", "/api/notifications/read-all", user, "", small),
		"POST /api/notifications/{id}/read":         r("POST", "/api/notifications/n1/read", user, "", small),
		"DELETE /api/notifications/{id}":            r("DELETE", "/api/notifications/n1", user, "", small),
		"GET /api/users/{userId}/preferences":       r("GET", "/api/users/alice/preferences", key, "", small),
		"PUT /api/users/{userId}/preferences":       r("PUT", "/api/users/alice/preferences", key, `{"timeZone":"UTC","email":"a@example.com"}`, small),
		"PATCH /api/users/{userId}/preferences":     r("PATCH", "/api/users/alice/preferences", key, `{"email":"a@example.com"}`, small),
		"GET /api/preferences":                      r("GET", "/api/preferences", user, "", small),
		"PUT /api/preferences":                      r("PUT", "/api/preferences", user, `{"timeZone":"UTC","email":"a@example.com"}`, small),
		"PATCH /api/preferences":                    r("PATCH", "/api/preferences", user, `{"email":"a@example.com"}`, small),
		"GET /api/push/key":                         r("GET", "/api/push/key", user, "", small),
		"GET /api/push/subscriptions":               r("GET", "/api/push/subscriptions", user, "", small),
		"POST /api/push/subscriptions":              r("POST", "/api/push/subscriptions", user, sub, small),
		"DELETE /api/push/subscriptions/{id}":       r("DELETE", "/api/push/subscriptions/x1", user, "", small),
		"GET /api/users/{userId}/deliveries":        r("GET", "/api/users/alice/deliveries", key, "", small),
		"GET /api/deliveries":                       r("GET", "/api/deliveries", user, "", small),
		"GET /api/notifications/{id}/deliveries":    r("GET", "/api/notifications/n1/deliveries", user, "", small),
		"unknown API path (no route, 404 handler)":  r("POST", "/api/nope", key, "", small),
		"a path outside the API (mounted handlers)": r("PUT", "/somewhere", "", "", small),
	}
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
		if !slices.Contains(e.srv.Routes(), name) && !strings.Contains(name, " (") {
			t.Errorf("hostileRoutes names %s, which is not mounted", name)
		}
	}
	addr := strings.TrimPrefix(e.url, "http://")
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		rt := routes[name]
		for _, c := range hostiletest.Cases(rt) {
			var resp hostiletest.Response
			var err error
			alloc := hostiletest.Allocated(func() { resp, err = hostiletest.Send(addr, rt, c, 20*time.Second) })
			if err == nil {
				err = c.Check(resp)
			}
			if err != nil {
				t.Errorf("%s: %s: %v", name, c.Name, err)
			}
			if alloc > hostiletest.Bound(rt) {
				t.Errorf("%s: %s: the process allocated %d KiB answering it (bound %d KiB)", name, c.Name, alloc>>10, hostiletest.Bound(rt)>>10)
			}
		}
	}
}
