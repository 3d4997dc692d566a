package ws_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// TestBroadcastDuringChurn: broadcasts to a channel of 5,000 subscribers,
// interleaved with 1,000 clients connecting, joining the same channel and
// disconnecting, reach every subscriber complete and in order, and every
// one of the churning connects succeeds meanwhile.
func TestBroadcastDuringChurn(t *testing.T) {
	subs, churn := 5000, 1000
	if testing.Short() {
		subs, churn = 500, 100
	}
	const messages = 11
	e := newEnv(t, hub.Config{MaxConnections: subs + churn + 10, MaxPerUser: subs + churn}, func(c *ws.Config) {
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
	})
	subscribe := func(c *rfcConn) {
		c.mustWrite(text(`{"type":"subscribe","channel":"news"}`))
		c.nextType("subscribed")
	}
	tok := e.token("reader")
	conns := make([]*rfcConn, subs)
	for i := range conns {
		conns[i] = rfcDial(t, e.urlFor("reader", tok), nil)
		conns[i].nextType("connected")
		subscribe(conns[i])
	}

	var done atomic.Int64 // churn connects completed
	var wg sync.WaitGroup
	errs := make(chan error, churn)
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < churn; i += workers {
				c, err := tryRFCDial(t, e.urlFor("reader", tok), nil)
				if err != nil {
					errs <- fmt.Errorf("churn connect %d: %w", i, err)
					return
				}
				if m, err := c.readMessage(20 * time.Second); err != nil {
					errs <- fmt.Errorf("churn connect %d: %w", i, err)
					return
				} else if v, _ := m.obj(); v["type"] != "connected" {
					errs <- fmt.Errorf("churn connect %d got %q", i, m.data)
					return
				}
				if i%2 == 0 { // half join the broadcast's channel too
					_ = c.write(text(`{"type":"subscribe","channel":"news"}`))
				}
				c.nc.Close()
				done.Add(1)
			}
		}()
	}
	// One broadcast per tenth of the churn, so that they interleave.
	for i := range messages {
		for done.Load() < int64(i*churn/(messages-1)) && done.Load() < int64(churn) && len(errs) == 0 {
			time.Sleep(time.Millisecond)
		}
		e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"},
			Payload: fmt.Appendf(nil, `{"type":"broadcast","n":%d}`, i)})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var rd sync.WaitGroup
	lost := make(chan error, subs)
	for i := 0; i < subs; i += 100 {
		rd.Add(1)
		go func(cs []*rfcConn) {
			defer rd.Done()
			for _, c := range cs {
				for want := range messages {
					m, err := c.readMessage(20 * time.Second)
					if err != nil {
						lost <- fmt.Errorf("waiting for broadcast %d: %w", want, err)
						return
					}
					v, err := m.obj()
					if err != nil || v["type"] != "broadcast" || v["n"] != float64(want) {
						lost <- fmt.Errorf("got %q, want broadcast %d", m.data, want)
						return
					}
				}
			}
		}(conns[i:min(i+100, subs)])
	}
	rd.Wait()
	close(lost)
	for err := range lost {
		t.Fatal(err)
	}
}
