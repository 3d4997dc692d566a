// Package delivery takes notifications beyond the socket: by email, SMS, web
// push and webhook, as each user's preferences say, through a durable outbox.
//
// Planning happens as the notification is stored: the inbox hands the
// Service's Planner to the Store, which reads the user's preferences and push
// subscriptions, plans the deliveries and writes them in the notification's
// own transaction. A notification is therefore never stored without its
// deliveries, and a crash can lose neither. A user who switched in_app off
// for the type gets the notification stored read and silent in that same
// transaction; it never reaches a socket.
//
// Workers (Service.Run) claim due deliveries with a lease, send them through
// the channel's herald.ChannelSender, and record the outcome: sent; failed,
// retried with exponential backoff; or dead after MaxAttempts. A worker that
// dies mid-send leaves a lease that expires, and another worker sends again
// with the same idempotency key (the delivery id), which providers that take
// one use to drop the repeat. Escalations are deliveries due later and
// cancelled when the notification is read; digest items wait for the user's
// next digest and go out together as one email.
//
// Every decision reads the injected clock (Config.Now), so tests drive
// escalations, retries and digests by moving the clock and calling RunOnce.
package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults of Config.
const (
	DefaultWorkers      = 4
	DefaultBatch        = 16
	DefaultLease        = 2 * time.Minute
	DefaultSendTimeout  = 30 * time.Second
	DefaultMaxAttempts  = 8
	DefaultRetryBase    = 30 * time.Second
	DefaultRetryMax     = time.Hour
	DefaultPollInterval = time.Second
	DefaultDigestPeriod = 24 * time.Hour
	DefaultRetention    = 30 * 24 * time.Hour
	// DefaultBadgeInterval coalesces a user's badge updates.
	DefaultBadgeInterval = 3 * time.Second
)

// Store is what the Service needs of a store: the outbox, the preferences,
// the mobile devices and the users' unread counts (for badges). The sqlite,
// postgres and memory stores are all of them.
type Store interface {
	herald.DeliveryStore
	herald.PreferenceStore
	herald.DeviceStore
	UnreadCount(ctx context.Context, userID string) (herald.Unread, error)
}

// Config configures a Service. Store is required; every other field has a
// working zero value.
type Config struct {
	// Store holds the outbox and the preferences. Required.
	Store Store
	// Senders send over each channel. A channel without one is never
	// planned, so a node without SMTP settings plans no email. The push
	// sender is web push's.
	Senders map[herald.Channel]herald.ChannelSender
	// DeviceSenders send push deliveries to mobile devices, by platform
	// (FCM, APNs); devices of a platform without one are never planned.
	DeviceSenders map[herald.Platform]herald.ChannelSender
	// Badges set the badge of each platform's devices after a read or a
	// delete moved the user's unread count (none: no badge updates).
	Badges map[herald.Platform]herald.BadgeSender
	// BadgeInterval coalesces badge updates: at most one per user per
	// interval (default 3s), carrying the count at its end.
	BadgeInterval time.Duration
	// Policies maps a notification type, or herald.AnyType, to its default
	// channels, escalation steps and digest flag. Without any, only in_app
	// is on and the users' own switches decide the rest.
	Policies map[string]herald.TypePolicy
	// Now is the clock of every decision (default time.Now).
	Now func() time.Time
	// Workers is how many deliveries are sent at once (default 4).
	Workers int
	// Batch is how many deliveries a worker claims at a time (default 16).
	Batch int
	// Lease is how long a claim holds a delivery (default 2m). A worker
	// that dies is replaced after it; it is at least twice SendTimeout, so
	// a live worker's send never outlasts its lease.
	Lease time.Duration
	// SendTimeout bounds one send (default 30s).
	SendTimeout time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is dead
	// (default 8).
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff: base·2^(attempt-1), at most
	// max, with ±20% jitter (defaults 30s and 1h).
	RetryBase, RetryMax time.Duration
	// PollInterval is how often idle workers look for due deliveries
	// (default 1s); new immediate deliveries wake them at once.
	PollInterval time.Duration
	// DigestPeriod is the digest's period (default 24h): a daily digest
	// goes out at the user's local midnight.
	DigestPeriod time.Duration
	// Retention is how long finished deliveries are kept (default 30 days).
	Retention time.Duration
	// Logger receives failures (default slog.Default()). Logs name users
	// and delivery ids, never addresses, endpoints or secrets.
	Logger *slog.Logger
	// Metrics counts plans and attempts (default: an unregistered set).
	Metrics *Metrics
}

