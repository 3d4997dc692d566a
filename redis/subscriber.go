package redis

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// subscriber is one subscription connection and the topics it carries: the
// only one on one Redis, one per shard (primary) on Redis Cluster. Each has
// its own probe, so a shard whose subscription dies silently is noticed.
type subscriber struct {
	b      *Broker
	shard  string          // the primary's address; "" on one Redis
	node   *goredis.Client // Redis Cluster: a client of the primary, for the subscription
	cancel context.CancelFunc

	up atomic.Bool // the last probe came back

	// Guarded by b.mu.
	dirty map[string]struct{} // topics whose interest or shard changed
	lost  []string            // topics Redis unsubscribed while still ours: routed again at the next slot map
	// subscribed holds the topics the current session subscribed to, the
	// probe's included, until Redis confirms their unsubscription. A topic
	// whose slot moved to another shard is subscribed there only once it
	// left this set: every message the old shard delivers for it is then
	// delivered before any the new one does, and one user's notifications
	// stay in order across the move.
	subscribed map[string]struct{}

	changed chan struct{} // dirty, lost or the slot map changed
	kick    chan struct{} // probe now: a publish failed
}

// run keeps a subscription up until ctx ends, reconnecting with backoff.
// outage says it starts as after an outage: what its topics missed is
// recovered once it is up.
func (s *subscriber) run(ctx context.Context, outage bool) {
	b := s.b
	defer b.wg.Done()
	if s.node != nil {
		defer s.node.Close()
	}
	delay := b.cfg.ReconnectMin
	logged := false // this outage was logged
	for {
		wasUp, err := s.session(ctx, &outage)
		if ctx.Err() != nil {
			s.setDown()
			return
		}
		outage = true
		if wasUp {
			delay, logged = b.cfg.ReconnectMin, false
		}
		if !logged {
			logged = true
			b.log.Warn("redis broker: Redis unreachable; delivering locally until it is back", "shard", s.shard, "err", err)
		}
		s.setDown()
		b.requestSlots() // a failover may have moved the shard
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(delay*2, b.cfg.ReconnectMax)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (s *subscriber) setUp() {
	if s.up.CompareAndSwap(false, true) {
		s.b.mu.Lock()
		s.b.updateUpLocked()
		s.b.mu.Unlock()
	}
}

func (s *subscriber) setDown() {
	if s.up.CompareAndSwap(true, false) {
		s.b.mu.Lock()
		s.b.updateUpLocked()
		s.b.mu.Unlock()
	}
}

// Errors that end a session.
var (
	errProbeLost = errors.New("probe did not come back: the subscription is dead")
	errNoSlots   = errors.New("the shard serves no slot any more")
)

// subscribe and unsubscribe return the commands of the topology.
func (s *subscriber) subscribe(ps *goredis.PubSub) func(context.Context, ...string) error {
	if s.b.sharded {
		return ps.SSubscribe
	}
	return ps.Subscribe
}

func (s *subscriber) unsubscribe(ps *goredis.PubSub) func(context.Context, ...string) error {
	if s.b.sharded {
		return ps.SUnsubscribe
	}
	return ps.Unsubscribe
}

// probeTopicLocked returns the subscriber's probe channel: on Redis Cluster
// one in the last slot its shard serves (reshardings take slots from the
// start of a range first), or "" when it serves none.
func (s *subscriber) probeTopicLocked() string {
	b := s.b
	if !b.sharded {
		return b.k.probe(b.cfg.NodeID)
	}
	if b.slotMap == nil {
		return ""
	}
	for sl := slots - 1; sl >= 0; sl-- {
		if b.slotMap.owner[sl] == s.shard {
			return b.k.shardProbe(b.cfg.NodeID, sl)
		}
	}
	return ""
}

// session runs one subscription until it fails or ctx ends. It reports
// whether the subscription worked at some point. *outage says whether
// connections may have missed messages; the first probe that comes back
// then triggers the recovery, and clears it.
func (s *subscriber) session(ctx context.Context, outage *bool) (wasUp bool, err error) {
	b := s.b
	var ps *goredis.PubSub
	if s.node != nil {
		ps = s.node.SSubscribe(ctx)
	} else {
		ps = b.client.Subscribe(ctx)
	}
	defer ps.Close()

	// Every channel of the shard the node needs, the probe's last. The
	// probe is published on another connection, so it is sent only once
	// Redis has confirmed the subscription to the probe's channel on this
	// one: Redis answers a connection's commands in order, so by then it
	// has processed them all, and a probe that does not come back really
	// means a dead subscription.
	b.mu.Lock()
	topics := make([]string, 0, len(b.want)+1)
	for t := range b.want {
		if b.routeLocked(t) == s && !b.heldElsewhereLocked(t, s) {
			topics = append(topics, t)
		}
	}
	clear(s.dirty)
	probe := s.probeTopicLocked()
	b.mu.Unlock()
	if probe == "" {
		return false, errNoSlots
	}
	defer s.endSession()
	if err := s.batch(ctx, s.subscribe(ps), append(topics, probe), true); err != nil {
		return false, err
	}

	probes, ready := make(chan string, 4), make(chan struct{}, 1)
	lost, moved := make(chan string, 1024), make(chan int, 64)
	r := &reader{s: s, ps: ps, probes: probes, ready: ready,
		lost: lost, moved: moved, quit: make(chan struct{}), recovering: *outage}
	r.probe.Store(&probe)
	errc := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); errc <- r.read() }()
	defer func() { close(r.quit); ps.Close(); <-readerDone }()

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
		if err := s.publishProbe(pctx, probe, e.encode()); err != nil {
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
		case t := <-lost:
			s.dropLost(t)
		case sl := <-moved:
			s.dropSlot(sl)
		case <-s.changed:
			next, err := s.applyInterest(ctx, ps, probe)
			if err != nil {
				return wasUp, err
			}
			if next != probe { // the probe's slot moved to another shard
				probe, outstanding, deadline, confirmed = next, "", nil, false
				r.probe.Store(&next)
				if err := s.batch(ctx, s.subscribe(ps), []string{next}, true); err != nil {
					return wasUp, err
				}
			}
		case <-s.kick:
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
				continue // a late answer to an earlier probe
			}
			outstanding, deadline = "", nil
			if !wasUp {
				wasUp = true
				s.setUp()
			}
			*outage = false // the reader recovered before passing the probe on
			if b.missed.Swap(false) {
				// Our publishes failed: other nodes' connections missed them.
				// A request that fails is asked again at the next probe; it
				// does not end this session, whose own subscription the
				// probe just proved (on Redis Cluster the request goes to
				// another shard, maybe the one that failed).
				e := envelope{kind: kindResync, origin: b.cfg.NodeID}
				all := b.k.all()
				pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
				err := b.publishVia(pctx, b.routes.Load().route(all, b.sharded), all, e.encode())
				cancel()
				if err != nil {
					b.missed.Store(true)
				}
			}
		}
	}
}

