package ws_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// TestHeartbeatSpreadsPings: connections are pinged each in its own part of
// the heartbeat interval, not all at the same moment, and each still once an
// interval.
func TestHeartbeatSpreadsPings(t *testing.T) {
	const n = 30
	const interval = 600 * time.Millisecond
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		c.HeartbeatInterval = interval
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
	})
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = e.rawDial("u")
	}
	type pings struct{ first, second time.Time }
	got := make([]pings, n)
	var wg sync.WaitGroup
	for i, r := range conns {
		wg.Go(func() {
			next := func() time.Time {
				for {
					f, err := r.readFrame(3 * interval)
					if err != nil {
						t.Errorf("connection %d: %v", i, err)
						return time.Time{}
					}
					if f.Header.OpCode == gws.OpPing {
						return time.Now()
					}
				}
			}
			got[i].first = next()
			if err := wsutil.WriteClientMessage(r, gws.OpPong, nil); err != nil {
				t.Errorf("connection %d: pong: %v", i, err)
			}
			got[i].second = next()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	firsts := make([]time.Time, n)
	for i, p := range got {
		firsts[i] = p.first
		if gap := p.second.Sub(p.first); gap < interval/2 {
			t.Errorf("connection %d pinged again after %v, want about %v", i, gap, interval)
		}
	}
	spread := slices.MaxFunc(firsts, time.Time.Compare).Sub(slices.MinFunc(firsts, time.Time.Compare))
	t.Logf("first pings of %d connections spread over %v", n, spread)
	if spread < interval/3 {
		t.Errorf("first pings of %d connections all within %v: not spread over the %v interval", n, spread, interval)
	}
}
