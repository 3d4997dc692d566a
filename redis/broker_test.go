package redis_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/redis"
)

func TestMain(m *testing.M) {
	redis.SetClientLogger(testLogger())
	redistest.Main(m)
}

// testLogger shows the package's logs with -v when HERALD_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("HERALD_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestMemoryBrokerSuite runs the shared suite on the single-node broker.
func TestMemoryBrokerSuite(t *testing.T) {
	runBrokerSuite(t, suiteCluster{
		maxNodes: 1,
		start: func(t *testing.T, n int) []*suiteNode {
			nd := &suiteNode{hub: hub.New(hub.Config{})}
			nd.seen = &seenDeliverer{hub: nd.hub}
			nd.broker = memory.NewBroker(nd.seen)
			return []*suiteNode{nd}
		},
		settle: func(testing.TB, []*suiteNode) {},
	})
}

// TestRedisBrokerSuite runs the shared suite on Redis brokers, each node with
// a client of its own, as separate processes would have: on one Redis
// server, on a primary watched by Sentinel, and on Redis Cluster (sharded
// pub/sub, one subscription per shard).
func TestRedisBrokerSuite(t *testing.T) {
	for _, topo := range []struct {
		name string
		db   func(testing.TB) *redistest.DB
	}{
		{"Single", redistest.New},
		{"Sentinel", redistest.NewSentinelDB},
		{"Cluster", redistest.NewClusterDB},
	} {
		t.Run(topo.name, func(t *testing.T) {
			runBrokerSuite(t, suiteCluster{
				maxNodes: 3,
				start: func(t *testing.T, n int) []*suiteNode {
					db := topo.db(t)
					var nodes []*suiteNode
					for i := range n {
						nd, _ := startNode(t, db, fmt.Sprintf("node%d", i), nil)
						nodes = append(nodes, nd)
					}
					return nodes
				},
				settle: settleRedis,
			})
		})
	}
}

// redisNode is a test node on Redis: the suite's node plus the broker itself.
type redisNode struct {
	*suiteNode
	rb       *redis.Broker
	metrics  *redis.Metrics
	recovers atomic.Int32 // OnRecover calls

	mu         sync.Mutex
	subscribed map[string][]time.Time // OnSubscribed calls by user
}

// resyncs returns when OnSubscribed was called for user.
func (rn *redisNode) resyncs(user string) []time.Time {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return append([]time.Time(nil), rn.subscribed[user]...)
}

// startNode runs a Redis broker for a new hub and waits until it is up.
// tune, when not nil, adjusts the broker's config.
func startNode(t testing.TB, db *redistest.DB, id string, tune func(*redis.BrokerConfig)) (*suiteNode, *redisNode) {
	t.Helper()
	rn := &redisNode{suiteNode: &suiteNode{}, metrics: redis.NewMetrics(), subscribed: map[string][]time.Time{}}
	cfg := redis.BrokerConfig{
		Client:        newClient(t, db.URL),
		NodeID:        id,
		Prefix:        db.Prefix,
		ProbeInterval: 100 * time.Millisecond,
		ProbeTimeout:  500 * time.Millisecond,
		ReconnectMin:  20 * time.Millisecond,
		ReconnectMax:  200 * time.Millisecond,
		OnRecover:     func() { rn.recovers.Add(1) },
		OnSubscribed: func(user string) {
			rn.mu.Lock()
			rn.subscribed[user] = append(rn.subscribed[user], time.Now())
			rn.mu.Unlock()
		},
		TopologyInterval: time.Second,
		Logger:           testLogger().With("node", id),
		Metrics:          rn.metrics,
	}
	if tune != nil {
		tune(&cfg)
	}
	// The broker delivers to the hub, and the hub tells the broker its
	// interest: the hub is made second and reached through seen.
	rn.seen = &seenDeliverer{}
	rb, err := redis.NewBroker(rn.seen, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rn.hub = hub.New(hub.Config{Interest: rb, MaxConnections: 1 << 20}) // the cost benchmark connects 100,000
	rn.seen.hub = rn.hub
	rn.rb, rn.broker = rb, rb
	rn.prefix, rn.client = db.Prefix, cfg.Client
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	waitUntil(t, 5*time.Second, "the broker to come up", func() bool { return rb.Healthy() == nil })
	return rn.suiteNode, rn
}

func newClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	c, err := redis.NewClient(redis.ClientConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// settleRedis waits until every local user and channel of each node is
// subscribed, as Redis itself reports it.
func settleRedis(t testing.TB, nodes []*suiteNode) {
	t.Helper()
	want := map[string]int{}
	var prefix string
	var client *redis.Client
	for _, nd := range nodes {
		prefix, client = nd.prefix, nd.client
		for ch := range nd.hub.Stats().ChannelCounts {
			want[prefix+"c:"+ch]++
		}
	}
	for _, nd := range nodes {
		for _, u := range localUsers(nd.hub) {
			want[prefix+"u:"+u]++
		}
	}
	waitUntil(t, 5*time.Second, "subscriptions to take effect", func() bool {
		for topic, n := range want {
			got, err := redistest.NumSub(context.Background(), client.UniversalClient, topic)
			if err != nil || got != int64(n) {
				return false
			}
		}
		return true
	})
}

// localUsers lists the users with connections on h.
func localUsers(h *hub.Hub) []string {
	seen := map[string]bool{}
	var out []string
	h.Each(func(c herald.Conn) {
		if !seen[c.UserID()] {
			seen[c.UserID()] = true
			out = append(out, c.UserID())
		}
	})
	return out
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