// publishProbe sends a probe: on Redis Cluster straight to the shard's
// primary, whose subscription it proves, rather than wherever go-redis's
// copy of the slot map (which may lag after a failover) would send it.
func (s *subscriber) publishProbe(ctx context.Context, probe string, payload []byte) error {
	if s.node == nil {
		return s.b.publish(ctx, probe, payload)
	}
	return s.publishDirect(ctx, probe, payload)
}

// publishDirect sends SPUBLISH to the shard's primary itself, on Redis
// Cluster, without retrying it.
func (s *subscriber) publishDirect(ctx context.Context, topic string, payload []byte) error {
	cmd := goredis.NewIntCmd(ctx, "spublish", topic, payload)
	_ = s.node.Process(ctx, noRetry{cmd})
	return cmd.Err()
}

// endSession forgets the session's subscriptions, and hands the topics
// whose slot moved to another shard meanwhile to that shard's subscriber.
func (s *subscriber) endSession() {
	b := s.b
	b.mu.Lock()
	for t := range s.subscribed {
		if _, want := b.want[t]; want {
			if dest := b.routeLocked(t); dest != nil && dest != s {
				dest.dirty[t] = struct{}{}
				signal(dest.changed)
			}
		}
	}
	s.gauge(-len(s.subscribed))
	clear(s.subscribed)
	b.mu.Unlock()
}

// dropLost records that Redis unsubscribed topic t: our SUNSUBSCRIBE of a
// topic whose slot moved, or the shard's own when the slot left it. Every
// message the shard had for t was delivered before. The subscriber of the
// shard now serving t subscribes to it; while the slot map still names this
// shard (it may lag), t waits for the next reading of the map.
func (s *subscriber) dropLost(t string) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s.dropLostLocked(t)
}

func (s *subscriber) dropLostLocked(t string) {
	b := s.b
	if _, ok := s.subscribed[t]; !ok {
		return // the answer to our own unsubscription
	}
	delete(s.subscribed, t)
	s.gauge(-1)
	if _, want := b.want[t]; !want {
		return
	}
	if dest := b.routeLocked(t); dest != nil && dest != s {
		dest.dirty[t] = struct{}{}
		signal(dest.changed)
		return
	}
	s.lost = append(s.lost, t)
	b.requestSlots()
}

