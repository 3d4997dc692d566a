package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald"
)

// EventField is the stream entry field holding the event as JSON, the body
// POST /api/events takes: {"id": "...", "event": "booking:confirmed", "data": {...}}.
const EventField = "event"

// ConsumerConfig configures a Consumer. Only Handler is required.
type ConsumerConfig struct {
	// Client is the Redis (default: NewClient of the zero ClientConfig). On
	// Redis Cluster the stream is one key, on the shard serving its slot.
	Client  *Client
	Handler herald.EventHandler // required
	// Stream is the stream producers XADD events to (default "herald:events").
	Stream string
	// Group is the consumer group the nodes share (default "herald"); each
	// entry goes to one node of the group. A group created here starts at
	// the beginning of the stream, so events queued before the first node
	// started are handled too.
	Group string
	// Consumer names this node in the group (default DefaultNodeID()).
	Consumer string
	// DeadLetter is the stream entries that can never succeed go to, with
	// the reason (default Stream + ":dead").
	DeadLetter string
	// Count is how many entries one read takes at most (default 100).
	Count int
	// Block is how long one read waits for entries (default 5s).
	Block time.Duration
	// ClaimIdle is how long an entry may stay delivered but unacknowledged
	// before another consumer takes it over (default 1m): its consumer died,
	// or has been retrying it that long. Keep it well above HandleTimeout.
	ClaimIdle time.Duration
	// ClaimInterval is how often the consumer looks for such entries
	// (default ClaimIdle/4).
	ClaimInterval time.Duration
	// HandleTimeout bounds handling one event (default 30s).
	HandleTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after a failure that may pass,
	// such as the store or Redis being down (defaults 200ms and 5s). The
	// ceiling is how late the consumer may notice that Redis is back: with
	// 30s, events queued after a Sentinel failover of 20s waited up to half
	// a minute more, while every node already reported ready.
	RetryMin time.Duration
	RetryMax time.Duration
	Logger   *slog.Logger // default: discard
	Metrics  *Metrics     // default: a fresh, unregistered set
}

func (c *ConsumerConfig) setDefaults() error {
	if c.Handler == nil {
		return herald.Errorf(herald.EINVALID, "stream consumer needs an event handler")
	}
	if c.Client == nil {
		cl, err := NewClient(ClientConfig{})
		if err != nil {
			return err
		}
		c.Client = cl
	}
	orDefault(&c.Stream, DefaultPrefix+"events")
	orDefault(&c.Group, "herald")
	orDefault(&c.Consumer, DefaultNodeID())
	orDefault(&c.DeadLetter, c.Stream+":dead")
	orDefault(&c.Count, 100)
	orDefault(&c.Block, 5*time.Second)
	orDefault(&c.ClaimIdle, time.Minute)
	orDefault(&c.ClaimInterval, c.ClaimIdle/4)
	orDefault(&c.HandleTimeout, 30*time.Second)
	orDefault(&c.RetryMin, 200*time.Millisecond)
	orDefault(&c.RetryMax, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Count < 0 || c.Block < 0 || c.ClaimIdle < 0 {
		return herald.Errorf(herald.EINVALID, "stream consumer limits must not be negative")
	}
	return ValidNodeID(c.Consumer)
}

// Consumer takes domain events from a Redis Stream through a consumer group
// and hands them to an EventHandler: producers need no HTTP, and bursts wait
// in the stream instead of failing.
//
// Delivery is at least once. An entry is acknowledged only after its event
// was handled (or dead-lettered); an entry whose consumer died stays pending
// and is claimed by another after ClaimIdle. Events are idempotent by id, so a
// second delivery creates nothing new; an event without an id gets its
// entry's id.
type Consumer struct {
	cfg    ConsumerConfig
	client *Client
	log    *slog.Logger
	m      *Metrics
}

// NewConsumer returns a Consumer; it touches Redis only in Run.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, client: cfg.Client, log: cfg.Logger.With("stream", cfg.Stream), m: cfg.Metrics}, nil
}

