package ws_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/ws"
)

func TestFirstMessageAuth(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.AuthTimeout = 300 * time.Millisecond; c.DisableQueryToken = true })
	t.Run("token in the first message", func(t *testing.T) {
		cl, err := e.dialURL(e.url, nil) // no token anywhere in the URL
		if err != nil {
			t.Fatal(err)
		}
		cl.send(map[string]any{"type": "auth", "token": e.token("alice")})
		if m := cl.read(); m["type"] != "connected" || m["userId"] != "alice" {
			t.Fatalf("got %v", m)
		}
	})
	cases := map[string]func(*client){
		"silence":          func(*client) {},
		"another message":  func(c *client) { c.send(map[string]any{"type": "ping"}) },
		"bad token":        func(c *client) { c.send(map[string]any{"type": "auth", "token": "nope"}) },
		"token not string": func(c *client) { c.send(map[string]any{"type": "auth", "token": 5}) },
	}
	want := map[string]websocket.StatusCode{"silence": 4001, "another message": 4001, "bad token": 4002, "token not string": 4001}
	for name, act := range cases {
		t.Run(name, func(t *testing.T) {
			cl, err := e.dialURL(e.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			act(cl)
			if code, _ := cl.closeCode(); code != want[name] {
				t.Errorf("close %d, want %d", code, want[name])
			}
		})
	}
	t.Run("userId without token is the document's missing credentials", func(t *testing.T) {
		patient := newEnv(t, hub.Config{}, func(c *ws.Config) { c.AuthTimeout = time.Hour })
		cl, _ := patient.dialURL(patient.url+"?userId=alice", nil)
		if code, _ := cl.closeCode(); code != 4001 { // closeCode gives up after 5s
			t.Errorf("close %d, want 4001 without waiting for an auth message", code)
		}
	})
	t.Run("query token refused in strict mode", func(t *testing.T) {
		cl, _ := e.dialURL(e.urlFor("alice", e.token("alice")), nil)
		if code, _ := cl.closeCode(); code != 4001 {
			t.Errorf("close %d, want 4001", code)
		}
	})
}

func shortToken(t *testing.T, user string, ttl time.Duration) string {
	t.Helper()
	tok, err := jwt.NewIssuer(jwt.Config{Secret: secret}).Issue(user, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenExpiryCloses4002(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.ExpiryGrace = time.Millisecond })
	cl, err := e.dialURL(e.urlFor("alice", shortToken(t, "alice", time.Second)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	if code, reason := cl.closeCode(); code != 4002 || reason != "Invalid or expired token" {
		t.Fatalf("close %d %q, want 4002", code, reason)
	}
}

func TestInBandRefreshKeepsConnectionOpen(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.ExpiryGrace = time.Millisecond })
	cl, err := e.dialURL(e.urlFor("alice", shortToken(t, "alice", time.Second)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	cl.send(map[string]any{"type": "auth", "token": shortToken(t, "alice", time.Minute)})
	if m := cl.read(); m["type"] != "authenticated" || m["expiresAt"] == nil {
		t.Fatalf("refresh answered %v", m)
	}
	// Past the first token's exp the connection still works.
	time.Sleep(1500 * time.Millisecond)
	cl.send(map[string]any{"type": "ping"})
	if m := cl.read(); m["type"] != "pong" {
		t.Fatalf("got %v", m)
	}
	// Another user's token is refused without closing.
	cl.send(map[string]any{"type": "auth", "token": e.token("mallory")})
	if m := cl.read(); m["code"] != "user_mismatch" {
		t.Fatalf("got %v", m)
	}
	cl.send(map[string]any{"type": "auth", "token": "garbage"})
	if m := cl.read(); m["code"] != "invalid_token" {
		t.Fatalf("got %v", m)
	}
}

func TestCloseOrder(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	a1, _ := e.connect("alice")
	a2, _ := e.connect("alice")
	b, _ := e.connect("bob")
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Close: herald.CloseInvalidToken, Payload: []byte("Token revoked")})
	for _, c := range []*client{a1, a2} {
		if code, reason := c.closeCode(); code != 4002 || reason != "Token revoked" {
			t.Errorf("close %d %q", code, reason)
		}
	}
	b.send(map[string]any{"type": "ping"})
	b.readType("pong")
}

func TestConnectFlood(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.ConnectRate = 1; c.ConnectBurst = 3 })
	refused := 0
	for range 6 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, e.urlFor("alice", e.token("alice")), nil)
		cancel()
		if err == nil {
			c.CloseNow()
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("refused with %v, want 429", err)
		}
		refused++
	}
	if refused < 2 {
		t.Errorf("%d of 6 rapid attempts refused, want at least 2", refused)
	}
}

func TestStrictChannels(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		c.Channels = ws.ChannelPolicy{Strict: true, Public: []string{"news:*", "notifications"}}
	})
	tok := e.token("alice", "team:7", "private:x")
	cl, err := e.dialURL(e.urlFor("alice", tok), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	for ch, want := range map[string]string{
		"notifications": "subscribed", "news:eu": "subscribed", "team:7": "subscribed", "private:x": "subscribed",
		"user:alice": "subscribed", "USER:alice": "subscribed", "chat": "error", "team:8": "error", "USER:bob": "error",
	} {
		cl.send(map[string]any{"type": "subscribe", "channel": ch})
		if m := cl.read(); m["type"] != want {
			t.Errorf("%s → %v, want %s", ch, m, want)
		}
	}
}
