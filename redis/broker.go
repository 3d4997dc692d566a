package redis

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// BrokerConfig configures a Broker. The zero value works: it reaches Redis
// at DefaultURL under DefaultPrefix as node DefaultNodeID().
type BrokerConfig struct {
	// Client is the Redis connection pool (default: NewClient(DefaultURL)).
	// The subscription takes a connection of its own outside the pool.
	Client *goredis.Client
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
	// It is called on the goroutine that delivers messages, before it
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
	OnSubscribed func(user string)
	// PublishTimeout bounds one PUBLISH (default 500ms). A publish that fails
	// is not retried: the message was delivered locally, and other nodes are
	// told to resync once Redis answers again.
	PublishTimeout time.Duration
	// ProbeInterval is how often the node publishes a probe to itself
	// (default 2s), and ProbeTimeout how long it waits for it to come back
	// (default 2s) before it takes the subscription for dead and reconnects.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// reach Redis again (defaults 100ms and 2s); each attempt doubles the
	// wait, with jitter, up to the maximum.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// BatchSize caps the channels named in one SUBSCRIBE or UNSUBSCRIBE
	// (default 500).
	BatchSize int
	Logger    *slog.Logger // default: discard
	Metrics   *Metrics     // default: a fresh, unregistered set
}

func (c *BrokerConfig) setDefaults() error {
	if c.Client == nil {
		cl, err := NewClient(DefaultURL)
		if err != nil {
			return err
		}
		c.Client = cl
	}
	orDefault(&c.NodeID, DefaultNodeID())
	orDefault(&c.PublishTimeout, 500*time.Millisecond)
	orDefault(&c.ProbeInterval, 2*time.Second)
	orDefault(&c.ProbeTimeout, 2*time.Second)
	orDefault(&c.ReconnectMin, 100*time.Millisecond)
	orDefault(&c.ReconnectMax, 2*time.Second)
	orDefault(&c.BatchSize, 500)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	return ValidNodeID(c.NodeID)
}

// Broker is the cluster herald.Broker. Each user and each channel has a Redis
// channel of its own, and broadcasts share one; a node subscribes only to the
// users and channels that have connections on it (herald.Interest), so it
// receives only messages some local connection needs.
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
	cfg    BrokerConfig
	d      herald.Deliverer
	k      keys
	log    *slog.Logger
	m      *Metrics
	client *goredis.Client

	up         atomic.Bool // the subscription works: the last probe came back
	missed     atomic.Bool // a publish did not reach Redis since the last probe
	failLogged atomic.Bool // a publish failure was logged in this outage
	running    atomic.Bool
	probeSeq   atomic.Uint64

	mu    sync.Mutex
	want  map[string]struct{} // channels with local interest
	dirty map[string]struct{} // channels whose interest changed since last applied

	changed chan struct{} // interest changed
	kick    chan struct{} // probe now: a publish failed
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
	return &Broker{
		cfg:     cfg,
		d:       d,
		k:       newKeys(cfg.Prefix),
		log:     cfg.Logger,
		m:       cfg.Metrics,
		client:  cfg.Client,
		want:    make(map[string]struct{}),
		dirty:   make(map[string]struct{}),
		changed: make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
	}, nil
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
	if !b.up.Load() {
		b.missed.Store(true)
		b.m.published.WithLabelValues("skipped").Inc()
		return n, nil
	}
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	e := envelopeOf(m, b.cfg.NodeID)
	e.local = !ordered
	if err := b.client.Publish(pctx, topic, e.encode()).Err(); err != nil {
		b.missed.Store(true)
		b.m.published.WithLabelValues("failed").Inc()
		if b.failLogged.CompareAndSwap(false, true) {
			b.log.Warn("redis broker: publish failed; delivering locally, other nodes will resync", "err", err)
		}
		signal(b.kick)
		return n, nil
	}
	b.m.published.WithLabelValues("ok").Inc()
	return n, nil
}

// SetInterest records that audience a gained (on) or lost its local
// connections. It never blocks: Run applies the changes in batches.
func (b *Broker) SetInterest(a herald.Audience, on bool) {
	if a.Kind != herald.ToUser && a.Kind != herald.ToChannel {
		return
	}
	t := b.k.topic(a)
	b.mu.Lock()
	if on {
		b.want[t] = struct{}{}
	} else {
		delete(b.want, t)
	}
	b.dirty[t] = struct{}{}
	b.mu.Unlock()
	signal(b.changed)
}

// Healthy returns nil while the node's subscription works, and an
// EUNAVAILABLE error saying the node is degraded otherwise (before the first
// connection, and while Redis is unreachable).
func (b *Broker) Healthy() error {
	if b.up.Load() {
		return nil
	}
	return herald.Errorf(herald.EUNAVAILABLE, "Degraded: Redis is unreachable; this node serves its own connections only")
}

