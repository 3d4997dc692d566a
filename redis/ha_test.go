package redis_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/redis"
)

// usersOn returns n user ids whose topics (prefix + "u:" + id) hash to a
// slot that keep accepts, named after tag.
func usersOn(prefix, tag string, n int, keep func(slot int) bool) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		u := fmt.Sprintf("%s-%d", tag, i)
		if keep(redis.SlotOf(prefix + "u:" + u)) {
			out = append(out, u)
		}
	}
	return out
}

// TestSentinelBrokerFailover kills the primary under two nodes: both
// degrade, follow the sentinels to the promoted replica, recover, and carry
// messages between them again.
func TestSentinelBrokerFailover(t *testing.T) {
	set := redistest.NewSentinel(t)
	db := set.NewDB(t)
	a, ra := startNode(t, db, "a", nil)
	b, rb := startNode(t, db, "b", nil)
	alice := a.connect(t, "alice")
	bob := b.connect(t, "bob", "room")
	settleRedis(t, []*suiteNode{a, b})

	old := set.KillPrimary(t) // returns once the replica is primary
	waitUntil(t, 30*time.Second, "both nodes to follow the new primary and recover", func() bool {
		return ra.rb.Healthy() == nil && rb.rb.Healthy() == nil && ra.recovers.Load() > 0 && rb.recovers.Load() > 0
	})
	if metric(t, ra.metrics, "herald_broker_outages_total") == 0 {
		t.Error("node a never reported degraded while the primary was gone")
	}
	if set.Primary(t) == old {
		t.Fatal("the sentinels still name the killed primary")
	}
	settleRedis(t, []*suiteNode{a, b})
	if _, err := a.broker.Publish(context.Background(), msg(herald.ToChannel, "room", `{"after":1}`)); err != nil {
		t.Fatal(err)
	}
	note := msg(herald.ToUser, "alice", `{"after":2}`)
	note.Seq = 9
	if _, err := b.broker.Publish(context.Background(), note); err != nil {
		t.Fatal(err)
	}
	bob.waitCount(t, 1)
	alice.waitCount(t, 1)
}

