package http_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/jwt"
)

// backendRoutes are every route that takes the API key.
var backendRoutes = []struct{ method, path, body string }{
	{"POST", "/api/users/alice/messages", `{}`},
	{"POST", "/api/channels/news/messages", `{}`},
	{"POST", "/api/broadcast", `{}`},
	{"GET", "/api/stats", ``},
	{"POST", "/api/notifications", `{"userId":"u","type":"t","title":"T"}`},
	{"POST", "/api/events", `{"event":"booking:confirmed","data":{"userId":"u"}}`},
}

// userRoutes are every route that takes a user's token.
var userRoutes = []struct{ method, path string }{
	{"GET", "/api/notifications"},
	{"GET", "/api/notifications/unread-count"},
	{"POST", "/api/notifications/read-all"},
	{"POST", "/api/notifications/n1/read"},
	{"DELETE", "/api/notifications/n1"},
}

func TestAPIKey(t *testing.T) {
	// Many refusals from one address: throttling has its own test.
	e := newEnv(t, func(c *heraldhttp.Config) { c.AuthFailureLimit = 1e6 })
	for _, rt := range backendRoutes {
		send := func(auth string) response {
			return e.do(req{method: rt.method, path: rt.path, auth: auth, body: rt.body})
		}
		r := send("")
		expectError(t, r, 401, herald.ECREDENTIALS)
		if r.header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s %s: WWW-Authenticate = %q", rt.method, rt.path, r.header.Get("WWW-Authenticate"))
		}
		expectError(t, send("Basic "+apiKey), 401, herald.ECREDENTIALS)
		expectError(t, send("Bearer"), 401, herald.ECREDENTIALS)
		expectError(t, send("Bearer "+apiKey+"x"), 401, herald.ETOKEN)
		expectError(t, send("Bearer "+apiKey[:len(apiKey)-1]), 401, herald.ETOKEN)
		// A user's token is not the API key.
		expectError(t, send("Bearer "+e.token("alice")), 401, herald.ETOKEN)
		for _, auth := range []string{"Bearer " + apiKey, "bearer " + apiKey, "BEARER  " + apiKey + " "} {
			if r := send(auth); r.status/100 != 2 {
				t.Errorf("%s %s with %q: %d %s", rt.method, rt.path, auth, r.status, r.body)
			}
		}
	}
	if n := e.pub.count(); n != 9 {
		t.Errorf("%d messages published, want three per message route", n)
	}
}

func TestNoAPIKeyConfigured(t *testing.T) {
	// Without a configured key the server API is closed, not open.
	e := newEnv(t, func(c *heraldhttp.Config) { c.APIKey = ""; c.AuthFailureLimit = 1e6 })
	for _, rt := range backendRoutes {
		for _, auth := range []string{"Bearer " + apiKey, "Bearer x", "Bearer  "} {
			r := e.do(req{method: rt.method, path: rt.path, auth: auth, body: rt.body})
			if r.status != 401 {
				t.Errorf("%s %s with %q: %d, want 401", rt.method, rt.path, auth, r.status)
			}
		}
	}
	if n := e.pub.count(); n != 0 || e.inbox.stored() != 0 {
		t.Errorf("refused requests had effects: %d messages, %d notifications", n, e.inbox.stored())
	}
}

