// Package inbox implements herald.Inbox: the one place that orders "commit
// first, then push". Every change to a user's notifications is written to the
// Store before any message about it is published, so a client never hears of a
// notification it cannot then read, and a client that missed a push recovers
// everything by resuming from the Store.
//
// For each user, the commit, the unread count read after it and the messages
// published about it form one critical section (see stripes.go). Count messages
// for a user therefore leave this node in commit order, and the last count a
// connection receives is the user's current count.
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
	// DefaultPushTimeout bounds the work done after a commit (count read and
	// publishes) when Config.PushTimeout is zero.
	DefaultPushTimeout = 5 * time.Second
)

// Config configures a Service. Store is required; every other field has a
// working zero value.
type Config struct {
	// Store persists the notifications. Required.
	Store herald.Store
	// Publisher tells the user's connections about changes. Nil publishes
	// nothing: changes are committed and clients see them on their next resume.
	// It is called while the user's stripe is held, so it must not call back
	// into the Service (herald.Deliverer never blocks, which keeps this cheap).
	Publisher herald.Publisher
	// Now is the clock used for read times and message timestamps (default time.Now).
	Now func() time.Time
	// Logger receives publish failures (default slog.Default()).
	Logger *slog.Logger
	// PushTimeout bounds the unread count read and the publishes that follow a
	// commit (default DefaultPushTimeout). That work runs even when the caller's
	// context ends after the commit, since the change has happened.
	PushTimeout time.Duration
}

// Service is the herald.Inbox. It is safe for concurrent use.
type Service struct {
	store       herald.Store
	pub         herald.Publisher
	now         func() time.Time
	log         *slog.Logger
	pushTimeout time.Duration
	locks       *stripes
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
		locks:       newStripes(),
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

// publishCount reads userID's unread count and publishes it. A failure is
// logged, not returned: the change it follows is already committed.
func (s *Service) publishCount(ctx context.Context, userID string) {
	if s.pub == nil {
		return
	}
	n, err := s.store.UnreadCount(ctx, userID)
	if err != nil {
		s.log.Error("inbox: cannot read unread count after commit", "user", userID, "err", err)
		return
	}
	s.send(ctx, &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: userID}, Payload: countMessage(n), Latest: true})
}

// publish sends payload to userID's connections and logs a failure. seq is
// the notification's seq for a notification:new message and 0 otherwise.
func (s *Service) publish(ctx context.Context, userID string, payload []byte, seq int64) {
	if s.pub == nil {
		return
	}
	s.send(ctx, &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: userID}, Payload: payload, Seq: seq})
}

func (s *Service) send(ctx context.Context, m *herald.Message) {
	if _, err := s.pub.Publish(ctx, m); err != nil {
		s.log.Warn("inbox: publish failed; the client recovers on resume", "user", m.To.Name, "err", err)
	}
}