// Run subscribes and delivers what other nodes publish until ctx ends. It
// reconnects with backoff whenever Redis fails or the probe does not come
// back, subscribing again to everything the node needs. It returns nil when
// ctx ends, and an error only when called twice.
func (b *Broker) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("redis broker: Run called twice")
	}
	delay := b.cfg.ReconnectMin
	outage := false // messages may have been missed since the last time up
	logged := false // this outage was logged
	for {
		wasUp, err := b.session(ctx, &outage)
		if ctx.Err() != nil {
			b.setDown()
			return nil
		}
		outage = true
		if wasUp {
			delay, logged = b.cfg.ReconnectMin, false
		}
		if !logged {
			logged = true
			b.log.Warn("redis broker: Redis unreachable; delivering locally until it is back", "err", err)
		}
		b.setDown()
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(delay*2, b.cfg.ReconnectMax)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// errProbeLost ends a session whose probe did not come back.
var errProbeLost = errors.New("probe did not come back: the subscription is dead")

// session runs one subscription until it fails or ctx ends. It reports
// whether the subscription worked at some point. *outage says whether
// connections may have missed messages; the first probe that comes back
// then triggers OnRecover, and clears it.
func (b *Broker) session(ctx context.Context, outage *bool) (wasUp bool, err error) {
	ps := b.client.Subscribe(ctx)
	defer ps.Close()

	// Every channel the node needs, the probe's last. The probe is published
	// on another connection, so it is sent only once Redis has confirmed the
	// subscription to the probe's channel on this one: Redis answers a
	// connection's SUBSCRIBEs in order, so by then it has processed them all,
	// and a probe that does not come back really means a dead subscription.
	b.mu.Lock()
	topics := make([]string, 0, len(b.want)+2)
	for t := range b.want {
		topics = append(topics, t)
	}
	clear(b.dirty)
	b.mu.Unlock()
	probeTopic := b.k.probe(b.cfg.NodeID)
	topics = append(topics, b.k.all(), probeTopic)
	subscribed := make(map[string]struct{}, len(topics))
	if err := b.batch(ctx, ps.Subscribe, topics, subscribed, true); err != nil {
		return false, err
	}

	probes := make(chan string, 4)
	ready := make(chan struct{}, 1) // the probe's channel is subscribed
	errc := make(chan error, 1)
	readerDone := make(chan struct{})
	recovering := *outage
	go func() { defer close(readerDone); errc <- b.read(ps, probeTopic, probes, ready, recovering) }()
	defer func() { ps.Close(); <-readerDone }()

	tick := time.NewTicker(b.cfg.ProbeInterval)
	defer tick.Stop()
	var outstanding string        // nonce of the probe in flight
	var deadline <-chan time.Time // when it counts as lost
	// Until the subscriptions are confirmed, the session may take a while
	// (tens of thousands of channels), but not forever.
	subscribing := time.After(max(10*b.cfg.ProbeTimeout, 10*time.Second))
	confirmed := false
	sendProbe := func() error {
		if outstanding != "" || !confirmed {
			return nil
		}
		nonce := strconv.FormatUint(b.probeSeq.Add(1), 10)
		e := envelope{kind: kindProbe, origin: b.cfg.NodeID, name: nonce}
		pctx, cancel := context.WithTimeout(ctx, b.cfg.ProbeTimeout)
		defer cancel()
		if err := b.client.Publish(pctx, probeTopic, e.encode()).Err(); err != nil {
			return err
		}
		outstanding, deadline = nonce, time.After(b.cfg.ProbeTimeout)
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return wasUp, nil
		case <-ready:
			confirmed, subscribing = true, nil
			if err := sendProbe(); err != nil {
				return wasUp, err
			}
		case <-subscribing:
			b.m.probeFailures.Inc()
			return wasUp, errProbeLost
		case err := <-errc:
			return wasUp, err
		case <-b.changed:
			if err := b.applyInterest(ctx, ps, subscribed); err != nil {
				return wasUp, err
			}
		case <-b.kick:
			if err := sendProbe(); err != nil {
				return wasUp, err
			}
		case <-tick.C:
			if err := sendProbe(); err != nil {
				return wasUp, err
			}
		case <-deadline:
			b.m.probeFailures.Inc()
			return wasUp, errProbeLost
		case nonce := <-probes:
			if nonce != outstanding {
				continue // a late answer to an earlier session's probe
			}
			outstanding, deadline = "", nil
			if !wasUp {
				wasUp = true
				b.setUp()
			}
			*outage = false // the reader called OnRecover before passing the probe on
			if b.missed.Swap(false) {
				// Our publishes failed: other nodes' connections missed them.
				e := envelope{kind: kindResync, origin: b.cfg.NodeID}
				pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
				err := b.client.Publish(pctx, b.k.all(), e.encode()).Err()
				cancel()
				if err != nil {
					b.missed.Store(true)
					return wasUp, err
				}
			}
		}
	}
}

