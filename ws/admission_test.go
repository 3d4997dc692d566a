package ws_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
	"github.com/heraldhq/herald/ws"
)

// TestAdmissionUnderSlowRedisRunsInParallel: with the cluster's per-user cap
// (redis.Cluster) as the admission hook and Redis 50 ms away, connects of
// different users make their admission round trips in parallel — the hook
// runs before any lock, and the cluster holds none across Redis — and each
// place is given back when its connection ends.
func TestAdmissionUnderSlowRedisRunsInParallel(t *testing.T) {
	db := redistest.New(t)
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := redistest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	rc, err := redis.NewClient(redis.ClientConfig{URL: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	cluster, err := redis.NewCluster(redis.ClusterConfig{Client: rc, NodeID: "n1", Prefix: db.Prefix, MaxPerUser: 2,
		Timeout: 10 * time.Second, Stats: func() herald.Stats { return herald.Stats{} }})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		c.Admission = cluster
		c.AdmitTimeout = 20 * time.Second // a loaded machine must not turn the test into one of timeouts
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
	})
	ctx := context.Background()
	if err := cluster.Admit(ctx, "warm-up"); err != nil { // the client's first connection
		t.Fatal(err)
	}
	cluster.Release("warm-up")
	proxy.SetDelay(50 * time.Millisecond)

	const n = 16
	var wg sync.WaitGroup
	clients := make([]*client, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprint("p", i)
			cl, err := e.dialURL(e.urlFor(user, e.token(user)), nil)
			if err != nil {
				errs <- err
				return
			}
			if m, err := cl.tryRead(10 * time.Second); err != nil || m["type"] != "connected" {
				errs <- fmt.Errorf("%s: %v %v", user, m, err)
				return
			}
			clients[i] = cl
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if peak := proxy.PeakInFlight(); peak < 2 {
		t.Fatalf("at most %d admission round trip in flight at once: connects were serialised", peak)
	}
	// The cap still holds across the parallel admissions.
	second, err := e.dialURL(e.urlFor("p0", e.token("p0")), nil)
	if err != nil {
		t.Fatal(err)
	}
	second.readType("connected")
	third, err := e.dialURL(e.urlFor("p0", e.token("p0")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := third.closeCode(); code != 4003 && code != 1013 {
		t.Fatalf("third connection of p0 closed with %d, want the per-user limit's code", code)
	}
	for _, cl := range clients {
		cl.c.CloseNow()
	}
	waitFor(t, "places given back", func() bool {
		ok, _, err := cluster.Presence(ctx, "p1")
		return err == nil && !ok
	})
}
