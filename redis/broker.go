package redis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// BrokerConfig configures a Broker. The zero value works: it reaches Redis
// at DefaultURL under DefaultPrefix as node DefaultNodeID().
type BrokerConfig struct {
	// Client is the Redis, in any topology (default: NewClient of the zero
	// ClientConfig). The subscriptions take connections of their own
	// outside its pool: one, or on Redis Cluster one per shard.
	Client *Client
	// NodeID names this node; every node of a cluster needs its own
	// (default DefaultNodeID()).
	NodeID string
	// Prefix starts every channel name (default DefaultPrefix).
	Prefix string
	// OnRecover is called when messages from other nodes may have been
	// lost: after the subscription came back from an outage, or when another
	// node reports that its publishes failed. Herald replays missed
	// notifications to every connection there (ws.Server.Resync).
	//
	// It is called on a goroutine that delivers messages, before it
	// delivers any message received after the resubscription (or after the
	// other node's report), so it must return quickly; a connection that
	// starts holding live messages before OnRecover returns, and replays
	// from the store after, gets each notification once and in order.
	OnRecover func()
	// OnSubscribed is called with a user's id once Redis has confirmed the
	// subscription to that user's topic, which follows the user's first
	// connection to this node. Until then a notification published for the
	// user could pass this node by; the ws server replays what the user's
	// connections may have missed (ws.Server.ResyncUser). It must not block.
	//
	// On Redis Cluster it is also how a node recovers one shard's users:
	// after that shard's outage or failover, and when a resharding moved a
	// user's slot to another shard, it is called for each user whose topic
	// the shard carries, in place of OnRecover for every connection. On
	// every topology it is called too, before the notification is
	// delivered, when a user's notification arrives whose seq skips some
	// after the last one delivered here (see deliverRemote).
	OnSubscribed func(user string)
	// PublishTimeout bounds one PUBLISH (default 500ms). A publish that fails
	// is not retried: the message was delivered locally, and other nodes are
	// told to resync once Redis answers again.
	PublishTimeout time.Duration
	// ProbeInterval is how often the node publishes a probe to itself on
	// each subscription (default 2s), and ProbeTimeout how long it waits for
	// it to come back (default 2s) before it takes the subscription for dead
	// and reconnects.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// reach Redis again (defaults 100ms and 2s); each attempt doubles the
	// wait, with jitter, up to the maximum.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// TopologyInterval is how often, on Redis Cluster, the node reads which
	// shard serves which slot (default 5s; every second while a shard is
	// unreachable, and at once when Redis says a slot moved).
	TopologyInterval time.Duration
	// BatchSize caps the channels named in one SUBSCRIBE or UNSUBSCRIBE
	// (default 500). On Redis Cluster one SSUBSCRIBE names channels of one
	// slot only.
	BatchSize int
	Logger    *slog.Logger // default: discard
	Metrics   *Metrics     // default: a fresh, unregistered set
}

func (c *BrokerConfig) setDefaults() error {
	if c.Client == nil {
		cl, err := NewClient(ClientConfig{})
		if err != nil {
			return err
		}
		c.Client = cl
	}
	orDefault(&c.NodeID, DefaultNodeID())
	orDefault(&c.Prefix, DefaultPrefix)
	orDefault(&c.PublishTimeout, 500*time.Millisecond)
	orDefault(&c.ProbeInterval, 2*time.Second)
	orDefault(&c.ProbeTimeout, 2*time.Second)
	orDefault(&c.ReconnectMin, 100*time.Millisecond)
	orDefault(&c.ReconnectMax, 2*time.Second)
	orDefault(&c.TopologyInterval, 5*time.Second)
	orDefault(&c.BatchSize, 500)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if err := checkPrefix(c.Prefix, c.Client.Topology()); err != nil {
		return err
	}
	return ValidNodeID(c.NodeID)
}