// dropSlot handles a MOVED answer to a subscription command for slot sl:
// the shard no longer serves sl, so none of its topics are subscribed here.
func (s *subscriber) dropSlot(sl int) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for t := range s.subscribed {
		if slotOf(t) == sl {
			s.dropLostLocked(t)
		}
	}
	b.requestSlots()
}

// heldElsewhereLocked reports whether a subscriber other than s still holds
// topic t: its slot moved to s's shard, and the old shard has not yet
// confirmed the unsubscription.
func (b *Broker) heldElsewhereLocked(t string, s *subscriber) bool {
	for _, o := range b.subs {
		if o != s {
			if _, ok := o.subscribed[t]; ok {
				return true
			}
		}
	}
	return false
}

// movedSlot reports whether err is Redis's MOVED or ASK redirection, and
// the slot it names.
func movedSlot(err error) (int, bool) {
	var rerr goredis.Error
	if err == nil || !errors.As(err, &rerr) {
		return 0, false
	}
	f := strings.Fields(err.Error())
	if len(f) != 3 || (f[0] != "MOVED" && f[0] != "ASK") {
		return 0, false
	}
	sl, perr := strconv.Atoi(f[1])
	return sl, perr == nil && sl >= 0 && sl < slots
}

// applyInterest subscribes to the channels that gained local interest or
// came to this shard and unsubscribes from those that lost it or left the
// shard since the last call. A topic that left is forgotten only when Redis
// confirms (dropLost), and the new shard subscribes to it then. It returns
// the probe channel to use from now on, which changes when the probe's slot
// left the shard.
func (s *subscriber) applyInterest(ctx context.Context, ps *goredis.PubSub, probe string) (string, error) {
	b := s.b
	var sub, unsub, release []string
	b.mu.Lock()
	for t := range s.dirty {
		_, want := b.want[t]
		mine := b.routeLocked(t) == s
		_, have := s.subscribed[t]
		switch {
		case want && mine && !have && !b.heldElsewhereLocked(t, s):
			sub = append(sub, t)
		case have && !want:
			unsub = append(unsub, t)
		case have && !mine:
			release = append(release, t)
		}
	}
	clear(s.dirty)
	if b.sharded && b.routeLocked(probe) != s {
		release = append(release, probe)
		probe = s.probeTopicLocked()
	}
	b.mu.Unlock()
	if probe == "" {
		return "", errNoSlots
	}
	if err := s.batch(ctx, s.subscribe(ps), sub, true); err != nil {
		return probe, err
	}
	if err := s.batch(ctx, s.unsubscribe(ps), unsub, false); err != nil {
		return probe, err
	}
	// Released topics stay subscribed until Redis confirms: see dropLost.
	return probe, s.send(ctx, s.unsubscribe(ps), release)
}

// batch sends op for topics and records the result in subscribed: added
// when on, removed otherwise.
func (s *subscriber) batch(ctx context.Context, op func(context.Context, ...string) error, topics []string, on bool) error {
	b := s.b
	return s.each(ctx, op, topics, func(done []string) {
		b.mu.Lock()
		before := len(s.subscribed)
		for _, t := range done {
			if on {
				s.subscribed[t] = struct{}{}
			} else {
				delete(s.subscribed, t)
			}
		}
		s.gauge(len(s.subscribed) - before)
		b.mu.Unlock()
	})
}

// send sends op for topics without recording anything.
func (s *subscriber) send(ctx context.Context, op func(context.Context, ...string) error, topics []string) error {
	return s.each(ctx, op, topics, func([]string) {})
}

