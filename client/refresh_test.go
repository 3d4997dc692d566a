package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// issuingSource is a TokenSource that signs a fresh token of a fixed
// lifetime on every call, as a backend's token endpoint would, and records
// the tokens it gave and the ones it was told the server refused.
type issuingSource struct {
	t      *testing.T
	secret string
	user   string
	ttl    time.Duration

	mu          sync.Mutex
	first       string // when set, handed out once before the good ones
	issued      []string
	invalidated []string
}

func (s *issuingSource) Token(context.Context) (client.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.first
	if v != "" {
		s.first = ""
	} else {
		v = issue(s.t, s.secret, s.user, s.ttl)
	}
	s.issued = append(s.issued, v)
	return client.TokenFromJWT(v), nil
}

func (s *issuingSource) Invalidate(_ context.Context, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, v)
	return nil
}

func (s *issuingSource) counts() (issued int, invalidated []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issued), append([]string(nil), s.invalidated...)
}

// TestInBandRefresh: with 3-second tokens and a server that closes a
// connection 200ms after its token's exp, the client replaces its token on
// the open connection before each expiry, so the connection outlives
// several tokens without a visible disconnect.
func TestInBandRefresh(t *testing.T) {
	h := startHerald(t, map[string]string{"WS_TOKEN_EXPIRY_GRACE": "200ms", "JWT_LEEWAY": "0s"})
	src := &issuingSource{t: t, secret: testSecret, user: "carol", ttl: 3 * time.Second}
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: src})
	if err := c.ConnectWithRetry(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Three token lifetimes.
	time.Sleep(8 * time.Second)
	h.notify("carol", "still here")
	rec.until(t, 10*time.Second, "the notification", func(r *recorder) bool { return len(r.messages) == 1 })

	if n := rec.countRaw("authenticated"); n < 2 {
		t.Errorf("the server accepted %d refreshed tokens in 8s of 3s tokens, want at least 2", n)
	}
	if issued, _ := src.counts(); issued < 3 {
		t.Errorf("%d tokens issued, want at least 3", issued)
	}
	rec.get(func(r *recorder) {
		if len(r.disconnected) != 0 || r.connected != 1 || len(r.reconnecting) != 0 {
			t.Errorf("connected %d times, disconnected %v, reconnecting %v: want one connection throughout",
				r.connected, r.disconnected, r.reconnecting)
		}
		for _, e := range r.errors {
			t.Errorf("error event: %v", e)
		}
	})
	if !c.IsConnected() {
		t.Error("not connected at the end")
	}
}

// TestExpiredTokenReconnectsAtOnce: without in-band refresh the server
// closes the connection with 4002 when the token expires; the client
// invalidates that token, gets a fresh one and reconnects without waiting,
// resuming so that nothing created meanwhile is lost.
func TestExpiredTokenReconnectsAtOnce(t *testing.T) {
	h := startHerald(t, map[string]string{"WS_TOKEN_EXPIRY_GRACE": "100ms", "JWT_LEEWAY": "0s"})
	src := &issuingSource{t: t, secret: testSecret, user: "dave", ttl: 2 * time.Second}
	clock := newManualClock()
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: src, RefreshAt: -1, Clock: clock})
	if err := c.ConnectWithRetry(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	h.notify("dave", "one")
	rec.until(t, 10*time.Second, "the second connection", func(r *recorder) bool { return r.connected == 2 })
	h.notify("dave", "two")
	rec.until(t, 10*time.Second, "both notifications", func(r *recorder) bool { return len(r.messages) == 2 })
	clock.none(t)

	rec.get(func(r *recorder) {
		if len(r.disconnected) != 1 {
			t.Fatalf("disconnected %d times, want 1", len(r.disconnected))
		}
		e, ok := r.disconnected[0].(*client.Error)
		if !ok || e.Type != client.ErrAuthentication || e.CloseCode != 4002 {
			t.Errorf("disconnected with %v, want authentication_failed with close 4002", r.disconnected[0])
		}
		if len(r.reconnecting) != 1 || r.reconnecting[0] != 1 {
			t.Errorf("reconnecting events %v, want [1]", r.reconnecting)
		}
	})
	src.mu.Lock()
	first := src.issued[0]
	src.mu.Unlock()
	if _, inv := src.counts(); len(inv) != 1 || inv[0] != first {
		t.Errorf("invalidated %d tokens, want exactly the expired one", len(inv))
	}
}

// TestRefusedTokenRetriedAtOnce: a token the server refuses at connect
// (4002) is invalidated and Connect retries at once with a fresh one.
func TestRefusedTokenRetriedAtOnce(t *testing.T) {
	for _, mode := range []struct {
		name string
		auth client.AuthMode
	}{{"message", client.AuthMessage}, {"query", client.AuthQuery}, {"header", client.AuthHeader}} {
		t.Run(mode.name, func(t *testing.T) {
			h := startHerald(t, nil)
			bad := issue(t, "another-secret-of-enough-length-0123456789", "erin", time.Hour)
			src := &issuingSource{t: t, secret: testSecret, user: "erin", ttl: time.Hour, first: bad}
			clock := newManualClock()
			c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: src, UserID: "erin", Auth: mode.auth, Clock: clock, RefreshAt: -1})
			if err := c.Connect(ctxT(t, 10*time.Second)); err != nil {
				t.Fatalf("Connect = %v, want success with the second token", err)
			}
			clock.none(t)
			if _, inv := src.counts(); len(inv) != 1 || inv[0] != bad {
				t.Errorf("invalidated %d tokens, want the refused one", len(inv))
			}
			rec.until(t, 5*time.Second, "the error event", func(r *recorder) bool { return len(r.errors) == 1 })
			rec.get(func(r *recorder) {
				e := r.errors[0]
				if e.Type != client.ErrAuthentication || e.CloseCode != 4002 {
					t.Errorf("error event %v, want authentication_failed with close 4002", e)
				}
			})
		})
	}
}
