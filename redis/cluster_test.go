package redis_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
)

const beat = 50 * time.Millisecond

// testCluster is one node's Cluster, running, with a client of its own so a
// test can cut it off as a killed process would be.
type testCluster struct {
	*redis.Cluster
	client *redis.Client
	stop   func() // ends Run, which leaves the cluster
}

func startCluster(t *testing.T, db *redistest.DB, id string, maxPerUser int, stats herald.Stats) *testCluster {
	t.Helper()
	client := newClient(t, db.URL)
	c, err := redis.NewCluster(redis.ClusterConfig{
		Client:            client,
		NodeID:            id,
		Prefix:            db.Prefix,
		MaxPerUser:        maxPerUser,
		HeartbeatInterval: beat,
		Stats:             func() herald.Stats { return stats },
		Logger:            testLogger().With("node", id),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	tc := &testCluster{Cluster: c, client: client}
	var stopped bool
	tc.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(tc.stop)
	// Its first heartbeat landed: the client is warm (on Redis Cluster it
	// first reads the slot map and the command table), so the first Admit
	// fits in its timeout on a loaded machine.
	waitUntil(t, 10*time.Second, id+"'s first heartbeat", func() bool {
		_, rows, err := c.Stats(context.Background())
		return err == nil && slices.Contains(nodeNames(rows), id)
	})
	return tc
}

// kill stops the node without letting it leave: its client is closed first,
// as the process of a killed node would vanish.
func (tc *testCluster) kill() {
	tc.client.Close()
	tc.stop()
}

func nodeNames(rows []herald.NodeStats) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Node)
	}
	return out
}

// topologies are the three Redis layouts, each as a fresh share of the one
// the test binary shares.
var topologies = []struct {
	name string
	db   func(testing.TB) *redistest.DB
}{
	{"Single", redistest.New},
	{"Sentinel", redistest.NewSentinelDB},
	{"Cluster", redistest.NewClusterDB},
}

// eachTopology runs f as a subtest on each topology.
func eachTopology(t *testing.T, f func(t *testing.T, db *redistest.DB)) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) { f(t, topo.db(t)) })
	}
}

// TestClusterStats: live nodes report their figures with their heartbeat;
// the totals add them up; a node that leaves disappears at once and a killed
// one when its heartbeat expires.
func TestClusterStats(t *testing.T) { eachTopology(t, testClusterStats) }