// Service plans deliveries and runs the workers that send them.
type Service struct {
	cfg     Config
	store   Store
	planner *Planner
	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics

	wakeMu sync.Mutex
	wake   chan struct{} // closed and replaced by Wake

	badges badges
}

// New returns a Service for c.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, herald.Errorf(herald.EINTERNAL, "delivery: a store is required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SendTimeout, DefaultSendTimeout)
	def(&c.Lease, DefaultLease)
	def(&c.RetryBase, DefaultRetryBase)
	def(&c.RetryMax, DefaultRetryMax)
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.DigestPeriod, DefaultDigestPeriod)
	def(&c.Retention, DefaultRetention)
	c.Lease = max(c.Lease, 2*c.SendTimeout)
	c.RetryMax = max(c.RetryMax, c.RetryBase)
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	platforms := map[herald.Platform]bool{}
	for p, snd := range c.DeviceSenders {
		if snd != nil && p.Valid() {
			platforms[p] = true
		}
	}
	def(&c.BadgeInterval, DefaultBadgeInterval)
	available := map[herald.Channel]bool{}
	for ch, s := range c.Senders {
		if s != nil && ch != herald.ChannelInApp {
			available[ch] = true
		}
	}
	for typ, pol := range c.Policies {
		for ch := range pol.Channels {
			if !ch.Valid() {
				return nil, herald.Errorf(herald.EINVALID, "delivery policy %q: unknown channel %q", typ, ch)
			}
		}
		for _, e := range pol.Escalation {
			if !e.Channel.Valid() || e.Channel == herald.ChannelInApp || e.After <= 0 {
				return nil, herald.Errorf(herald.EINVALID, "delivery policy %q: an escalation needs a positive delay and a channel other than in_app", typ)
			}
		}
	}
	return &Service{
		cfg:     c,
		store:   c.Store,
		planner: &Planner{Policies: c.Policies, Available: available, Platforms: platforms, DigestPeriod: c.DigestPeriod},
		now:     c.Now,
		log:     c.Logger,
		metrics: c.Metrics,
		wake:    make(chan struct{}),
		badges:  badges{pending: map[string]bool{}, last: map[string]time.Time{}},
	}, nil
}

// Planner returns the planner the Service uses, to hand to the inbox
// (inbox.Config.Planner): the stores call it inside the transaction that
// stores each notification, with the user's preferences read in that
// transaction.
func (s *Service) Planner() *Planner { return s.planner }

// Wake tells idle workers that deliveries may be due, as a create of an
// immediate delivery does.
func (s *Service) Wake() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

func (s *Service) wakeChan() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}

// Run runs the workers, the digest sender and the purge until ctx ends,
// then waits for the sends in flight (each bounded by SendTimeout).
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, func(ctx context.Context) int { return s.work(ctx, s.cfg.Batch) })
		}()
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.loop(ctx, s.digests)
	}()
	go func() {
		defer wg.Done()
		s.badgeLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.purgeLoop(ctx)
	}()
	wg.Wait()
	return nil
}

// loop calls step until ctx ends, pausing PollInterval (or until Wake)
// whenever a step found nothing to do.
func (s *Service) loop(ctx context.Context, step func(ctx context.Context) int) {
	t := time.NewTimer(0)
	defer t.Stop()
	for ctx.Err() == nil {
		wake := s.wakeChan()
		if step(ctx) > 0 {
			continue
		}
		t.Reset(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
	}
}

// purgeLoop drops finished deliveries past Retention, hourly.
func (s *Service) purgeLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.store.PurgeDeliveries(ctx, s.now().Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
			s.log.Warn("delivery: purge failed", "err", err)
		} else if n > 0 {
			s.log.Info("delivery: purged finished deliveries", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce sends everything due now, immediate deliveries, digests and badge
// updates, and returns how many deliveries it finished. It is the workers' step without
// the waiting, for tests and tools that move the clock themselves.
func (s *Service) RunOnce(ctx context.Context) int {
	total := 0
	for {
		n := s.work(ctx, s.cfg.Batch) + s.digests(ctx)
		total += n
		if n == 0 || ctx.Err() != nil {
			s.FlushBadges(ctx)
			return total
		}
	}
}