// Run consumes until ctx ends, and returns nil then. Redis failures are
// logged and retried with backoff; they never end Run.
func (c *Consumer) Run(ctx context.Context) error {
	b := backoff{min: c.cfg.RetryMin, max: c.cfg.RetryMax}
	ready := false     // the group exists
	ownPending := true // entries delivered to this consumer name before may wait
	var lastClaim time.Time
	for ctx.Err() == nil {
		var err error
		switch {
		case !ready:
			err = c.createGroup(ctx)
			ready = err == nil
		case ownPending:
			ownPending, err = c.read(ctx, "0")
		case time.Since(lastClaim) >= c.cfg.ClaimInterval:
			err = c.claim(ctx)
			if err == nil {
				lastClaim = time.Now()
			}
		default:
			_, err = c.read(ctx, ">")
		}
		if err == nil {
			b.reset()
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if strings.HasPrefix(err.Error(), "NOGROUP") {
			ready = false // the stream or group went away, as when Redis restarts empty
		}
		if b.first() {
			c.log.Warn("stream consumer: Redis failed; retrying", "err", err)
		}
		if !sleep(ctx, b.next()) {
			break
		}
	}
	return nil
}

// createGroup makes the group, and the stream with it, unless they exist.
func (c *Consumer) createGroup(ctx context.Context) error {
	err := c.client.XGroupCreateMkStream(ctx, c.cfg.Stream, c.cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// read handles one batch of entries: new ones (id ">") or those already
// delivered to this consumer (id "0"). more says whether a batch was full.
func (c *Consumer) read(ctx context.Context, id string) (more bool, err error) {
	block := c.cfg.Block
	if id != ">" {
		block = -1 // no BLOCK: the pending list answers at once
	}
	streams, err := c.client.XReadGroup(ctx, &goredis.XReadGroupArgs{
		Group:    c.cfg.Group,
		Consumer: c.cfg.Consumer,
		Streams:  []string{c.cfg.Stream, id},
		Count:    int64(c.cfg.Count),
		Block:    block,
	}).Result()
	if errors.Is(err, goredis.Nil) {
		return false, nil // nothing within Block
	}
	if err != nil {
		return false, err
	}
	n := 0
	for _, s := range streams {
		n += len(s.Messages)
		if err := c.handleAll(ctx, s.Messages); err != nil {
			return false, err
		}
	}
	return n >= c.cfg.Count, nil
}

// claim takes over the entries idle longer than ClaimIdle, from any
// consumer, and handles them.
func (c *Consumer) claim(ctx context.Context) error {
	start := "0-0"
	for {
		msgs, next, err := c.client.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
			Stream:   c.cfg.Stream,
			Group:    c.cfg.Group,
			Consumer: c.cfg.Consumer,
			MinIdle:  c.cfg.ClaimIdle,
			Start:    start,
			Count:    int64(c.cfg.Count),
		}).Result()
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			c.m.claimed.Add(float64(len(msgs)))
			c.log.Info("stream consumer: claimed idle entries", "count", len(msgs))
			if err := c.handleAll(ctx, msgs); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// handleAll handles msgs in order, each until it succeeds or can never
// succeed, and acknowledges each.
func (c *Consumer) handleAll(ctx context.Context, msgs []goredis.XMessage) error {
	for _, msg := range msgs {
		if msg.Values == nil {
			// Deleted from the stream while pending: nothing to handle.
			if err := c.client.XAck(ctx, c.cfg.Stream, c.cfg.Group, msg.ID).Err(); err != nil {
				return err
			}
			continue
		}
		if err := c.handle(ctx, msg); err != nil {
			return err
		}
	}
	return nil
}

// handle runs one entry's event, retrying failures that may pass, and then
// acknowledges it; an entry that can never succeed is dead-lettered first.
// It returns an error only for Redis failures and when ctx ends.
func (c *Consumer) handle(ctx context.Context, msg goredis.XMessage) error {
	e, perr := parseEntry(msg)
	b := backoff{min: c.cfg.RetryMin, max: c.cfg.RetryMax}
	for perr == nil {
		hctx, cancel := context.WithTimeout(ctx, c.cfg.HandleTimeout)
		_, err := c.cfg.Handler.HandleEvent(hctx, e)
		cancel()
		if err == nil {
			c.m.events.WithLabelValues("ok").Inc()
			return c.client.XAck(ctx, c.cfg.Stream, c.cfg.Group, msg.ID).Err()
		}
		if !transient(err) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			perr = err
			break
		}
		c.m.events.WithLabelValues("retry").Inc()
		if b.first() {
			c.log.Warn("stream consumer: event failed; retrying", "entry", msg.ID, "event", e.Name, "err", err)
		}
		if !sleep(ctx, b.next()) {
			return ctx.Err()
		}
	}
	c.m.events.WithLabelValues("invalid").Inc()
	c.log.Warn("stream consumer: event refused; dead-lettered", "entry", msg.ID, "err", herald.ErrorMessage(perr))
	fields := map[string]any{"entry": msg.ID, "error": herald.ErrorMessage(perr)}
	if v, ok := msg.Values[EventField].(string); ok {
		fields[EventField] = v
	}
	// Dead letter first, then acknowledge: on Redis Cluster the two streams
	// may live on different shards, where no transaction spans both. A
	// failure between them leaves the entry pending, to be dead-lettered
	// again: at least once, never lost.
	if err := c.client.XAdd(ctx, &goredis.XAddArgs{Stream: c.cfg.DeadLetter, MaxLen: 10000, Approx: true, Values: fields}).Err(); err != nil {
		return err
	}
	return c.client.XAck(ctx, c.cfg.Stream, c.cfg.Group, msg.ID).Err()
}

// parseEntry decodes the event an entry carries. An event without an id
// takes "stream:" and the entry's id, so its redeliveries stay idempotent.
func parseEntry(msg goredis.XMessage) (*herald.Event, error) {
	raw, ok := msg.Values[EventField].(string)
	if !ok {
		return nil, herald.Errorf(herald.EINVALID, "entry has no %q field", EventField)
	}
	var e herald.Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "the %q field is not a JSON event", EventField)
	}
	if e.ID == "" {
		e.ID = "stream:" + msg.ID
	}
	return &e, nil
}

// transient reports whether err may pass on a later try.
func transient(err error) bool {
	switch herald.CodeOf(err) {
	case herald.EINTERNAL, herald.EUNAVAILABLE, herald.ERATELIMIT:
		return true
	}
	return false
}

// backoff doubles a wait, with jitter, between min and max.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) first() bool { return b.cur == 0 }
func (b *backoff) reset()      { b.cur = 0 }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

// sleep waits d unless ctx ends first, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