// Broker is the cluster herald.Broker. Each user and each channel has a Redis
// channel of its own, and broadcasts share one; a node subscribes only to the
// users and channels that have connections on it (herald.Interest), so it
// receives only messages some local connection needs.
//
// On one Redis (alone or behind Sentinel) the node has one subscription. On
// Redis Cluster the channels are sharded channels, each served by the shard
// that owns its slot: the node keeps one subscription per shard, each with
// its own probe, follows the slot map (failovers, reshardings) and moves a
// channel's subscription when its slot moves.
//
// Most messages are delivered to the local connections at once and then
// published; the origin skips the copy Redis hands back. So local recipients
// never wait for a round trip, Publish counts exactly the local deliveries,
// and a node cut off from Redis still serves its own connections: while Redis
// is down Publish delivers locally, counts the message as skipped, and
// returns no error.
//
// Notifications (messages with a Seq) go through Redis to every node, the
// origin included, so that every connection sees one user's notifications
// in the order Redis saw them, which is their seq order when they were
// created one after the other, whatever nodes created them. While Redis is
// down they are not delivered live at all: they are durable, and replayed in
// seq order to every connection when the node recovers (OnRecover). Were the
// origin to deliver its own at once during an outage, a client would see
// them ahead of the ones other nodes created in the meantime.
type Broker struct {
	cfg     BrokerConfig
	d       herald.Deliverer
	k       keys
	log     *slog.Logger
	m       *Metrics
	client  *Client
	sharded bool // Redis Cluster: SSUBSCRIBE and SPUBLISH, one subscriber per shard

	up         atomic.Bool // every subscription works: its last probe came back
	missed     atomic.Bool // a publish did not reach Redis since the last probe
	failLogged atomic.Bool // a publish failure was logged in this outage
	running    atomic.Bool
	probeSeq   atomic.Uint64
	// allSeen says the broadcast topic was subscribed before: a later
	// confirmation of it outside a recovery follows a gap in which other
	// nodes' resync requests may have been missed.
	allSeen atomic.Bool

	// routes is the subscriber of each slot (or the only one), for Publish
	// to skip a shard known down without taking mu.
	routes atomic.Pointer[routeTable]

	// lastSeq is, per user with local connections, the greatest
	// notification seq delivered from Redis: a greater one that skips some
	// reveals notifications that passed this node by (see deliverRemote).
	seqMu   sync.Mutex
	lastSeq map[string]int64

	mu      sync.Mutex
	want    map[string]struct{}    // topics to subscribe: local interest, and the broadcast topic
	subs    map[string]*subscriber // by shard: its primary's address, "" on one Redis
	slotMap *slotMap               // Redis Cluster: the shard serving each slot; nil until read
	ctx     context.Context        // Run's, for subscribers started later
	wg      sync.WaitGroup         // subscribers' goroutines

	refresh chan struct{} // Redis Cluster: read the slot map again now
}

var (
	_ herald.Broker   = (*Broker)(nil)
	_ herald.Interest = (*Broker)(nil)
)

// NewBroker returns a Broker that delivers to d what this node and the
// others publish. It does not touch Redis before Run.
func NewBroker(d herald.Deliverer, cfg BrokerConfig) (*Broker, error) {
	if d == nil {
		return nil, herald.Errorf(herald.EINVALID, "redis broker needs a Deliverer")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:     cfg,
		d:       d,
		k:       newKeys(cfg.Prefix, cfg.Client.Topology()),
		log:     cfg.Logger,
		m:       cfg.Metrics,
		client:  cfg.Client,
		sharded: cfg.Client.Topology() == TopologyCluster,
		want:    make(map[string]struct{}),
		subs:    make(map[string]*subscriber),
		lastSeq: make(map[string]int64),
		refresh: make(chan struct{}, 1),
	}
	b.want[b.k.all()] = struct{}{}
	return b, nil
}

// NodeID returns the id the broker marks its messages with.
func (b *Broker) NodeID() string { return b.cfg.NodeID }

// Publish delivers m to this node's connections of its audience, then
// publishes it for the other nodes, and returns the local deliveries; a
// notification (Seq > 0) reaches local connections through Redis instead,
// and counts 0 here. A Redis failure is logged (once per outage) and counted,
// not returned: notifications are durable and replayed once Redis is back.
func (b *Broker) Publish(ctx context.Context, m *herald.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if m == nil {
		return 0, herald.Errorf(herald.EINVALID, "message is required")
	}
	topic := b.k.topic(m.To)
	if topic == "" {
		return 0, herald.Errorf(herald.EINVALID, "unknown audience kind %d", m.To.Kind)
	}
	ordered := m.Seq > 0
	n := 0
	if !ordered {
		n = b.d.Deliver(m)
	}
	// A shard whose subscription is down is taken for unreachable: the
	// message is not published there (on Redis Cluster the other shards
	// still take theirs), and the other nodes resync once it is back.
	s := b.routes.Load().route(topic, b.sharded)
	if s == nil || !s.up.Load() {
		b.missed.Store(true)
		b.m.published.WithLabelValues("skipped").Inc()
		return n, nil
	}
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	e := envelopeOf(m, b.cfg.NodeID)
	e.local = !ordered
	if err := b.publishVia(pctx, s, topic, e.encode()); err != nil {
		b.missed.Store(true)
		b.m.published.WithLabelValues("failed").Inc()
		if b.failLogged.CompareAndSwap(false, true) {
			b.log.Warn("redis broker: publish failed; delivering locally, other nodes will resync", "err", err)
		}
		if cc := b.client.cluster(); cc != nil {
			cc.ReloadState(ctx) // go-redis may still know a failed primary
		}
		b.kickAll()
		return n, nil
	}
	b.m.published.WithLabelValues("ok").Inc()
	return n, nil
}

