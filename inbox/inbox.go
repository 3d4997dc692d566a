// Package inbox implements herald.Inbox: the one place that orders "commit
// first, then push". Every change to a user's notifications is written to the
// Store before any message about it is published, so a client never hears of a
// notification it cannot then read, and a client that missed a push recovers
// everything by resuming from the Store.
//
// Every change returns the user's unread count from its own transaction,
// with a version that grows with each change in commit order (herald.Unread),
// and the count message carries both. Counts need no lock and no second
// read: whatever order they reach a connection in, through one node or
// several, the connection and the clients keep the greatest version, which is
// the user's current count. A user's new notifications leave this node in
// seq order (see lines).
package inbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults and limits of the Service.
const (
	// DefaultLimit is the page size of List when the filter names none.
	DefaultLimit = 50
	// MaxLimit is the largest page List returns.
	MaxLimit = 500
	// MaxBatch is the most notifications one Create accepts.
	MaxBatch = 1000
	// MaxIDLen bounds the notification ids the Service accepts.
	MaxIDLen = 128
	// DefaultPushTimeout bounds the publishes that follow a commit when
	// Config.PushTimeout is zero.
	DefaultPushTimeout = 5 * time.Second
)

// Config configures a Service. Store is required; every other field has a
// working zero value.
type Config struct {
	// Store persists the notifications. Required.
	Store herald.Store
	// Publisher tells the user's connections about changes. Nil publishes
	// nothing: changes are committed and clients see them on their next resume.
	Publisher herald.Publisher
	// Planner plans each new notification's deliveries beyond the socket,
	// in the transaction that stores it (herald.CreateOptions.Planner). Nil
	// plans none: every notification shows in the app.
	Planner herald.Planner
	// Now is the clock used for read times and message timestamps (default time.Now).
	Now func() time.Time
	// Logger receives publish failures (default slog.Default()).
	Logger *slog.Logger
	// PushTimeout bounds the publishes that follow a commit (default
	// DefaultPushTimeout). They run even when the caller's context ends after
	// the commit, since the change has happened.
	PushTimeout time.Duration
	// AfterCreate, when set, is called with the results of every create and
	// every chunk of a topic fan-out, once they are committed and published
	// (delivery counts the planned deliveries and wakes its workers).
	AfterCreate func(res []herald.Created)
	// TopicChunk is how many members one fan-out transaction serves
	// (default DefaultTopicChunk); TopicPoll how often Run looks for sends
	// left pending (default DefaultTopicPoll). Topics need a Store that is
	// a herald.TopicStore.
	TopicChunk int
	TopicPoll  time.Duration
}

// Service is the herald.Inbox. It is safe for concurrent use.
type Service struct {
	store       herald.Store
	pub         herald.Publisher
	now         func() time.Time
	log         *slog.Logger
	pushTimeout time.Duration
	planner     herald.Planner
	lines       lines // per-user order of create publishes
	afterCreate func(res []herald.Created)

	topics     herald.TopicStore // nil when the store keeps none
	topicChunk int
	topicPoll  time.Duration
	wake       chan struct{} // a send waits for Run
}

var _ herald.Inbox = (*Service)(nil)

// New returns a Service for c. It fails only when c has no Store.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, herald.Errorf(herald.EINTERNAL, "inbox: a store is required")
	}
	s := &Service{
		store:       c.Store,
		pub:         c.Publisher,
		now:         c.Now,
		log:         c.Logger,
		pushTimeout: c.PushTimeout,
		planner:     c.Planner,
		afterCreate: c.AfterCreate,
		topicChunk:  c.TopicChunk,
		topicPoll:   c.TopicPoll,
		wake:        make(chan struct{}, 1),
	}
	s.topics, _ = c.Store.(herald.TopicStore)
	if s.topicChunk <= 0 {
		s.topicChunk = DefaultTopicChunk
	}
	if s.topicPoll <= 0 {
		s.topicPoll = DefaultTopicPoll
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.pushTimeout <= 0 {
		s.pushTimeout = DefaultPushTimeout
	}
	return s, nil
}

// afterCommit returns the context for the work that follows a commit: it keeps
// ctx's values but not its cancellation, and is bounded by the push timeout.
func (s *Service) afterCommit(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.pushTimeout)
}

// publish sends payload to userID's connections and logs a failure.
func (s *Service) publish(ctx context.Context, userID string, payload []byte) {
	s.send(ctx, &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: userID}, Payload: payload})
}

// send publishes m, when there is a Publisher, and logs a failure.
func (s *Service) send(ctx context.Context, m *herald.Message) {
	if s.pub == nil {
		return
	}
	if _, err := s.pub.Publish(ctx, m); err != nil {
		s.log.Warn("inbox: publish failed; the client recovers on resume", "user", m.To.Name, "err", err)
	}
}

// sendAll publishes ms, all for one user, at once when the Publisher takes
// batches, so that each of the user's connections can write a notification
// and the count after it together; one by one otherwise.
func (s *Service) sendAll(ctx context.Context, ms []*herald.Message) {
	bp, ok := s.pub.(herald.BatchPublisher)
	if !ok || len(ms) < 2 {
		for _, m := range ms {
			s.send(ctx, m)
		}
		return
	}
	if _, err := bp.PublishBatch(ctx, ms); err != nil {
		s.log.Warn("inbox: publish failed; the client recovers on resume", "user", ms[0].To.Name, "err", err)
	}
}

// countMessageFor returns the unread count message of u for userID: the
// newest version replaces an older one wherever it waits.
func countMessageFor(userID string, u herald.Unread) *herald.Message {
	return &herald.Message{
		To:      herald.Audience{Kind: herald.ToUser, Name: userID},
		Payload: countMessage(u),
		Latest:  true,
		Version: u.Version,
	}
}
