package redis_test

// The shared broker suite: what every herald.Broker must do, run against the
// in-memory broker (one node) and the Redis broker (several nodes on a real
// redis-server). Each node is a real hub.Hub whose connections are test
// connections that record what they are sent.

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/redis"
)

// testConn is a connection that records the messages it is sent.
type testConn struct {
	user string
	mu   sync.Mutex
	got  []*herald.Message
}

func (c *testConn) UserID() string { return c.user }

func (c *testConn) Send(m *herald.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, m)
	return true
}

func (c *testConn) messages() []*herald.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*herald.Message(nil), c.got...)
}

// waitCount waits until c holds n messages and fails if it gets more.
func (c *testConn) waitCount(t *testing.T, n int) []*herald.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := c.messages()
		if len(got) > n {
			t.Fatalf("%s got %d messages, want %d: %s", c.user, len(got), n, payloads(got))
		}
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d messages after 5s, want %d: %s", c.user, len(got), n, payloads(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func payloads(ms []*herald.Message) string {
	var b bytes.Buffer
	for _, m := range ms {
		b.Write(m.Payload)
		b.WriteByte(' ')
	}
	return b.String()
}

// suiteNode is one node of the cluster under test.
type suiteNode struct {
	broker herald.Broker
	hub    *hub.Hub
	seen   *seenDeliverer // what the broker handed to the hub

	// For Redis nodes: the key prefix and a client, to ask Redis.
	prefix string
	client *redis.Client
}

// seenDeliverer is the hub as the broker sees it, recording every message
// the broker hands over, so a test can tell what reached a node at all.
type seenDeliverer struct {
	hub *hub.Hub
	mu  sync.Mutex
	got []*herald.Message
}

func (d *seenDeliverer) Deliver(m *herald.Message) int {
	d.mu.Lock()
	d.got = append(d.got, m)
	d.mu.Unlock()
	return d.hub.Deliver(m)
}

func (d *seenDeliverer) messages() []*herald.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*herald.Message(nil), d.got...)
}