// TestClusterBrokerFailover kills one Redis Cluster primary, then another,
// under two nodes with users on every shard. A shard's failover is
// recovered for that shard's users only (OnSubscribed); the failover of the
// shard carrying the broadcast topic, whose resync requests may have been
// missed, for every connection (OnRecover). Messages cross nodes after each.
func TestClusterBrokerFailover(t *testing.T) {
	c := redistest.NewCluster(t)
	db := c.NewDB(t)
	owners := c.Owners(t)
	allShard := owners[redis.SlotOf(db.Prefix+"all")]
	var other *redistest.Server // a shard without the broadcast topic
	for _, p := range c.Primaries(t) {
		if p != allShard {
			other = p
			break
		}
	}
	users := map[*redistest.Server][]string{}
	for _, p := range c.Primaries(t) {
		users[p] = usersOn(db.Prefix, "u"+strconv.Itoa(p.Port()), 2, func(s int) bool { return owners[s] == p })
	}

	a, ra := startNode(t, db, "a", nil)
	b, rb := startNode(t, db, "b", nil)
	if got := metric(t, rb.metrics, "herald_broker_shards"); got != 3 {
		t.Fatalf("node b keeps %v subscriptions, want one per shard (3)", got)
	}
	conns := map[string]*testConn{}
	for _, us := range users {
		for _, u := range us {
			conns[u] = b.connect(t, u)
		}
	}
	settleRedis(t, []*suiteNode{a, b})
	sent := 0
	sendAll := func() {
		t.Helper()
		sent++
		for u := range conns {
			m := msg(herald.ToUser, u, fmt.Sprintf(`{"n":%d}`, sent))
			m.Seq = int64(sent)
			if _, err := a.broker.Publish(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		for u, conn := range conns {
			if got := conn.waitCount(t, sent); got[sent-1].Seq != int64(sent) {
				t.Fatalf("%s got seq %d last", u, got[sent-1].Seq)
			}
		}
	}
	sendAll()

	// A shard without the broadcast topic: its users are resynced, no one else.
	c.KillPrimary(t, redis.SlotOf(db.Prefix+"u:"+users[other][0]))
	waitUntil(t, 30*time.Second, "node b to recover the failed shard's users", func() bool {
		return rb.rb.Healthy() == nil && ra.rb.Healthy() == nil &&
			len(rb.resyncs(users[other][0])) >= 2 && len(rb.resyncs(users[other][1])) >= 2
	})
	for p, us := range users {
		if p == other {
			continue
		}
		for _, u := range us {
			if n := len(rb.resyncs(u)); n != 1 {
				t.Errorf("%s, on a shard that did not fail, was resynced %d times, want once (its first subscription)", u, n)
			}
		}
	}
	if ra.recovers.Load() != 0 || rb.recovers.Load() != 0 {
		t.Errorf("OnRecover called %d and %d times for a shard without the broadcast topic", ra.recovers.Load(), rb.recovers.Load())
	}
	settleRedis(t, []*suiteNode{a, b})
	sendAll()

	// The shard carrying the broadcast topic: every connection is resynced.
	// Meanwhile node b publishes to a user of that shard without
	// connections, so that some of its publishes fail and it asks for a
	// resync at its next probe. That request goes to the failed shard: its
	// failure must not restart b's subscriptions to the healthy shards (it
	// did, in a loop, for as long as the shard was down, each restart
	// resubscribing and replaying to every user of a healthy shard).
	ghost := usersOn(db.Prefix, "ghost", 1, func(s int) bool { return owners[s] == allShard })[0]
	healthy := map[string]int{} // b's users of the other shards, and their resyncs so far
	for p, us := range users {
		if p != allShard {
			for _, u := range us {
				healthy[u] = len(rb.resyncs(u))
			}
		}
	}
	stop := make(chan struct{})
	var pub sync.WaitGroup
	pub.Add(1)
	go func() {
		defer pub.Done()
		for seq := int64(1); ; seq++ {
			m := msg(herald.ToUser, ghost, `{"ghost":1}`)
			m.Seq = seq
			_, _ = b.broker.Publish(context.Background(), m)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	c.KillPrimary(t, redis.SlotOf(db.Prefix+"all"))
	waitUntil(t, 30*time.Second, "both nodes to recover every connection", func() bool {
		return rb.rb.Healthy() == nil && ra.rb.Healthy() == nil && ra.recovers.Load() > 0 && rb.recovers.Load() > 0
	})
	close(stop)
	pub.Wait()
	settleRedis(t, []*suiteNode{a, b})
	for u, before := range healthy {
		if n := len(rb.resyncs(u)); n != before {
			t.Errorf("%s, on a healthy shard, was resynced %d times during another shard's failover: its subscription restarted", u, n-before)
		}
	}
	sendAll()
	// A broadcast from b reaches a connection on a through the promoted
	// shard. (No broadcast is sent before lone connects: its delivery to a
	// is asynchronous, so lone could see it or not.)
	lone := a.connect(t, "lone")
	settleRedis(t, []*suiteNode{a, b})
	if _, err := b.broker.Publish(context.Background(), msg(herald.ToAll, "", `{"b":1}`)); err != nil {
		t.Fatal(err)
	}
	if got := lone.waitCount(t, 1); string(got[0].Payload) != `{"b":1}` {
		t.Fatalf("lone got %s, want the broadcast", payloads(got))
	}
}

// TestClusterBrokerReshard moves slots holding users' topics from one shard
// to another with redis-cli --cluster reshard while notifications stream to
// them. Redis unsubscribes the moved channels on the old shard; each node
// subscribes them on the new one without restarting any subscription, only
// after the old shard's last message, and calls OnSubscribed for the moved
// users after any notification that passed them by, so the replay covers
// every gap and live messages keep their order.
func TestClusterBrokerReshard(t *testing.T) {
	c := redistest.NewCluster(t)
	db := c.NewDB(t)
	owners := c.Owners(t)
	prim := c.Primaries(t)
	from, to := prim[0], prim[1]
	var fromSlots []int
	for s, o := range owners {
		if o == from {
			fromSlots = append(fromSlots, s)
		}
	}
	sort.Ints(fromSlots)
	const move = 300 // redis-cli moves the lowest slots of the source
	moving := map[int]bool{}
	for _, s := range fromSlots[:move] {
		moving[s] = true
	}
	movers := usersOn(db.Prefix, "mv", 4, func(s int) bool { return moving[s] })
	stayers := usersOn(db.Prefix, "st", 2, func(s int) bool { return owners[s] == from && !moving[s] })
	users := append(append([]string(nil), movers...), stayers...)

	a, ra := startNode(t, db, "a", nil)
	b, rb := startNode(t, db, "b", nil)
	conns := map[string]*testConn{}
	for _, u := range users {
		conns[u] = b.connect(t, u)
	}
	settleRedis(t, []*suiteNode{a, b})

	// A stream of notifications to every user, each stamped with when
	// Publish returned, until the resharding is over.
	type sentNote struct {
		seq  int64
		done time.Time
	}
	var (
		mu      sync.Mutex
		sentTo  = map[string][]sentNote{}
		stop    = make(chan struct{})
		stopped = make(chan struct{})
	)
	go func() {
		defer close(stopped)
		for seq := int64(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			for _, u := range users {
				m := msg(herald.ToUser, u, fmt.Sprintf(`{"seq":%d}`, seq))
				m.Seq = seq
				if _, err := a.broker.Publish(context.Background(), m); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sentTo[u] = append(sentTo[u], sentNote{seq, time.Now()})
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	moved := c.Reshard(t, from, to, move)
	if len(moved) != move || moved[0] != fromSlots[0] {
		t.Fatalf("redis-cli moved %d slots from %d, want %d from %d", len(moved), moved[0], move, fromSlots[0])
	}
	settleRedis(t, []*suiteNode{a, b}) // subscribed on the new shard, as Redis reports it
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-stopped

	for _, u := range movers {
		if got := redis.SlotOf(db.Prefix + "u:" + u); c.Owners(t)[got] != to {
			t.Fatalf("%s's slot %d did not move", u, got)
		}
	}
	// Every notification a connection did not get live was published
	// before an OnSubscribed call for its user: the replay after that call
	// covers it. (Those published after it arrive, if late on a loaded
	// machine.)
	for _, u := range users {
		var missed []sentNote
		var resyncs []time.Time
		waitUntil(t, 15*time.Second, u+"'s notifications published after its last resync", func() bool {
			got := map[int64]bool{}
			for _, m := range conns[u].messages() {
				got[m.Seq] = true
			}
			resyncs = rb.resyncs(u)
			last := resyncs[len(resyncs)-1]
			mu.Lock()
			notes := sentTo[u]
			mu.Unlock()
			missed = missed[:0]
			for _, n := range notes {
				if !got[n.seq] {
					if !n.done.Before(last) {
						return false
					}
					missed = append(missed, n)
				}
			}
			return true
		})
		t.Logf("%s: %d missed live (then replayed), %d resyncs", u, len(missed), len(resyncs))
		// Live copies arrive in publish order: the new shard's only after
		// the old shard's last.
		var prev int64
		for _, m := range conns[u].messages() {
			if m.Seq <= prev {
				t.Errorf("%s got seq %d after %d", u, m.Seq, prev)
			}
			prev = m.Seq
		}
	}
	for _, u := range movers {
		if len(rb.resyncs(u)) < 2 {
			t.Errorf("%s moved shard but was not resynced", u)
		}
	}
	for _, u := range stayers {
		if n := len(rb.resyncs(u)); n != 1 {
			t.Errorf("%s did not move but was resynced %d times", u, n)
		}
	}
	for _, rn := range []*redisNode{ra, rb} {
		if n := metric(t, rn.metrics, "herald_broker_outages_total"); n != 0 {
			t.Errorf("node %s went degraded %v times during the resharding; want subscriptions moved, none restarted", rn.rb.NodeID(), n)
		}
	}
}

// TestClusterProbeCatchesSilentShard cuts one shard's subscriptions off
// without closing them (a proxy in front of the shard, which the cluster
// announces): only that shard's probe can notice. The nodes reconnect to it,
// resync its users, and the other shards' subscriptions are untouched.
func TestClusterProbeCatchesSilentShard(t *testing.T) {
	c := redistest.NewCluster(t)
	db := c.NewDB(t)
	owners := c.Owners(t)
	allShard := owners[redis.SlotOf(db.Prefix+"all")]
	var quiet, calm *redistest.Server
	for _, p := range c.Primaries(t) {
		switch {
		case p == allShard:
		case quiet == nil:
			quiet = p
		default:
			calm = p
		}
	}
	proxy := redistest.NewProxy(t, quiet.Addr())
	_, portStr, _ := net.SplitHostPort(proxy.Addr())
	port, _ := strconv.Atoi(portStr)
	c.Announce(t, quiet, port)
	cut := usersOn(db.Prefix, "cut", 1, func(s int) bool { return owners[s] == quiet })[0]
	fine := usersOn(db.Prefix, "fine", 1, func(s int) bool { return owners[s] == calm })[0]

	a, ra := startNode(t, db, "a", nil)
	b, rb := startNode(t, db, "b", nil)
	cutConn, fineConn := b.connect(t, cut), b.connect(t, fine)
	settleRedis(t, []*suiteNode{a, b})

	proxy.FreezeSubscribers()
	waitUntil(t, 20*time.Second, "node b to notice, reconnect and resync the cut shard's user", func() bool {
		return probeFailures(t, rb.metrics) > 0 && rb.rb.Healthy() == nil && len(rb.resyncs(cut)) >= 2
	})
	// Node a's subscription to that shard went through the proxy too, and
	// while it is down a skips publishing there (the other nodes resync
	// once it is back): wait for a to have noticed and come back as well,
	// or the publish below may be skipped.
	waitUntil(t, 20*time.Second, "node a to notice and reconnect too", func() bool {
		return probeFailures(t, ra.metrics) > 0 && ra.rb.Healthy() == nil
	})
	if n := len(rb.resyncs(fine)); n != 1 {
		t.Errorf("the user of an untouched shard was resynced %d times", n)
	}
	if rb.recovers.Load() != 0 {
		t.Errorf("OnRecover called %d times; only the cut shard's users needed a resync", rb.recovers.Load())
	}
	settleRedis(t, []*suiteNode{a, b})
	for i, u := range []string{cut, fine} {
		if _, err := a.broker.Publish(context.Background(), msg(herald.ToUser, u, fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	cutConn.waitCount(t, 1)
	fineConn.waitCount(t, 1)
}
