package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/noupgrade"
)

// TestFallbackToSSE puts a proxy that strips WebSocket upgrades between the
// SDK and a real herald: the client (Transport auto) ends up on SSE by
// itself and keeps the same API: notifications once each, a channel joined
// by a POST, an exact unread count after a mark-read, and a resume after
// the server restarts.
func TestFallbackToSSE(t *testing.T) {
	h := startHerald(t, nil)
	proxy := noupgrade.Start(t, h.httpURL())
	c, r := newClient(t, client.Options{
		URL:            "ws" + strings.TrimPrefix(proxy.URL, "http") + "/ws",
		TokenSource:    client.StaticToken(h.token("alice", time.Hour)),
		InitialBackoff: 50 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
	})
	if err := c.ConnectWithRetry(ctxT(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.Transport() != client.TransportSSE || proxy.Stripped() == 0 {
		t.Fatalf("transport %q after %d stripped upgrades, want sse", c.Transport(), proxy.Stripped())
	}

	n1 := h.notify("alice", "one")
	r.until(t, 10*time.Second, "the first notification", func(r *recorder) bool { return len(r.messages) == 1 })
	if err := c.Subscribe(ctxT(t, 10*time.Second), "room"); err != nil {
		t.Fatalf("subscribe over SSE: %v", err)
	}
	if _, err := h.api().SendToChannel(ctxT(t, 10*time.Second), "room", map[string]any{"type": "room", "text": "hi"}); err != nil {
		t.Fatal(err)
	}
	r.until(t, 10*time.Second, "the channel message", func(r *recorder) bool {
		for _, m := range r.raw {
			if strings.Contains(m, `"text":"hi"`) {
				return true
			}
		}
		return false
	})
	if err := c.MarkRead(ctxT(t, 10*time.Second), n1.ID); err != nil {
		t.Fatal(err)
	}
	waitUnread(t, c, 0)
	h.kill()
	h.restart()
	n2 := h.notify("alice", "two")
	r.until(t, 15*time.Second, "the notification after the restart", func(r *recorder) bool { return len(r.messages) == 2 })
	r.get(func(r *recorder) {
		if r.messages[0].ID != n1.ID || r.messages[1].ID != n2.ID {
			t.Fatalf("messages %v, want %s then %s once each", r.messages, n1.ID, n2.ID)
		}
	})
	waitUnread(t, c, 1)
	if c.Transport() != client.TransportSSE {
		t.Fatalf("transport after the restart %q", c.Transport())
	}
}

// TestTransportWebSocketDoesNotFallBack shows Transport websocket staying on
// the WebSocket behind the same proxy: it fails instead.
func TestTransportWebSocketDoesNotFallBack(t *testing.T) {
	h := startHerald(t, nil)
	proxy := noupgrade.Start(t, h.httpURL())
	c, _ := newClient(t, client.Options{
		URL:         "ws" + strings.TrimPrefix(proxy.URL, "http") + "/ws",
		TokenSource: client.StaticToken(h.token("alice", time.Hour)),
		Transport:   client.TransportWebSocket,
	})
	if err := c.Connect(ctxT(t, 10*time.Second)); err == nil {
		t.Fatalf("connected through a proxy that strips upgrades, on %q", c.Transport())
	}
}

// TestTransportSSE shows Transport sse connecting to /sse directly, with the
// token refused on the stream typed as an authentication failure.
func TestTransportSSE(t *testing.T) {
	h := startHerald(t, nil)
	c, r := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("alice", time.Hour)), Transport: client.TransportSSE})
	if err := c.Connect(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.Transport() != client.TransportSSE {
		t.Fatalf("transport %q", c.Transport())
	}
	h.notify("alice", "x")
	r.until(t, 10*time.Second, "a notification", func(r *recorder) bool { return len(r.messages) == 1 })

	bad, _ := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken("not-a-token"), Transport: client.TransportSSE})
	err := bad.Connect(ctxT(t, 10*time.Second))
	var e *client.Error
	if !asClientError(err, &e) || e.Type != client.ErrAuthentication || e.Status != 401 {
		t.Fatalf("connect with a bad token: %v", err)
	}
}

func waitUnread(t *testing.T, c *client.Client, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if u, ok := c.Unread(); ok && u.Count == want {
			return
		}
		if time.Now().After(deadline) {
			u, ok := c.Unread()
			t.Fatalf("unread %v (known %v), want %d", u, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