// maxHeld bounds the messages held while a recovering session waits for its
// first probe; beyond it they are dropped, and the replay that follows
// recovers the notifications among them.
const maxHeld = 100000

// read delivers what the subscription receives until it fails. When
// recovering, it holds messages until its first probe is back, which proves
// every SUBSCRIBE took effect, calls OnRecover, and delivers them after.
func (b *Broker) read(ps *goredis.PubSub, probeTopic string, probes chan<- string, ready chan<- struct{}, recovering bool) error {
	var held []*herald.Message
	for {
		msg, err := ps.Receive(context.Background())
		if err != nil {
			return err
		}
		if sub, ok := msg.(*goredis.Subscription); ok {
			if sub.Channel == probeTopic && sub.Kind == "subscribe" {
				select {
				case ready <- struct{}{}:
				default:
				}
			}
			// While recovering, OnRecover will replay to every connection.
			if user, isUser := strings.CutPrefix(sub.Channel, b.k.user("")); isUser && sub.Kind == "subscribe" && !recovering && b.cfg.OnSubscribed != nil {
				b.cfg.OnSubscribed(user)
			}
			continue
		}
		m, ok := msg.(*goredis.Message)
		if !ok {
			continue // pongs
		}
		e, err := decodeEnvelope(m.Payload)
		if err != nil {
			b.m.malformed.Inc()
			continue
		}
		switch {
		case e.kind == kindProbe:
			if m.Channel == probeTopic && e.origin == b.cfg.NodeID {
				if recovering {
					recovering = false
					b.recover()
					for _, hm := range held {
						b.m.received.Inc()
						b.d.Deliver(hm)
					}
					held = nil
				}
				select {
				case probes <- e.name:
				default:
				}
			}
		case e.kind == kindResync:
			// From any node, this one included: its failed publishes were
			// notifications its own connections missed too.
			if !recovering { // else OnRecover comes with the first probe
				b.recover()
			}
		case e.local && e.origin == b.cfg.NodeID:
			// Our own message: delivered locally when it was published.
		case recovering:
			if len(held) < maxHeld {
				held = append(held, e.message())
			} else {
				b.m.dropped.Inc()
			}
		default:
			b.m.received.Inc()
			b.d.Deliver(e.message())
		}
	}
}

// applyInterest subscribes to the channels that gained local interest and
// unsubscribes from those that lost it since the last call.
func (b *Broker) applyInterest(ctx context.Context, ps *goredis.PubSub, subscribed map[string]struct{}) error {
	var sub, unsub []string
	b.mu.Lock()
	for t := range b.dirty {
		_, want := b.want[t]
		_, have := subscribed[t]
		switch {
		case want && !have:
			sub = append(sub, t)
		case !want && have:
			unsub = append(unsub, t)
		}
	}
	clear(b.dirty)
	b.mu.Unlock()
	if err := b.batch(ctx, ps.Subscribe, sub, subscribed, true); err != nil {
		return err
	}
	return b.batch(ctx, ps.Unsubscribe, unsub, subscribed, false)
}

// batch sends op for topics, BatchSize at a time, and records the result in
// subscribed.
func (b *Broker) batch(ctx context.Context, op func(context.Context, ...string) error, topics []string, subscribed map[string]struct{}, on bool) error {
	for len(topics) > 0 {
		n := min(len(topics), b.cfg.BatchSize)
		if err := op(ctx, topics[:n]...); err != nil {
			return err
		}
		for _, t := range topics[:n] {
			if on {
				subscribed[t] = struct{}{}
			} else {
				delete(subscribed, t)
			}
		}
		topics = topics[n:]
	}
	b.m.subscriptions.Set(float64(len(subscribed)))
	return nil
}

// recover calls OnRecover.
func (b *Broker) recover() {
	b.m.resyncs.Inc()
	if b.cfg.OnRecover != nil {
		b.cfg.OnRecover()
	}
}

func (b *Broker) setUp() {
	if b.up.CompareAndSwap(false, true) {
		b.m.up.Set(1)
		b.failLogged.Store(false)
		b.log.Info("redis broker: subscribed", "node", b.cfg.NodeID)
	}
}

func (b *Broker) setDown() {
	if b.up.CompareAndSwap(true, false) {
		b.m.up.Set(0)
		b.m.outages.Inc()
	}
}

// signal wakes the receiver of c without blocking; pending wake-ups fold.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