// publishVia publishes payload on topic, which s carries. On Redis Cluster,
// go-redis's copy of the slot map can lag the broker's after a failover and
// still name the dead primary: a publish that could not even reach it never
// left, and is sent once more, straight to the primary s subscribes on.
func (b *Broker) publishVia(ctx context.Context, s *subscriber, topic string, payload []byte) error {
	err := b.publish(ctx, topic, payload)
	if err != nil && s != nil && s.node != nil && unsent(err, s.shard) {
		err = s.publishDirect(ctx, topic, payload)
	}
	return err
}

// unsent reports whether err says the command never reached Redis, because
// no connection could be made to a node other than shard. Sending it again
// to shard then cannot deliver it twice.
func unsent(err error, shard string) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && (op.Addr == nil || op.Addr.String() != shard)
}

// noRetry is a command go-redis must not retry after a failure: a PUBLISH
// whose reply was lost may have been delivered, and a second one would
// deliver twice. (Redirections are still followed on Redis Cluster.)
type noRetry struct{ *goredis.IntCmd }

func (noRetry) NoRetry() bool { return true }

// publish sends payload to topic: PUBLISH, or SPUBLISH on Redis Cluster,
// where the shard serving the topic's slot takes it.
func (b *Broker) publish(ctx context.Context, topic string, payload []byte) error {
	verb := "publish"
	if b.sharded {
		verb = "spublish"
	}
	cmd := goredis.NewIntCmd(ctx, verb, topic, payload)
	_ = b.client.Process(ctx, noRetry{cmd})
	return cmd.Err()
}

// SetInterest records that audience a gained (on) or lost its local
// connections. It never blocks: the subscriber of the topic's shard applies
// the changes in batches.
func (b *Broker) SetInterest(a herald.Audience, on bool) {
	if a.Kind != herald.ToUser && a.Kind != herald.ToChannel {
		return
	}
	t := b.k.topic(a)
	if !on && a.Kind == herald.ToUser {
		b.seqMu.Lock()
		delete(b.lastSeq, a.Name)
		b.seqMu.Unlock()
	}
	b.mu.Lock()
	if on {
		b.want[t] = struct{}{}
	} else {
		delete(b.want, t)
	}
	// Without a subscriber yet (Redis Cluster before its slot map is
	// read), the topic waits in want: a subscriber's first session
	// subscribes to every wanted topic of its shard.
	if s := b.routeLocked(t); s != nil {
		s.dirty[t] = struct{}{}
		signal(s.changed)
	}
	b.mu.Unlock()
}

// routeTable is a snapshot of which subscriber carries which topics.
type routeTable struct {
	single *subscriber
	bySlot [slots]*subscriber
}

func (r *routeTable) route(t string, sharded bool) *subscriber {
	switch {
	case r == nil:
		return nil
	case sharded:
		return r.bySlot[slotOf(t)]
	}
	return r.single
}

// updateRoutesLocked publishes a new routeTable after the subscribers or
// the slot map changed.
func (b *Broker) updateRoutesLocked() {
	r := &routeTable{single: b.subs[""]}
	if b.sharded && b.slotMap != nil {
		for sl, a := range b.slotMap.owner {
			r.bySlot[sl] = b.subs[a]
		}
	}
	b.routes.Store(r)
}

