package redis_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
)

// TestBrokerSurvivesRedisRestart stops Redis under two nodes: both degrade,
// publishing still delivers locally without error, and when Redis is back
// (empty, as a restart without persistence leaves it) both subscribe again
// to everything they need and call OnRecover.
func TestBrokerSurvivesRedisRestart(t *testing.T) {
	srv := redistest.NewServer(t)
	db := srv.NewDB(t)
	a, ra := startNode(t, db, "a", nil)
	b, rb := startNode(t, db, "b", nil)
	localA := a.connect(t, "alice")
	remote := b.connect(t, "alice", "room")
	settleRedis(t, []*suiteNode{a, b})

	srv.Stop(t)
	waitUntil(t, 5*time.Second, "both nodes to report degraded", func() bool {
		return ra.rb.Healthy() != nil && rb.rb.Healthy() != nil
	})
	if code := herald.CodeOf(ra.rb.Healthy()); code != herald.EUNAVAILABLE {
		t.Fatalf("Healthy while down = %v, want EUNAVAILABLE", ra.rb.Healthy())
	}
	start := time.Now()
	n, err := a.broker.Publish(context.Background(), msg(herald.ToUser, "alice", `{"down":1}`))
	if err != nil || n != 1 {
		t.Fatalf("Publish while Redis is down = %d, %v; want 1 local delivery and no error", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Publish while Redis is down took %v", d)
	}
	// A notification is not pushed live while Redis is down, not even
	// locally: it would overtake those other nodes created meanwhile. The
	// replay after recovery (OnRecover) delivers it in seq order.
	note := msg(herald.ToUser, "alice", `{"note":1}`)
	note.Seq = 1
	if n, err := a.broker.Publish(context.Background(), note); err != nil || n != 0 {
		t.Fatalf("Publish of a notification while Redis is down = %d, %v; want 0, nil", n, err)
	}
	localA.waitCount(t, 1)
	if ra.recovers.Load() != 0 || rb.recovers.Load() != 0 {
		t.Fatal("OnRecover called before Redis came back")
	}

	srv.Start(t)
	waitUntil(t, 10*time.Second, "both nodes to recover", func() bool {
		return ra.rb.Healthy() == nil && rb.rb.Healthy() == nil && ra.recovers.Load() > 0 && rb.recovers.Load() > 0
	})
	settleRedis(t, []*suiteNode{a, b}) // resubscribed, as Redis reports it
	if _, err := a.broker.Publish(context.Background(), msg(herald.ToChannel, "room", `{"up":1}`)); err != nil {
		t.Fatal(err)
	}
	if got := remote.waitCount(t, 1); string(got[0].Payload) != `{"up":1}` {
		t.Fatalf("after the restart node b got %s", payloads(got))
	}
}

// TestBrokerProbeCatchesSilentSubscription freezes a node's connections to
// Redis without closing them: nothing fails, nothing arrives. The node's own
// probe notices, it reconnects, calls OnRecover and receives again.
func TestBrokerProbeCatchesSilentSubscription(t *testing.T) {
	srv := redistest.NewServer(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	db := srv.NewDB(t)
	viaProxy := *db
	viaProxy.URL = "redis://" + proxy.Addr() + "/0"
	db.URL = "redis://" + srv.Addr() + "/0"

	a, ra := startNode(t, db, "a", nil)
	b, rb := startNode(t, &viaProxy, "b", nil)
	bob := b.connect(t, "bob")
	settleRedis(t, []*suiteNode{a, b})

	proxy.FreezeSubscribers()
	// b publishes nothing: only its probe can find out. OnRecover is called
	// only after an outage.
	waitUntil(t, 10*time.Second, "node b to reconnect and recover", func() bool {
		return rb.rb.Healthy() == nil && rb.recovers.Load() > 0
	})
	settleRedis(t, []*suiteNode{a, b})
	if _, err := a.broker.Publish(context.Background(), msg(herald.ToUser, "bob", `{"again":1}`)); err != nil {
		t.Fatal(err)
	}
	bob.waitCount(t, 1)
	if ra.recovers.Load() != 0 {
		t.Errorf("node a, which lost nothing, was asked to recover %d times", ra.recovers.Load())
	}
}

// TestBrokerAsksOthersToResync: a node whose publishes failed while the
// others stayed connected tells them, once it is back, to resync their
// connections, since they missed its messages.
func TestBrokerAsksOthersToResync(t *testing.T) {
	srv := redistest.NewServer(t)
	proxy := redistest.NewProxy(t, srv.Addr())
	db := srv.NewDB(t)
	viaProxy := *db
	viaProxy.URL = "redis://" + proxy.Addr() + "/0"
	db.URL = "redis://" + srv.Addr() + "/0"

	a, ra := startNode(t, &viaProxy, "a", func(c *redis.BrokerConfig) {
		c.ProbeInterval = time.Hour // only a failed publish makes a probe now
		c.ProbeTimeout = 300 * time.Millisecond
	})
	b, rb := startNode(t, db, "b", nil)
	b.connect(t, "bob")
	settleRedis(t, []*suiteNode{a, b})

	proxy.Freeze()
	if n, err := a.broker.Publish(context.Background(), msg(herald.ToUser, "bob", `{"lost":1}`)); err != nil || n != 0 {
		t.Fatalf("Publish into a frozen connection = %d, %v; want 0, nil", n, err)
	}
	waitUntil(t, 10*time.Second, "node b to be asked to resync", func() bool {
		return rb.recovers.Load() > 0
	})
	waitUntil(t, 10*time.Second, "node a to be back", func() bool { return ra.rb.Healthy() == nil })
}

// TestNewBrokerValidates refuses a broker without a deliverer or with an
// unusable node id.
func TestNewBrokerValidates(t *testing.T) {
	if _, err := redis.NewBroker(nil, redis.BrokerConfig{}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("NewBroker(nil) = %v, want EINVALID", err)
	}
	h := &seenDeliverer{}
	if _, err := redis.NewBroker(h, redis.BrokerConfig{NodeID: "has space"}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("NewBroker with a bad node id = %v, want EINVALID", err)
	}
	if _, err := redis.NewClient(redis.ClientConfig{URL: "http://x"}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("NewClient(http://) = %v, want EINVALID", err)
	}
}

// TestBrokerRecoversManySubscriptions kills the node's subscription
// connection while thousands of users are subscribed: the node resubscribes
// in many batches and must come back, not lose its first probe to a
// SUBSCRIBE that Redis has not processed yet and start over forever.
func TestBrokerRecoversManySubscriptions(t *testing.T) {
	db := redistest.New(t)
	a, ra := startNode(t, db, "a", nil)
	metrics := ra.metrics
	b, _ := startNode(t, db, "b", nil)
	const users = 6000
	for i := range users {
		a.connect(t, fmt.Sprint("u", i))
	}
	remote := a.connect(t, "target")
	settleRedis(t, []*suiteNode{a, b})
	for round := range 3 {
		before := ra.recovers.Load()
		if err := ra.client.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 15*time.Second, "node a to resubscribe and recover", func() bool {
			return ra.rb.Healthy() == nil && ra.recovers.Load() > before
		})
		settleRedis(t, []*suiteNode{a, b})
		// The probe is sent once Redis confirmed its channel, after every
		// SUBSCRIBE before it: none may be lost to the batches' race.
		if lost := probeFailures(t, metrics); lost != 0 {
			t.Fatalf("%v probes lost while resubscribing %d users", lost, users)
		}
		if _, err := b.broker.Publish(context.Background(), msg(herald.ToUser, "target", fmt.Sprintf(`{"round":%d}`, round))); err != nil {
			t.Fatal(err)
		}
		remote.waitCount(t, round+1)
	}
}

func probeFailures(t *testing.T, m *redis.Metrics) float64 {
	t.Helper()
	return metric(t, m, "herald_broker_probe_failures_total")
}

// metric returns the value of an unlabelled counter or gauge of m.
func metric(t testing.TB, m *redis.Metrics, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if g := mf.GetMetric()[0].GetGauge(); g != nil {
				return g.GetValue()
			}
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// logConn records its messages' seqs in a log shared with the broker's
// callbacks, to check what happened first.
type logConn struct {
	user string
	log  *eventLog
}

func (c *logConn) UserID() string { return c.user }

func (c *logConn) Send(m *herald.Message) bool {
	c.log.add(fmt.Sprintf("seq %d", m.Seq))
	return true
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// TestBrokerReplaysOnSeqGap: a user's notification whose seq skips some
// after the last one delivered on the node (another node's publish of the
// one between was skipped or failed) makes the node resync the user's
// connections before delivering it, so the replay from the store comes
// first and the connection sees them in order.
func TestBrokerReplaysOnSeqGap(t *testing.T) {
	db := redistest.New(t)
	log := &eventLog{}
	a, _ := startNode(t, db, "a", nil)
	b, _ := startNode(t, db, "b", func(c *redis.BrokerConfig) {
		c.OnSubscribed = func(user string) { log.add("resync " + user) }
	})
	if err := b.hub.Register(&logConn{user: "alice", log: log}); err != nil {
		t.Fatal(err)
	}
	settleRedis(t, []*suiteNode{a, b})
	for _, seq := range []int64{1, 2, 4, 3, 5} { // 3 arrives late
		m := msg(herald.ToUser, "alice", fmt.Sprintf(`{"seq":%d}`, seq))
		m.Seq = seq
		if _, err := a.broker.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"resync alice", "seq 1", "seq 2", "resync alice", "seq 4", "seq 3", "seq 5"}
	waitUntil(t, 5*time.Second, "the five notifications", func() bool { return len(log.get()) >= len(want) })
	time.Sleep(50 * time.Millisecond)
	if got := log.get(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v (the first resync follows the subscription)", got, want)
	}
}