// connect registers a connection of user on the node, subscribed to channels.
func (n *suiteNode) connect(t *testing.T, user string, channels ...string) *testConn {
	t.Helper()
	c := &testConn{user: user}
	if err := n.hub.Register(c); err != nil {
		t.Fatal(err)
	}
	for _, ch := range channels {
		if err := n.hub.Subscribe(c, ch); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// suiteCluster makes the nodes a test needs.
type suiteCluster struct {
	// maxNodes is how many nodes can share messages (1 for the memory broker).
	maxNodes int
	// start returns n running nodes sharing one transport.
	start func(t *testing.T, n int) []*suiteNode
	// settle waits until the interest registered so far has taken effect on
	// every node (a no-op where interest needs no time).
	settle func(t testing.TB, nodes []*suiteNode)
}

func msg(kind herald.AudienceKind, name, payload string) *herald.Message {
	return &herald.Message{To: herald.Audience{Kind: kind, Name: name}, Payload: []byte(payload)}
}

// runBrokerSuite runs the shared cases against sc.
func runBrokerSuite(t *testing.T, sc suiteCluster) {
	t.Run("LocalDeliveryOnce", func(t *testing.T) {
		n := sc.start(t, 1)[0]
		a1, a2 := n.connect(t, "alice"), n.connect(t, "alice")
		bob := n.connect(t, "bob", "news")
		sc.settle(t, []*suiteNode{n})
		m := msg(herald.ToUser, "alice", `{"n":1}`)
		m.Latest = true
		got, err := n.broker.Publish(context.Background(), m)
		if err != nil || got != 2 {
			t.Fatalf("Publish = %d, %v; want 2 local deliveries", got, err)
		}
		// A notification: it may reach local connections by another path,
		// but once, with its seq.
		note := msg(herald.ToUser, "alice", `{"n":2}`)
		note.Seq = 7
		if _, err := n.broker.Publish(context.Background(), note); err != nil {
			t.Fatal(err)
		}
		if _, err := n.broker.Publish(context.Background(), msg(herald.ToChannel, "news", `{"n":3}`)); err != nil {
			t.Fatal(err)
		}
		// The channel message went out after the others: once bob has it,
		// a second copy for alice would have arrived too.
		bob.waitCount(t, 1)
		for _, c := range []*testConn{a1, a2} {
			ms := c.waitCount(t, 2)
			if !ms[0].Latest || string(ms[0].Payload) != `{"n":1}` || ms[1].Seq != 7 || string(ms[1].Payload) != `{"n":2}` {
				t.Fatalf("alice got %s (%+v)", payloads(ms), ms[0])
			}
		}
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		n := sc.start(t, 1)[0]
		if _, err := n.broker.Publish(context.Background(), nil); herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("Publish(nil) = %v, want EINVALID", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := n.broker.Publish(ctx, msg(herald.ToUser, "a", `{}`)); err == nil {
			t.Fatal("Publish with a canceled context succeeded")
		}
	})

	if sc.maxNodes < 3 {
		return
	}

	t.Run("CrossNodeUserAndChannel", func(t *testing.T) {
		nodes := sc.start(t, 3)
		alice := nodes[1].connect(t, "alice")
		sub := nodes[2].connect(t, "carol", "room")
		bystander := nodes[0].connect(t, "dave")
		sc.settle(t, nodes)
		for i, nd := range nodes { // each node sends once to each audience
			if _, err := nd.broker.Publish(context.Background(), msg(herald.ToUser, "alice", fmt.Sprintf(`{"u":%d}`, i))); err != nil {
				t.Fatal(err)
			}
			m := msg(herald.ToChannel, "room", fmt.Sprintf(`{"c":%d}`, i))
			m.Seq = int64(i + 1)
			if _, err := nd.broker.Publish(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		got := alice.waitCount(t, 3)
		seen := map[string]bool{}
		for _, m := range got {
			seen[string(m.Payload)] = true
		}
		for i := range 3 {
			if !seen[fmt.Sprintf(`{"u":%d}`, i)] {
				t.Fatalf("alice missed node %d's message: %s", i, payloads(got))
			}
		}
		for _, m := range sub.waitCount(t, 3) {
			if m.To.Kind != herald.ToChannel || m.To.Name != "room" || m.Seq == 0 {
				t.Fatalf("channel message arrived as %+v", m)
			}
		}
		if len(bystander.messages()) != 0 {
			t.Fatalf("dave got %s", payloads(bystander.messages()))
		}
	})

	t.Run("BroadcastWithExcept", func(t *testing.T) {
		nodes := sc.start(t, 3)
		var everyone []*testConn
		for i, nd := range nodes {
			everyone = append(everyone, nd.connect(t, fmt.Sprintf("user%d", i)))
		}
		skipped := nodes[2].connect(t, "mallory")
		skipped2 := nodes[0].connect(t, "mallory")
		sc.settle(t, nodes)
		m := msg(herald.ToAll, "", `{"b":1}`)
		m.To.Except = "mallory"
		n, err := nodes[1].broker.Publish(context.Background(), m)
		if err != nil || n != 1 {
			t.Fatalf("Publish = %d, %v; want 1 local delivery", n, err)
		}
		for _, c := range everyone {
			c.waitCount(t, 1)
		}
		// A second broadcast to all: once it arrived, the first would have.
		if _, err := nodes[1].broker.Publish(context.Background(), msg(herald.ToAll, "", `{"b":2}`)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*testConn{skipped, skipped2} {
			if got := c.waitCount(t, 1); string(got[0].Payload) != `{"b":2}` {
				t.Fatalf("mallory got %s", payloads(got))
			}
		}
	})

	t.Run("NoInterestNoTraffic", func(t *testing.T) {
		nodes := sc.start(t, 2)
		alice := nodes[0].connect(t, "alice")
		bob := nodes[1].connect(t, "bob")
		sc.settle(t, nodes)
		// alice leaves node 0 for node 1; node 0 must stop receiving her messages.
		nodes[0].hub.Unregister(alice)
		alice2 := nodes[1].connect(t, "alice")
		sc.settle(t, nodes)
		late := nodes[0].connect(t, "late") // a node-0 connection that sees every broadcast
		sc.settle(t, nodes)
		if _, err := nodes[1].broker.Publish(context.Background(), msg(herald.ToUser, "alice", `{"a":1}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[1].broker.Publish(context.Background(), msg(herald.ToAll, "", `{"marker":1}`)); err != nil {
			t.Fatal(err)
		}
		late.waitCount(t, 1)
		bob.waitCount(t, 1)
		alice2.waitCount(t, 2)
		// The marker reached node 0 after alice's message would have.
		for _, m := range nodes[0].seen.messages() {
			if m.To.Kind == herald.ToUser {
				t.Fatalf("node 0 has no alice any more but received %s for %s", m.Payload, m.To.Name)
			}
		}
		if len(alice.messages()) != 0 {
			t.Fatalf("the departed connection got %s", payloads(alice.messages()))
		}
	})
}
