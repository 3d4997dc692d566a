package client_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

const (
	login   = "POST /auth/login"
	refresh = "POST /auth/refresh"
)

// TestLoginTokenSourceCaching: the access token is cached for 12 of its 15
// minutes and the refresh token for 6.5 of its 7 days; an expired access
// token is replaced by a refresh, an expired refresh token by a login.
func TestLoginTokenSourceCaching(t *testing.T) {
	h := startHerald(t, nil)
	h.addUser("backend", "svc-1", "correct horse battery")
	ct, hc := newCounting(t)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cache := &client.MemoryCache{Now: clock}
	src, err := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend",
		Password: "correct horse battery", Cache: cache, HTTPClient: hc, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.UserID != "svc-1" || tok.ExpiresAt.Sub(now) != 15*time.Minute-time.Second {
		t.Errorf("token for %q expiring in %v, want svc-1 and 15m less the second JWT rounding may take", tok.UserID, tok.ExpiresAt.Sub(now))
	}
	if ct.count(login) != 1 {
		t.Fatalf("%d logins, want 1", ct.count(login))
	}
	// The access token authorises the server API and /ws.
	api, _ := client.NewAPI(client.APIConfig{URL: h.httpURL(), Auth: src, HTTPClient: hc})
	if _, err := api.Stats(ctx); err != nil {
		t.Errorf("Stats with the access token: %v", err)
	}

	advance(12*time.Minute - time.Second)
	again, _ := src.Token(ctx)
	if again.Value != tok.Value || ct.count(login)+ct.count(refresh) != 1 {
		t.Errorf("at 11m59s the token was not served from the cache")
	}
	advance(time.Second)
	fresh, err := src.Token(ctx)
	if err != nil || fresh.Value == tok.Value {
		t.Fatalf("at 12m: %v, same token %v; want a fresh one", err, fresh.Value == tok.Value)
	}
	if ct.count(refresh) != 1 || ct.count(login) != 1 {
		t.Errorf("at 12m: %d refreshes and %d logins, want a refresh only", ct.count(refresh), ct.count(login))
	}

	// 6.5 days after the last refresh, the refresh token is gone from the
	// cache too: the next token comes from a login.
	advance(156*time.Hour - time.Minute)
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if ct.count(refresh) != 2 || ct.count(login) != 1 {
		t.Errorf("before 6.5 days: %d refreshes and %d logins, want 2 and 1", ct.count(refresh), ct.count(login))
	}
	advance(156 * time.Hour)
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if ct.count(login) != 2 {
		t.Errorf("after 6.5 days: %d logins, want 2", ct.count(login))
	}

	// Margins as durations.
	src2, _ := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend", Password: "correct horse battery",
		Cache: &client.MemoryCache{Now: clock}, HTTPClient: hc, Now: clock, AccessLifetime: client.Lifetime{Margin: time.Minute}})
	first, _ := src2.Token(ctx)
	advance(14*time.Minute - time.Second)
	if t2, _ := src2.Token(ctx); t2.Value != first.Value {
		t.Error("with a 1m margin the token was not cached for 14m")
	}

	// Wrong credentials are an authentication failure.
	bad, _ := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend", Password: "wrong password", HTTPClient: hc})
	if _, err := bad.Token(ctx); !client.IsAuthentication(err) {
		t.Errorf("Token with a wrong password = %v, want authentication_failed", err)
	}
}