func testClusterStats(t *testing.T, db *redistest.DB) {
	a := startCluster(t, db, "a", 0, herald.Stats{TotalConnections: 3, TotalUsers: 2, ChannelCounts: map[string]int{"room": 2}, Transports: map[string]int{"websocket": 2, "sse": 1}})
	b := startCluster(t, db, "b", 0, herald.Stats{TotalConnections: 4, TotalUsers: 1, ChannelCounts: map[string]int{"room": 1, "hall": 4}, Transports: map[string]int{"websocket": 4}})
	c := startCluster(t, db, "c", 0, herald.Stats{TotalConnections: 1, TotalUsers: 1})
	for _, u := range []string{"u1", "u2"} {
		if err := a.Admit(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Admit(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	var total herald.Stats
	var rows []herald.NodeStats
	waitUntil(t, 5*time.Second, "three nodes' heartbeats in the stats", func() bool {
		var err error
		total, rows, err = a.Stats(context.Background())
		return err == nil && len(rows) == 3 && total.TotalConnections == 8
	})
	if got := nodeNames(rows); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("rows for %v", got)
	}
	if total.TotalConnections != 8 || total.TotalUsers != 2 || total.ChannelCounts["room"] != 3 || total.ChannelCounts["hall"] != 4 {
		t.Fatalf("totals %+v; want 8 connections, 2 distinct users, room 3, hall 4", total)
	}
	// c reports no split (an older node): the split sums those that do.
	if total.Transports["websocket"] != 6 || total.Transports["sse"] != 1 || len(total.Transports) != 2 {
		t.Fatalf("transports %v; want websocket 6, sse 1", total.Transports)
	}
	if rows[1].TotalConnections != 4 || rows[1].Timestamp.IsZero() {
		t.Fatalf("row b = %+v", rows[1])
	}

	c.stop() // graceful: gone at once
	if _, rows, _ := a.Stats(context.Background()); !slices.Equal(nodeNames(rows), []string{"a", "b"}) {
		t.Fatalf("after c left: rows for %v", nodeNames(rows))
	}
	b.kill() // gone when its heartbeat expires, its user with it
	waitUntil(t, 5*time.Second, "the killed node to disappear", func() bool {
		_, rows, err := a.Stats(context.Background())
		return err == nil && slices.Equal(nodeNames(rows), []string{"a"})
	})
	if err := a.Admit(context.Background(), "u3"); err != nil {
		t.Fatal(err)
	}
	a.Release("u1")
	a.Release("u2")
	waitUntil(t, 5*time.Second, "the distinct users to drop to u3", func() bool {
		total, _, err := a.Stats(context.Background())
		return err == nil && total.TotalUsers == 1
	})
}

// TestClusterCapAndPresence: the per-user cap holds across nodes, presence
// names the nodes a user is on, and a killed node's connections stop counting
// once its heartbeat expires (and a live node swept them).
func TestClusterCapAndPresence(t *testing.T) { eachTopology(t, testClusterCapAndPresence) }

func testClusterCapAndPresence(t *testing.T, db *redistest.DB) {
	a := startCluster(t, db, "a", 3, herald.Stats{})
	b := startCluster(t, db, "b", 3, herald.Stats{})
	ctx := context.Background()

	if on, nodes, err := a.Presence(ctx, "alice"); err != nil || on || len(nodes) != 0 {
		t.Fatalf("Presence before any connection = %v %v %v", on, nodes, err)
	}
	for _, c := range []*testCluster{a, a, b} {
		if err := c.Admit(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Admit(ctx, "alice"); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("4th connection across nodes = %v, want EUNAVAILABLE", err)
	}
	if on, nodes, err := b.Presence(ctx, "alice"); err != nil || !on || !slices.Equal(nodes, []string{"a", "b"}) {
		t.Fatalf("Presence = %v %v %v; want online on a and b", on, nodes, err)
	}
	a.Release("alice")
	if err := b.Admit(ctx, "alice"); err != nil {
		t.Fatalf("after a release: %v", err)
	}

	a.kill() // one of alice's connections was on a
	waitUntil(t, 5*time.Second, "a's connection to stop counting", func() bool {
		return b.Admit(ctx, "alice") == nil
	})
	if on, nodes, err := b.Presence(ctx, "alice"); err != nil || !on || !slices.Equal(nodes, []string{"b"}) {
		t.Fatalf("Presence after a died = %v %v %v; want b only", on, nodes, err)
	}
	for range 3 {
		b.Release("alice")
	}
	if on, _, err := b.Presence(ctx, "alice"); err != nil || on {
		t.Fatalf("Presence after every release = %v, %v", on, err)
	}
}

// TestClusterRewritesAfterRedisRestart: Redis restarts empty; the next
// heartbeat puts back what the node has, and meanwhile connections are
// admitted on local limits.
func TestClusterRewritesAfterRedisRestart(t *testing.T) {
	srv := redistest.NewServer(t)
	db := srv.NewDB(t)
	a := startCluster(t, db, "a", 2, herald.Stats{TotalConnections: 2})
	ctx := context.Background()
	if err := a.Admit(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	if err := a.Admit(ctx, "alice"); err != nil {
		t.Fatalf("Admit with Redis down = %v, want admitted on local limits", err)
	}
	if _, _, err := a.Presence(ctx, "alice"); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("Presence with Redis down = %v, want EUNAVAILABLE", err)
	}
	srv.Start(t)
	waitUntil(t, 5*time.Second, "alice's two connections to be counted again", func() bool {
		on, nodes, err := a.Presence(ctx, "alice")
		return err == nil && on && len(nodes) == 1 && a.Admit(ctx, "alice") != nil
	})
}