// each sends op for topics, at most BatchSize at a time and, on Redis
// Cluster, one slot at a time, calling done after each command.
func (s *subscriber) each(ctx context.Context, op func(context.Context, ...string) error, topics []string, done func([]string)) error {
	if len(topics) == 0 {
		return nil
	}
	groups := [][]string{topics}
	if s.b.sharded {
		bySlot := make(map[int][]string)
		for _, t := range topics {
			sl := slotOf(t)
			bySlot[sl] = append(bySlot[sl], t)
		}
		groups = groups[:0]
		for _, g := range bySlot {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		for len(g) > 0 {
			n := min(len(g), s.b.cfg.BatchSize)
			if err := op(ctx, g[:n]...); err != nil {
				return err
			}
			done(g[:n])
			g = g[n:]
		}
	}
	return nil
}

// gauge adds delta to the subscriptions gauge, which sums the channels
// every subscriber holds.
func (s *subscriber) gauge(delta int) {
	if delta != 0 {
		s.b.m.subscriptions.Add(float64(delta))
	}
}

// reader delivers what one subscription receives.
type reader struct {
	s      *subscriber
	ps     *goredis.PubSub
	probes chan<- string   // nonces of this node's probes that came back
	ready  chan<- struct{} // the probe's channel is subscribed
	lost   chan<- string   // topics Redis unsubscribed on its own
	moved  chan<- int      // slots Redis redirected a subscription of
	quit   chan struct{}   // closed when the session ends
	probe  atomic.Pointer[string]

	// recovering says the session follows an outage: messages are held
	// until the first probe is back, which proves every subscription took
	// effect, and then what the topics may have missed is recovered.
	recovering bool
	held       []*herald.Message
	sawAll     bool     // the broadcast topic was confirmed while recovering
	users      []string // users whose topics were confirmed while recovering
}

// maxHeld bounds the messages held while a recovering session waits for its
// first probe; beyond it they are dropped, and the replay that follows
// recovers the notifications among them.
const maxHeld = 100000

// read delivers what the subscription receives until it fails.
func (r *reader) read() error {
	b := r.s.b
	for {
		msg, err := r.ps.Receive(context.Background())
		if sl, ok := movedSlot(err); ok && b.sharded {
			// A subscription sent to a shard that no longer serves its
			// slot: the connection is fine, the slot map is stale.
			select {
			case r.moved <- sl:
			case <-r.quit:
			}
			continue
		}
		if err != nil {
			return err
		}
		switch msg := msg.(type) {
		case *goredis.Subscription:
			r.subscription(msg)
		case *goredis.Message:
			e, err := decodeEnvelope(msg.Payload)
			if err != nil {
				b.m.malformed.Inc()
				continue
			}
			r.deliver(msg.Channel, e)
		}
	}
}

// subscription handles Redis's confirmation of a subscription or an
// unsubscription.
func (r *reader) subscription(sub *goredis.Subscription) {
	b := r.s.b
	switch sub.Kind {
	case "subscribe", "ssubscribe":
	case "sunsubscribe":
		// Ours, or Redis's own when the channel's slot left the shard.
		select {
		case r.lost <- sub.Channel:
		case <-r.quit:
		}
		return
	default:
		return
	}
	if sub.Channel == *r.probe.Load() {
		select {
		case r.ready <- struct{}{}:
		default:
		}
		return
	}
	if sub.Channel == b.k.all() {
		switch {
		case r.recovering:
			r.sawAll = true
			b.allSeen.Store(true)
		case b.allSeen.Swap(true):
			// Subscribed again (its slot moved): resync requests other
			// nodes sent meanwhile were missed.
			b.recover()
		}
		return
	}
	user, isUser := strings.CutPrefix(sub.Channel, b.k.user(""))
	switch {
	case !isUser:
	case r.recovering:
		r.users = append(r.users, user)
	case b.cfg.OnSubscribed != nil:
		b.cfg.OnSubscribed(user)
	}
}

// deliver handles one message received on channel.
func (r *reader) deliver(channel string, e envelope) {
	b := r.s.b
	switch {
	case e.kind == kindProbe:
		if channel == *r.probe.Load() && e.origin == b.cfg.NodeID {
			if r.recovering {
				r.recovering = false
				r.recover()
				for _, hm := range r.held {
					b.deliverRemote(hm)
				}
				r.held = nil
			}
			select {
			case r.probes <- e.name:
			default:
			}
		}
	case e.kind == kindResync:
		// From any node, this one included: its failed publishes were
		// notifications its own connections missed too.
		if !r.recovering { // else the recovery comes with the first probe
			b.recover()
		}
	case e.local && e.origin == b.cfg.NodeID:
		// Our own message: delivered locally when it was published.
	case r.recovering:
		if len(r.held) < maxHeld {
			r.held = append(r.held, e.message())
		} else {
			b.m.dropped.Inc()
		}
	default:
		b.deliverRemote(e.message())
	}
}

// recover replays what the session's topics may have missed: to every
// connection (OnRecover) when the session carries the broadcast topic,
// whose resync requests it may have missed, or else, on Redis Cluster, to
// the connections of the users whose topics the shard carries.
func (r *reader) recover() {
	b := r.s.b
	if r.sawAll || !b.sharded {
		b.recover()
		return
	}
	if b.cfg.OnSubscribed != nil {
		for _, u := range r.users {
			b.cfg.OnSubscribed(u)
		}
	}
	r.users = nil
}