func TestUserToken(t *testing.T) {
	e := newEnv(t, nil)
	seed(t, e, "alice", 1)
	past := jwt.NewIssuer(jwt.Config{Secret: secret, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	expired, err := past.Issue("alice", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := jwt.NewIssuer(jwt.Config{Secret: []byte("another-secret-another-secret!!")}).Issue("alice", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range userRoutes {
		send := func(auth string) response { return e.do(req{method: rt.method, path: rt.path, auth: auth}) }
		r := send("")
		expectError(t, r, 401, herald.ECREDENTIALS)
		if r.header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
		}
		expectError(t, send("Bearer "), 401, herald.ECREDENTIALS)
		for _, tok := range []string{apiKey, expired, forged, "garbage"} {
			r := send("Bearer " + tok)
			msg := expectError(t, r, 401, herald.ETOKEN)
			if strings.Contains(msg, tok) {
				t.Errorf("message %q contains the token", msg)
			}
		}
	}
	if e.inbox.callCount() != 1 {
		t.Errorf("inbox called %d times; refused requests must not reach it", e.inbox.callCount()-1)
	}
	// A verifier answering neither claims nor an error authenticates no one.
	e2 := newEnv(t, func(c *heraldhttp.Config) { c.Verifier = brokenVerifier{} })
	expectError(t, e2.as("alice", "GET", "/api/notifications"), 401, herald.ETOKEN)
}

type brokenVerifier struct{}

func (brokenVerifier) Verify(ctx context.Context, token string) (*herald.Claims, error) {
	return nil, nil // neither claims nor an error: must not authenticate anyone
}

func TestSecretsNotLogged(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("alice")
	e.do(req{method: "GET", path: "/api/notifications?token=" + tok, auth: "Bearer " + tok})
	e.do(req{method: "GET", path: "/api/stats?key=" + apiKey, auth: "Bearer " + apiKey})
	e.do(req{method: "GET", path: "/api/stats", auth: "Bearer wrong-" + apiKey})
	e.logs.waitFor(t, "path=/api/stats status=401")
	logs := e.logs.String()
	for _, secret := range []string{tok, apiKey, "token="} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

// TestAuthFailureThrottle guesses API keys from one address: the first
// AuthFailureLimit wrong keys get 401 and a log line without the key, then
// every attempt, the right key included, gets 429 with Retry-After until
// the allowance refills; another address is not affected, and a backend's
// successful calls spend nothing.
func TestAuthFailureThrottle(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, func(c *heraldhttp.Config) { c.AuthFailureLimit = 3; c.Now = clock })
	stats := func(key string) response {
		return e.do(req{method: "GET", path: "/api/stats", auth: "Bearer " + key})
	}
	for range 20 { // successes spend no allowance
		if r := stats(apiKey); r.status != 200 {
			t.Fatalf("right key: %d %s", r.status, r.body)
		}
	}
	for i := range 3 {
		expectError(t, stats(fmt.Sprintf("guess-%d-%s", i, apiKey)), 401, herald.ETOKEN)
	}
	for _, key := range []string{"guess-3", apiKey} {
		r := stats(key)
		expectError(t, r, 429, herald.ERATELIMIT)
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
			t.Errorf("Retry-After = %q, want the seconds until one more attempt (20)", r.header.Get("Retry-After"))
		}
	}
	// Metrics share the allowance: the same address is refused there too.
	expectError(t, e.do(req{method: "GET", path: "/metrics", auth: "Bearer " + apiKey}), 429, herald.ERATELIMIT)
	// Another address is unaffected.
	if r := e.from("127.0.0.2", req{method: "GET", path: "/api/stats", auth: "Bearer " + apiKey}); r.status != 200 {
		t.Fatalf("right key from another address: %d %s", r.status, r.body)
	}
	mu.Lock()
	now = now.Add(20 * time.Second) // one attempt's worth at 3 a minute
	mu.Unlock()
	expectError(t, stats("guess-4"), 401, herald.ETOKEN)
	expectError(t, stats(apiKey), 429, herald.ERATELIMIT)
	mu.Lock()
	now = now.Add(20 * time.Second)
	mu.Unlock()
	if r := stats(apiKey); r.status != 200 {
		t.Fatalf("right key after the wait: %d %s", r.status, r.body)
	}

	logs := e.logs.String()
	if n := strings.Count(logs, "server API authentication refused"); n != 4 {
		t.Errorf("%d refusals logged, want 4:\n%s", n, logs)
	}
	if !strings.Contains(logs, "throttling the address") || !strings.Contains(logs, "addr=127.0.0.1") {
		t.Errorf("the throttle is not logged with the address:\n%s", logs)
	}
	if strings.Contains(logs, "guess-") || strings.Contains(logs, apiKey) {
		t.Errorf("the log holds a presented key:\n%s", logs)
	}
}