// TestLoginTokenSourceSingleFlight: concurrent callers share one login and
// then one refresh.
func TestLoginTokenSourceSingleFlight(t *testing.T) {
	h := startHerald(t, nil)
	h.addUser("backend", "svc-1", "correct horse battery")
	ct, hc := newCounting(t)
	src, _ := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend", Password: "correct horse battery", HTTPClient: hc})
	ctx := ctxT(t, 30*time.Second)
	tokens := concurrently(t, 20, func() (client.Token, error) { return src.Token(ctx) })
	if ct.count(login) != 1 || len(tokens) != 1 {
		t.Fatalf("20 concurrent callers: %d logins and %d distinct tokens, want 1 and 1", ct.count(login), len(tokens))
	}
	for v := range tokens {
		if err := src.Invalidate(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	tokens = concurrently(t, 20, func() (client.Token, error) { return src.Token(ctx) })
	if ct.count(refresh) != 1 || ct.count(login) != 1 || len(tokens) != 1 {
		t.Errorf("after Invalidate: %d refreshes, %d logins, %d tokens; want 1, 1, 1", ct.count(refresh), ct.count(login), len(tokens))
	}
	// Invalidating a token that is no longer the cached one changes nothing.
	if err := src.Invalidate(ctx, "stale"); err != nil {
		t.Fatal(err)
	}
	concurrently(t, 5, func() (client.Token, error) { return src.Token(ctx) })
	if ct.count(refresh) != 1 {
		t.Errorf("a stale Invalidate caused a refresh")
	}
}

// concurrently runs f from n goroutines and returns the distinct token
// values they got.
func concurrently(t *testing.T, n int, f func() (client.Token, error)) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	out := map[string]bool{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := f()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			out[tok.Value] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// TestLoginTokenSourceRecovers: when the server revokes the session (the
// account was disabled, then enabled again), a request refused with 401
// invalidates the cached token, the refresh is refused too, and the source
// logs in again: the caller sees one successful call.
func TestLoginTokenSourceRecovers(t *testing.T) {
	h := startHerald(t, nil)
	h.addUser("backend", "svc-1", "correct horse battery")
	ct, hc := newCounting(t)
	src, _ := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend", Password: "correct horse battery", HTTPClient: hc})
	api, _ := client.NewAPI(client.APIConfig{URL: h.httpURL(), Auth: src, HTTPClient: hc})
	ctx := ctxT(t, 30*time.Second)
	if _, err := api.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	h.herald(nil, "user", "disable", "backend")
	h.herald(nil, "user", "enable", "backend")
	if _, err := api.Stats(ctx); err != nil {
		t.Fatalf("Stats after the session was revoked: %v", err)
	}
	if ct.count(login) != 2 || ct.count(refresh) != 1 || ct.count("GET /api/stats") != 3 {
		t.Errorf("logins %d, refreshes %d, stats calls %d; want 2, 1 (refused), 3 (one refused)",
			ct.count(login), ct.count(refresh), ct.count("GET /api/stats"))
	}
}

// TestRedisSharedByTwoInstances: two backend instances, each with its own
// SDK client and LoginTokenSource, share their tokens through Redis: one
// login between them, one refresh when the token is refused, though both
// ask at once (two refreshes with one refresh token would have the server
// revoke the session).
func TestRedisSharedByTwoInstances(t *testing.T) {
	h := startHerald(t, nil)
	h.addUser("backend", "svc-1", "correct horse battery")
	caches := redisCaches(t, 2)
	cts := make([]*countingTransport, 2)
	srcs := make([]*client.LoginTokenSource, 2)
	for i := range srcs {
		var hc *http.Client
		cts[i], hc = newCounting(t)
		srcs[i], _ = client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend",
			Password: "correct horse battery", Cache: caches[i], HTTPClient: hc})
	}
	logins := func() int { return cts[0].count(login) + cts[1].count(login) }
	refreshes := func() int { return cts[0].count(refresh) + cts[1].count(refresh) }

	ctx := ctxT(t, 30*time.Second)
	var clients []*client.Client
	var recs []*recorder
	for i := range srcs {
		c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: srcs[i]})
		if err := c.ConnectWithRetry(ctx); err != nil {
			t.Fatal(err)
		}
		clients, recs = append(clients, c), append(recs, rec)
	}
	if logins() != 1 {
		t.Errorf("two instances logged in %d times, want once", logins())
	}
	a, _ := srcs[0].Token(ctx)
	b, _ := srcs[1].Token(ctx)
	if a.Value != b.Value {
		t.Error("the instances hold different access tokens")
	}

	// Both are told the token was refused, and both ask at once.
	srcs[0].Invalidate(ctx, a.Value)
	var wg sync.WaitGroup
	got := make([]client.Token, 2)
	for i := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if got[i], err = srcs[i].Token(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if refreshes() != 1 || logins() != 1 || got[0].Value != got[1].Value || got[0].Value == a.Value {
		t.Errorf("after the refusal: %d refreshes, %d logins, same token %v; want one refresh shared",
			refreshes(), logins(), got[0].Value == got[1].Value)
	}

	// The sockets opened with the first token still work.
	h.notify("svc-1", "to both")
	for i, rec := range recs {
		rec.until(t, 10*time.Second, "the notification on instance "+string(rune('A'+i)), func(r *recorder) bool { return len(r.messages) == 1 })
	}
	_ = clients
}

