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

	i := 0.0
	hello := func() *herald.Message { i++; return toUser("alice", fmt.Sprintf(`{"type":"hello","i":%v}`, i)) }
	read := func() {
		t.Helper()
		if m := c.readType("hello"); m["i"] != i {
			t.Fatalf("message %v, want i=%v", m, i)
		}
	}
	writtenInline(t, e, func() { e.hub.Deliver(hello()) }, read)
	before := ws.InlineWrites(e.ws)
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "room"}, Payload: []byte(fmt.Sprintf(`{"type":"hello","i":%v}`, i+1))})
	i++
	if got := ws.InlineWrites(e.ws) - before; got != 0 {
		t.Fatalf("%d inline writes for a channel message, want 0: channels go through the pool", got)
	}
	read()
	e.hub.Deliver(hello())
	read()
}

// writtenInline calls send, which writes to an idle connection, and wants
// one inline write for it; read takes what send wrote. The connection may
// still be finishing a pool write (the greeting, a reply) when the test
// sends; the send then goes through the pool, and it is tried again.
func writtenInline(t *testing.T, e *env, send, read func()) {
	t.Helper()
	for range 50 {
		before := ws.InlineWrites(e.ws)
		send()
		read()
		switch got := ws.InlineWrites(e.ws) - before; got {
		case 1:
			return
		case 0:
			time.Sleep(time.Millisecond) // the pool was still at it
		default:
			t.Fatalf("%d inline writes for one send, want 1", got)
		}
	}
	t.Fatal("never written on the sender's goroutine")
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

// A batch to one user (a notification and the count after it) is written
// with one system call, its messages in order, and again after a message
// of the batch is dropped as stale.
func TestUserBatchIsOneWrite(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	c, _ := e.connect("alice")
	note := func(seq int64) *herald.Message {
		m := toUser("alice", fmt.Sprintf(`{"type":"hello","seq":%d}`, seq))
		m.Seq = seq
		return m
	}
	count := func(v int64) *herald.Message {
		m := toUser("alice", fmt.Sprintf(`{"type":"count","version":%d}`, v))
		m.Latest, m.Version = true, v
		return m
	}

	seq := int64(0)
	writtenInline(t, e, func() {
		seq++
		if n := e.hub.DeliverBatch([]*herald.Message{note(seq), count(seq)}); n != 1 {
			t.Fatalf("delivered to %d connections, want 1", n)
		}
	}, func() {
		if m := c.readType("hello"); m["seq"] != float64(seq) {
			t.Fatalf("got %v, want seq %d", m, seq)
		}
		if m := c.read(); m["type"] != "count" || m["version"] != float64(seq) {
			t.Fatalf("got %v, want the count of version %d next", m, seq)
		}
	})

	// The count is not newer than the one sent: the notification goes alone,
	// still written at once, and the stale count is never sent.
	writtenInline(t, e, func() {
		seq++
		e.hub.DeliverBatch([]*herald.Message{note(seq), count(1)})
	}, func() {
		if m := c.readType("hello"); m["seq"] != float64(seq) {
			t.Fatalf("got %v, want seq %d", m, seq)
		}
	})
	e.hub.Deliver(toUser("alice", `{"type":"hello","seq":0}`))
	if m := c.read(); m["type"] != "hello" || m["seq"] != 0.0 {
		t.Fatalf("got %v, want seq 0: the stale count must not be sent", m)
	}
}
