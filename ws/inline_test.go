package ws_test

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

func toUser(user string, payload string) *herald.Message {
	return &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: user}, Payload: []byte(payload)}
}

// A message to one user is written on the sender's goroutine; a message to
// a channel goes through the writer pool; both arrive, in order.
func TestUserSendsAreWrittenInline(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	c, _ := e.connect("alice")
	c.send(map[string]any{"type": "subscribe", "channel": "room"})
	c.readType("subscribed")

	before := ws.InlineWrites(e.ws)
	if n := e.hub.Deliver(toUser("alice", `{"type":"hello","i":1}`)); n != 1 {
		t.Fatalf("delivered to %d connections, want 1", n)
	}
	if got := ws.InlineWrites(e.ws) - before; got != 1 {
		t.Fatalf("%d inline writes for one message to a user, want 1", got)
	}
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "room"}, Payload: []byte(`{"type":"hello","i":2}`)})
	if got := ws.InlineWrites(e.ws) - before; got != 1 {
		t.Fatalf("%d inline writes after a channel message, want still 1: channels go through the pool", got)
	}
	e.hub.Deliver(toUser("alice", `{"type":"hello","i":3}`))
	for want := 1.0; want <= 3; want++ {
		if m := c.readType("hello"); m["i"] != want {
			t.Fatalf("message %v, want i=%v", m, want)
		}
	}
}

// A pool write leaves a write deadline behind; once it has passed, the next
// message to the user is still written, not failed as a timeout.
func TestUserSendAfterAPoolWriteDeadlinePassed(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	c, _ := e.connect("alice")
	c.send(map[string]any{"type": "subscribe", "channel": "room"})
	c.readType("subscribed")
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "room"}, Payload: []byte(`{"type":"hello","i":1}`)})
	c.readType("hello")
	time.Sleep(ws.PoolWriteWait + 20*time.Millisecond)
	if n := e.hub.Deliver(toUser("alice", `{"type":"hello","i":2}`)); n != 1 {
		t.Fatalf("delivered to %d connections, want 1", n)
	}
	if m := c.readType("hello"); m["i"] != 2.0 {
		t.Fatalf("got %v, want i=2", m)
	}
	if e.hub.UserConns("alice") != 1 {
		t.Fatal("the connection was closed")
	}
}

// TestSlowConsumerOfUserSends is TestSlowConsumer for messages to users,
// which are written on the sender's goroutine: one client stops reading,
// the sender never waits for it, every other user gets every message, and
// the slow one is closed as too slow (1013).
func TestSlowConsumerOfUserSends(t *testing.T) {
	m := ws.NewMetrics()
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.QueueSize = 64; c.WriteTimeout = 2 * time.Second; c.Metrics = m })
	slow := e.rawDial("slow")
	slow.Conn.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096)
	waitFor(t, "slow registered", func() bool { return e.hub.UserConns("slow") == 1 })
	const fast, msgs = 3, 1000
	var clients []*client
	for i := range fast {
		c, _ := e.connect(fmt.Sprintf("fast%d", i))
		clients = append(clients, c)
	}
	ticks := readTicks(t, clients, msgs)
	pad := bytes.Repeat([]byte("x"), 8000)
	sent := make(chan struct{})
	var slowRefused atomic.Bool
	var longest time.Duration // of a send to the slow client
	go func() {
		defer close(sent)
		for i := range msgs {
			if !ticks.within(i, 32) {
				return
			}
			payload := fmt.Sprintf(`{"type":"tick","i":%d,"pad":%q}`, i, pad)
			start := time.Now()
			if e.hub.Deliver(toUser("slow", payload)) == 0 {
				slowRefused.Store(true)
			}
			longest = max(longest, time.Since(start))
			for j := range fast {
				e.hub.Deliver(toUser(fmt.Sprintf("fast%d", j), payload))
			}
		}
	}()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("the sender was blocked by a slow consumer")
	}
	ticks.wait()
	if longest > time.Second {
		t.Errorf("a send to the slow client took %v; want it never to wait for the client", longest)
	}
	if !slowRefused.Load() {
		t.Error("every message to the slow client was accepted; want its queue to fill")
	}
	waitFor(t, "slow consumer closed", func() bool { return e.hub.UserConns("slow") == 0 })
	// The slow one is closed when its queue overflows, or when its socket
	// has taken nothing for WriteTimeout, whichever comes first on a busy
	// machine; no fast one is.
	if n := counter(t, m.QueueOverflows); n > 1 {
		t.Errorf("%v connections closed as too slow, want only the slow one", n)
	}
}