// deliverRemote hands a message from Redis to the local connections. A
// user's notification whose seq skips some after the last one delivered
// here reveals notifications that passed this node by (their publish failed
// or was skipped while a shard was down, or it is still in flight from
// another node): before delivering it, the user's connections replay from
// the store (OnSubscribed), which holds every skipped one since a user's
// notifications commit in seq order. So connections see them in order.
func (b *Broker) deliverRemote(m *herald.Message) {
	if m.Seq > 0 && m.To.Kind == herald.ToUser {
		b.seqMu.Lock()
		last, known := b.lastSeq[m.To.Name]
		if m.Seq > last {
			b.lastSeq[m.To.Name] = m.Seq
		}
		b.seqMu.Unlock()
		if known && m.Seq > last+1 && b.cfg.OnSubscribed != nil {
			b.m.gaps.Inc()
			b.cfg.OnSubscribed(m.To.Name)
		}
	}
	b.m.received.Inc()
	b.d.Deliver(m)
}

// routeLocked returns the subscriber that carries topic t, or nil while
// the shard serving t is not known.
func (b *Broker) routeLocked(t string) *subscriber {
	if !b.sharded {
		return b.subs[""]
	}
	if b.slotMap == nil {
		return nil
	}
	return b.subs[b.slotMap.owner[slotOf(t)]]
}

// Healthy returns nil while the node's subscriptions work, and an
// EUNAVAILABLE error saying the node is degraded otherwise (before the first
// connection, and while Redis, or on Redis Cluster one of its shards, is
// unreachable).
func (b *Broker) Healthy() error {
	if b.up.Load() {
		return nil
	}
	return herald.Errorf(herald.EUNAVAILABLE, "Degraded: Redis is unreachable; this node serves its own connections only")
}

// Run subscribes and delivers what other nodes publish until ctx ends. Each
// subscription reconnects with backoff whenever Redis fails or its probe
// does not come back, subscribing again to everything the node needs; on
// Redis Cluster, Run also follows the slot map. It returns nil when ctx
// ends, and an error only when called twice.
func (b *Broker) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("redis broker: Run called twice")
	}
	b.mu.Lock()
	b.ctx = ctx
	if !b.sharded {
		b.startSubscriberLocked("", false)
	}
	b.mu.Unlock()
	if b.sharded {
		b.followSlots(ctx)
	}
	<-ctx.Done()
	b.wg.Wait()
	b.mu.Lock()
	clear(b.subs)
	b.updateRoutesLocked()
	b.updateUpLocked()
	b.mu.Unlock()
	return nil
}

// startSubscriberLocked starts the subscriber of shard addr. One started
// after the node was up begins as after an outage: it recovers what its
// topics may have missed before it came.
func (b *Broker) startSubscriberLocked(addr string, outage bool) *subscriber {
	ctx, cancel := context.WithCancel(b.ctx)
	s := &subscriber{
		b:          b,
		shard:      addr,
		cancel:     cancel,
		dirty:      make(map[string]struct{}),
		subscribed: make(map[string]struct{}),
		changed:    make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
	}
	if b.sharded {
		s.node = b.client.nodeClient(addr)
	}
	b.subs[addr] = s
	b.m.shards.Set(float64(len(b.subs)))
	b.updateRoutesLocked()
	b.updateUpLocked()
	b.wg.Add(1)
	go s.run(ctx, outage)
	return s
}

// updateUpLocked sets the node up when every subscriber is, and down when
// one is not.
func (b *Broker) updateUpLocked() {
	all := len(b.subs) > 0
	for _, s := range b.subs {
		if !s.up.Load() {
			all = false
			break
		}
	}
	switch {
	case all && b.up.CompareAndSwap(false, true):
		b.m.up.Set(1)
		b.failLogged.Store(false)
		b.log.Info("redis broker: subscribed", "node", b.cfg.NodeID, "shards", len(b.subs))
	case !all && b.up.CompareAndSwap(true, false):
		b.m.up.Set(0)
		b.m.outages.Inc()
	}
}

// kickAll asks every subscriber to probe now: a publish failed.
func (b *Broker) kickAll() {
	b.mu.Lock()
	for _, s := range b.subs {
		signal(s.kick)
	}
	b.mu.Unlock()
}

// requestSlots asks, on Redis Cluster, for the slot map to be read again.
func (b *Broker) requestSlots() {
	if b.sharded {
		signal(b.refresh)
	}
}

// recover calls OnRecover.
func (b *Broker) recover() {
	b.m.resyncs.Inc()
	if b.cfg.OnRecover != nil {
		b.cfg.OnRecover()
	}
}

// signal wakes the receiver of c without blocking; pending wake-ups fold.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
