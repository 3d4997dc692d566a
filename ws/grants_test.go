package ws_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/ws"
)

// deliverTo sends a channel message and returns how many connections took it.
func deliverTo(e *env, channel, payload string) int {
	return e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: channel}, Payload: []byte(payload)})
}

// TestRefreshRechecksGrants: a private: subscription that the token's
// channels claim allowed ends when an in-band refresh brings a token without
// the grant; the client is told with unsubscribed and a reason, and
// subscriptions the new token still allows stay.
func TestRefreshRechecksGrants(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	cl, err := e.dialURL(e.urlFor("alice", e.token("alice", "private:team", "private:ops")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	for _, ch := range []string{"private:team", "private:ops", "news", "user:alice"} {
		cl.send(map[string]any{"type": "subscribe", "channel": ch})
		cl.readType("subscribed")
	}
	if n := deliverTo(e, "private:team", `{"type":"secret","n":1}`); n != 1 {
		t.Fatalf("delivered to %d", n)
	}
	cl.readType("secret")

	cl.send(map[string]any{"type": "auth", "token": e.token("alice", "private:ops")})
	if m := cl.read(); m["type"] != "authenticated" {
		t.Fatalf("refresh answered %v", m)
	}
	m := cl.read()
	if m["type"] != "unsubscribed" || m["channel"] != "private:team" || m["reason"] != ws.ReasonGrantRevoked || m["timestamp"] == nil {
		t.Fatalf("after the refresh: %v, want unsubscribed from private:team with reason %s", m, ws.ReasonGrantRevoked)
	}
	if n := deliverTo(e, "private:team", `{"type":"secret","n":2}`); n != 0 {
		t.Errorf("a revoked grant still receives: delivered to %d", n)
	}
	for _, ch := range []string{"private:ops", "news", "user:alice"} {
		if n := deliverTo(e, ch, `{"type":"still","channel":"`+ch+`"}`); n != 1 {
			t.Errorf("%s: delivered to %d, want the subscription kept", ch, n)
		}
		if m := cl.readType("still"); m["channel"] != ch {
			t.Errorf("got %v", m)
		}
	}
	cl.send(map[string]any{"type": "subscribe", "channel": "private:team"})
	if m := cl.read(); m["type"] != "error" || m["code"] != "forbidden" {
		t.Errorf("subscribing again with the new token: %v", m)
	}
}

// TestGrantsLapseAtExp: at the granting token's exp the subscriptions only
// its channels claim allowed end (reason token_expired), though the
// connection lives on through the grace period; a refresh does not bring them
// back by itself, a new subscribe with the new token does.
func TestGrantsLapseAtExp(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.ExpiryGrace = time.Minute })
	short, err := jwt.NewIssuer(jwt.Config{Secret: secret}).Issue("alice", 2*time.Second, []string{"private:team"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := e.dialURL(e.urlFor("alice", short), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	for _, ch := range []string{"private:team", "news"} {
		cl.send(map[string]any{"type": "subscribe", "channel": ch})
		cl.readType("subscribed")
	}
	m, err := cl.tryRead(5 * time.Second)
	if err != nil {
		t.Fatalf("no message at exp: %v", err)
	}
	if m["type"] != "unsubscribed" || m["channel"] != "private:team" || m["reason"] != ws.ReasonTokenExpired {
		t.Fatalf("at exp: %v, want unsubscribed from private:team with reason %s", m, ws.ReasonTokenExpired)
	}
	if n := deliverTo(e, "private:team", `{"type":"secret"}`); n != 0 {
		t.Errorf("an expired grant still receives: delivered to %d", n)
	}
	// Within the grace: the connection works, plain channels stay, the
	// grant cannot be used again.
	if n := deliverTo(e, "news", `{"type":"story"}`); n != 1 {
		t.Errorf("news: delivered to %d", n)
	}
	cl.readType("story")
	cl.send(map[string]any{"type": "subscribe", "channel": "private:team"})
	if m := cl.read(); m["type"] != "error" || m["code"] != "forbidden" {
		t.Errorf("subscribing with an expired grant: %v", m)
	}
	cl.send(map[string]any{"type": "auth", "token": e.token("alice", "private:team")})
	cl.readType("authenticated")
	if n := deliverTo(e, "private:team", `{"type":"secret"}`); n != 0 {
		t.Errorf("a refresh brought a lapsed subscription back by itself: delivered to %d", n)
	}
	cl.send(map[string]any{"type": "subscribe", "channel": "private:team"})
	cl.readType("subscribed")
	if n := deliverTo(e, "private:team", `{"type":"secret"}`); n != 1 {
		t.Errorf("after subscribing again: delivered to %d", n)
	}
	cl.readType("secret")
}

// TestStrictGrantsFollowTheToken: in strict mode a namespaced channel the
// channels claim granted goes the same way, while public ones stay.
func TestStrictGrantsFollowTheToken(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		c.Channels = ws.ChannelPolicy{Strict: true, Public: []string{"news:*"}}
	})
	cl, err := e.dialURL(e.urlFor("alice", e.token("alice", "team:*")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	for _, ch := range []string{"team:7", "news:eu"} {
		cl.send(map[string]any{"type": "subscribe", "channel": ch})
		cl.readType("subscribed")
	}
	cl.send(map[string]any{"type": "auth", "token": e.token("alice")})
	cl.readType("authenticated")
	if m := cl.read(); m["type"] != "unsubscribed" || m["channel"] != "team:7" || m["reason"] != ws.ReasonGrantRevoked {
		t.Fatalf("got %v", m)
	}
	if n := deliverTo(e, "news:eu", `{"type":"story"}`); n != 1 {
		t.Errorf("a public channel was dropped: delivered to %d", n)
	}
}