// TestConnectionTokenSource mints connection tokens for an end user with
// the API key or with a login's access token, and connects with them.
func TestConnectionTokenSource(t *testing.T) {
	h := startHerald(t, nil)
	h.addUser("backend", "svc-1", "correct horse battery")
	ct, hc := newCounting(t)
	login, _ := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend", Password: "correct horse battery", HTTPClient: hc})
	ctx := ctxT(t, 30*time.Second)
	for name, auth := range map[string]client.TokenSource{"api key": client.StaticToken(testAPIKey), "access token": login} {
		src, err := client.NewConnectionTokenSource(client.ConnectionConfig{URL: h.httpURL(), UserID: "enduser", Auth: auth,
			TTL: 10 * time.Minute, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		before := ct.count("POST /api/tokens")
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tok.UserID != "enduser" || tok.ExpiresAt.Before(time.Now().Add(9*time.Minute)) {
			t.Errorf("%s: token %+v, want enduser for 10m", name, tok)
		}
		if again, _ := src.Token(ctx); again.Value != tok.Value || ct.count("POST /api/tokens") != before+1 {
			t.Errorf("%s: the token was not cached", name)
		}
		c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: src})
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("%s: connecting with a minted token: %v", name, err)
		}
		h.notify("enduser", name)
		rec.until(t, 10*time.Second, "the notification", func(r *recorder) bool { return len(r.messages) == 1 })
		c.Disconnect()
		src.Invalidate(ctx, tok.Value)
		if next, _ := src.Token(ctx); next.Value == tok.Value {
			t.Errorf("%s: Invalidate kept the token", name)
		}
	}
}

// TestLoginTokensOnSocket: a client whose tokens come from a login, with
// access tokens of 3 seconds, stays connected across their expiry: the
// token source refreshes with its refresh token, and the client hands each
// new access token to the server in-band.
func TestLoginTokensOnSocket(t *testing.T) {
	h := startHerald(t, map[string]string{"ACCESS_TOKEN_TTL": "3s", "WS_TOKEN_EXPIRY_GRACE": "200ms", "JWT_LEEWAY": "0s"})
	h.addUser("backend", "svc-2", "correct horse battery")
	ct, hc := newCounting(t)
	src, _ := client.NewLoginTokenSource(client.LoginConfig{URL: h.httpURL(), Username: "backend", Password: "correct horse battery", HTTPClient: hc})
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: src})
	if err := c.ConnectWithRetry(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(7 * time.Second)
	h.notify("svc-2", "still connected")
	rec.until(t, 10*time.Second, "the notification", func(r *recorder) bool { return len(r.messages) == 1 })
	rec.get(func(r *recorder) {
		if r.connected != 1 || len(r.disconnected) != 0 {
			t.Errorf("connected %d times, disconnected %v; want one connection throughout", r.connected, r.disconnected)
		}
	})
	if ct.count(login) != 1 || ct.count(refresh) < 2 {
		t.Errorf("%d logins and %d refreshes in 7s of 3s tokens, want 1 and at least 2", ct.count(login), ct.count(refresh))
	}
}
