package ws_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/webhook"
	"github.com/heraldhq/herald/ws"
)

// backend is the application's endpoint for client events: it checks the
// signature as a real receiver would and records what it accepted.
type backend struct {
	mu     sync.Mutex
	got    []herald.ClientEvent
	status int
	srv    *httptest.Server
}

func newBackend(t *testing.T) *backend {
	b := &backend{status: http.StatusAccepted}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte("hook-secret"), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("backend: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev herald.ClientEvent
		json.Unmarshal(body, &ev)
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.status/100 == 2 {
			b.got = append(b.got, ev)
		}
		w.WriteHeader(b.status)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func TestClientEvents(t *testing.T) {
	b := newBackend(t)
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		c.ClientEvents = webhook.New(webhook.Config{URL: b.srv.URL, Secret: []byte("hook-secret")})
		c.ClientEventTypes = []string{"custom_event"}
		c.MaxClientEventBytes = 256
		c.ClientEventRate = 2
	})
	alice, _ := e.connect("alice")
	bob, _ := e.connect("bob")

	alice.send(map[string]any{"type": "custom_event", "ref": "r1", "payload": map[string]any{"eventType": "trip_started", "tripId": "123", "userId": "forged"}})
	ack := alice.read()
	if ack["type"] != "ack" || ack["ref"] != "r1" || ack["id"] == "" {
		t.Fatalf("got %v, want an ack", ack)
	}
	b.mu.Lock()
	got := b.got
	b.mu.Unlock()
	if len(got) != 1 || got[0].UserID != "alice" || got[0].EventType != "trip_started" || got[0].ID != ack["id"] {
		t.Fatalf("backend got %+v", got)
	}

	cases := []struct {
		name string
		msg  map[string]any
		code string
	}{
		{"type not allowed", map[string]any{"type": "notification", "payload": map[string]any{"title": "x"}}, "forbidden"},
		{"no eventType", map[string]any{"type": "custom_event", "payload": map[string]any{"x": 1}}, "invalid"},
		{"payload not an object", map[string]any{"type": "custom_event", "payload": []int{1}}, "invalid"},
		{"oversized", map[string]any{"type": "custom_event", "payload": map[string]any{"eventType": "x", "pad": strings.Repeat("x", 300)}}, "too_large"},
	}
	for _, tc := range cases {
		tc.msg["ref"] = tc.name
		bob.send(tc.msg)
		if m := bob.read(); m["type"] != "error" || m["code"] != tc.code || m["ref"] != tc.name {
			t.Errorf("%s: got %v, want error %s", tc.name, m, tc.code)
		}
	}
	// Flood: past the event rate, refusals come back as rate_limited.
	carol, _ := e.connect("carol")
	limited := false
	for range 8 {
		carol.send(map[string]any{"type": "custom_event", "payload": map[string]any{"eventType": "x"}})
		if m := carol.read(); m["code"] == "rate_limited" {
			limited = true
		}
	}
	if !limited {
		t.Error("a flood of client events was never rate limited")
	}
	// Backend down: the client is told, and may retry.
	b.mu.Lock()
	b.status = http.StatusServiceUnavailable
	b.mu.Unlock()
	dave, _ := e.connect("dave")
	dave.send(map[string]any{"type": "custom_event", "payload": map[string]any{"eventType": "x"}})
	if m := dave.read(); m["type"] != "error" || m["code"] != "unavailable" {
		t.Errorf("backend down: got %v", m)
	}
	// Nothing a client sends reaches other users.
	if _, err := bob.tryRead(100 * time.Millisecond); err == nil {
		t.Error("another user received something")
	}
}

func TestClientEventsOffByDefault(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	cl, _ := e.connect("alice")
	cl.send(map[string]any{"type": "custom_event", "payload": map[string]any{"eventType": "x"}})
	if m := cl.read(); m["message"] != "Unknown message type" {
		t.Fatalf("got %v: without a sink the document's answer is expected", m)
	}
}
