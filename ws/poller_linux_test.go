package ws

import (
	"net"
	"runtime"
	"strings"
	"syscall"
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
	_, server := tcpPair(t)
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

// goroutineID is the id of the calling goroutine, from its stack header.
func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := strings.Fields(string(buf[:n]))
	return f[1] // "goroutine <id> [running]:"
}

// TestPollerReusesReaders: frames that arrive one after the other, each once
// the previous one was read, are read by a reader goroutine already there,
// not one new goroutine each; and at stop the waiting reader ends. (A frame
// may arrive between the read of the previous one and its reader's return to
// waiting, and then starts a goroutine: the test allows a few.)
func TestPollerReusesReaders(t *testing.T) {
	ids := make(chan string, 1)
	var p *poller
	p, err := newPoller(func(c *conn) {
		var b [1]byte
		if _, err := c.nc.Read(b[:]); err == nil {
			_ = p.rearm(c)
		}
		ids <- goroutineID()
	})
	if err != nil {
		t.Skip("no poller:", err)
	}
	client, server := tcpPair(t)
	before := runtime.NumGoroutine()
	raw, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.add(&conn{nc: server, raw: raw}); err != nil {
		t.Fatal(err)
	}
	const frames = 40
	readers := map[string]bool{}
	for i := range frames {
		if _, err := client.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-ids:
			readers[id] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %d never read", i)
		}
	}
	if len(readers) > frames/8 {
		t.Fatalf("%d frames read on %d goroutines", frames, len(readers))
	}
	p.stop()
	// Well before readerIdle would end it by itself.
	deadline := time.Now().Add(readerIdle / 2)
	for runtime.NumGoroutine() > before-1 { // the loop ended too
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after stop, %d before the first frame", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
