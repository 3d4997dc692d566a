package ws

import (
	"net"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
)

// TestTerminatedConnIsNeverPolled: a connection terminated before its reader
// starts (a heartbeat or shutdown racing the handshake) is not registered
// with the poller, whose entry would then name a closed — and maybe reused —
// descriptor.
func TestTerminatedConnIsNeverPolled(t *testing.T) {
	srv := New(Config{Hub: hub.New(hub.Config{})})
	if srv.poll == nil {
		t.Skip("no poller on this platform")
	}
	defer srv.poll.stop()
	defer srv.writers.stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(srv, server, &herald.Claims{UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
	if err := srv.track(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.toLocked(stClosing) // what terminate does first
	c.mu.Unlock()
	if c.pollLive() {
		t.Fatal("a closing connection was handed to the poller")
	}
	srv.poll.mu.Lock()
	n := len(srv.poll.conns)
	srv.poll.mu.Unlock()
	if n != 0 {
		t.Fatalf("poller holds %d connections", n)
	}
	srv.teardown(c, server, net.ErrClosed)
	if srv.cfg.Hub.Stats().TotalConnections != 0 {
		t.Fatal("teardown left the session in the hub")
	}
}
