package ws_test

import (
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// TestFanOutLetsTheNextPublishIn: on one processor, a publish that arrives
// over the network while the writers work through a fan-out's line is taken
// in before the line ends, so that its message leaves in the same socket
// writes as the first one wherever that one was still queued. Without the
// writers' pauses the second publish is read only after the last write of the
// first, and every delivery costs a write of its own (2 × subs writes).
func TestFanOutLetsTheNextPublishIn(t *testing.T) {
	const subs = 300
	m := ws.NewMetrics()
	e := newEnv(t, hub.Config{MaxConnections: subs + 10, MaxPerUser: subs}, func(c *ws.Config) {
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
		c.Metrics = m
	})
	conns := subscribers(t, e, subs)
	publish := func(n int) {
		e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"},
			Payload: fmt.Appendf(nil, `{"type":"broadcast","n":%d}`, n)})
	}

	// The second publish comes over a socket: a goroutine reads a byte, then
	// publishes.
	trigger, peer := ws.TCPPair(t)
	published := make(chan struct{})
	go func() {
		defer close(published)
		var b [1]byte
		if n, _ := peer.Read(b[:]); n == 1 {
			publish(2)
		}
	}()
	time.Sleep(10 * time.Millisecond) // it waits in the poller

	before := counter(t, m.Writes)
	func() {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		publish(1) // every subscriber in the writers' line
		if _, err := trigger.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		<-published
		for i, c := range conns {
			for want := 1; want <= 2; want++ {
				m, err := c.readMessage(10 * time.Second)
				if err != nil {
					t.Fatalf("subscriber %d, broadcast %d: %v", i, want, err)
				}
				if v, _ := m.obj(); v["n"] != float64(want) {
					t.Fatalf("subscriber %d got %q, want broadcast %d", i, m.data, want)
				}
			}
		}
	}()
	writes := counter(t, m.Writes) - before
	t.Logf("%d deliveries in %.0f writes", 2*subs, writes)
	if writes > 1.5*subs {
		t.Fatalf("%d deliveries took %.0f writes: the second publish was not taken in while the first was written", 2*subs, writes)
	}
}

// TestFanOutPausesAFewTimesPerPass: however long the line, the writers pause
// for the network only a few times in one pass over it, so that publishes let
// in during a pass add only a few frames to each connection's queue.
func TestFanOutPausesAFewTimesPerPass(t *testing.T) {
	subs := 1500
	if testing.Short() {
		subs = 600
	}
	e := newEnv(t, hub.Config{MaxConnections: subs + 10, MaxPerUser: subs}, func(c *ws.Config) {
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
	})
	conns := subscribers(t, e, subs)
	before := ws.WriterPauses(e.ws)
	func() {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"}, Payload: []byte(`{"type":"broadcast"}`)})
		for i, c := range conns {
			if _, err := c.readMessage(10 * time.Second); err != nil {
				t.Fatalf("subscriber %d: %v", i, err)
			}
		}
	}()
	pauses := ws.WriterPauses(e.ws) - before
	t.Logf("%d pauses writing to %d subscribers", pauses, subs)
	if pauses < 1 || pauses > 9 {
		t.Fatalf("%d pauses in one pass over %d connections, want 1 to 9", pauses, subs)
	}
}

// TestManyPublishersDoNotOverflowHealthyClients: on one processor, with many
// publishers let in at each pause, the writers stop pausing once their writes
// carry a good part of the queue limit, so that a connection that reads
// everything it is sent is never closed as too slow (1013), however fast the
// publishers come.
func TestManyPublishersDoNotOverflowHealthyClients(t *testing.T) {
	const subs, publishers, rounds, queue = 300, 32, 10, 64
	e := newEnv(t, hub.Config{MaxConnections: subs + 10, MaxPerUser: subs}, func(c *ws.Config) {
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
		c.QueueSize = queue
	})
	conns := subscribers(t, e, subs)

	// Each publisher waits on a socket: a byte in, a publish, a byte back.
	triggers := make([]net.Conn, publishers)
	for p := range triggers {
		var peer net.Conn
		triggers[p], peer = ws.TCPPair(t)
		go func() {
			var b [1]byte
			for r := 0; ; r++ {
				if n, _ := peer.Read(b[:]); n != 1 {
					return
				}
				e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"},
					Payload: fmt.Appendf(nil, `{"type":"broadcast","p":%d,"r":%d}`, p, r)})
				if _, err := peer.Write(b[:]); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond) // they wait in the poller

	func() {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		var b [1]byte
		for range rounds {
			for _, tr := range triggers {
				if _, err := tr.Write(b[:]); err != nil {
					t.Fatal(err)
				}
			}
			for _, tr := range triggers {
				if _, err := tr.Read(b[:]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}()
	for i, c := range conns {
		next := make([]int, publishers)
		for range publishers * rounds {
			m, err := c.readMessage(10 * time.Second)
			if err != nil {
				t.Fatalf("subscriber %d after %v messages: %v", i, next, err)
			}
			var v struct{ P, R int }
			if err := json.Unmarshal(m.data, &v); err != nil || v.P < 0 || v.P >= publishers || v.R != next[v.P] {
				t.Fatalf("subscriber %d got %q after %v", i, m.data, next)
			}
			next[v.P]++
		}
	}
}

// subscribers connects n clients of one user, each subscribed to "news".
func subscribers(t *testing.T, e *env, n int) []*rfcConn {
	t.Helper()
	tok := e.token("reader")
	conns := make([]*rfcConn, n)
	for i := range conns {
		conns[i] = rfcDial(t, e.urlFor("reader", tok), nil)
		conns[i].nextType("connected")
		conns[i].mustWrite(text(`{"type":"subscribe","channel":"news"}`))
		conns[i].nextType("subscribed")
	}
	return conns
}

// counter reads a Prometheus counter's value.
func counter(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
