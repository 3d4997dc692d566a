package ws

import (
	"net"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
)

// TestLifecycleForwardOnly: the state only moves forward, one step or more,
// and never re-enters the state it is in.
func TestLifecycleForwardOnly(t *testing.T) {
	srv := New(Config{Hub: hub.New(hub.Config{}), NoPoller: true})
	defer srv.writers.stop()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newConn(srv, a, &herald.Claims{UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, step := range []struct {
		to   state
		want bool
	}{{stLive, true}, {stLive, false}, {stHandshake, false}, {stClosing, true}, {stLive, false}, {stClosed, true}, {stClosing, false}} {
		if got := c.toLocked(step.to); got != step.want {
			t.Fatalf("to %v from %v = %v, want %v", step.to, c.state, got, step.want)
		}
	}
	if !c.sess.Closed() {
		t.Fatal("session not told the connection is closing")
	}
}
