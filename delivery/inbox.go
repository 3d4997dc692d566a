package delivery

import (
	"context"

	"github.com/heraldhq/herald"
)

// Inbox returns next with delivery planning around it: Create plans each
// notification's deliveries from its user's preferences before the store
// writes them together, and reads (MarkRead, MarkAllRead) cancel the
// escalations waiting on what was read. Give it to every transport that
// creates or reads notifications, so that a read on any device stops them.
func (s *Service) Inbox(next herald.Inbox) herald.Inbox {
	return &plannedInbox{Inbox: next, s: s}
}

// plannedInbox is the herald.Inbox that Service.Inbox returns.
type plannedInbox struct {
	herald.Inbox
	s *Service
}

// userState is what planning reads of one user.
type userState struct {
	prefs *herald.Preferences
	subs  []*herald.PushSubscription
}

// Create plans, stores and pushes ns. The caller's notifications are not
// modified. A notification whose user turned in_app off for its type is
// marked read at once, so it does not count as unread.
func (s *plannedInbox) Create(ctx context.Context, ns []*herald.Notification) ([]herald.Created, error) {
	now := s.s.now()
	users := map[string]*userState{}
	planned := make([]*herald.Notification, len(ns))
	silent := make([]bool, len(ns))
	for i, n := range ns {
		if n == nil || n.Validate() != nil {
			planned[i] = n // the inbox refuses it, with its message
			continue
		}
		u, err := s.user(ctx, users, n.UserID)
		if err != nil {
			return nil, err
		}
		p := s.s.planner.Plan(n, u.prefs, u.subs, now)
		c := *n
		c.Deliveries = p.Deliveries
		planned[i], silent[i] = &c, !p.InApp
	}
	out, err := s.Inbox.Create(ctx, planned)
	if err != nil {
		return nil, err
	}
	due := false
	for i, c := range out {
		if c.Notification == nil || c.Replayed {
			continue
		}
		s.s.metrics.plan(c.Deliveries)
		for _, d := range c.Deliveries {
			due = due || (d.Kind == herald.DeliveryImmediate && !d.DueAt.After(now))
		}
		n := c.Notification
		if i < len(silent) && silent[i] {
			if _, err := s.Inbox.MarkRead(context.WithoutCancel(ctx), n.UserID, n.ID); err != nil {
				s.s.log.Warn("delivery: cannot mark a notification read for a user with in_app off", "user", n.UserID, "id", n.ID, "err", err)
			} else {
				n.Read = true
			}
		}
	}
	if due {
		s.s.Wake()
	}
	return out, nil
}

// user returns what planning needs of userID, read once per call.
func (s *plannedInbox) user(ctx context.Context, users map[string]*userState, userID string) (*userState, error) {
	if u := users[userID]; u != nil {
		return u, nil
	}
	prefs, err := s.s.store.FindPreferences(ctx, userID)
	if err != nil {
		return nil, err
	}
	u := &userState{prefs: prefs}
	if s.s.planner.Available[herald.ChannelPush] {
		if u.subs, err = s.s.store.FindPushSubscriptions(ctx, userID); err != nil {
			return nil, err
		}
	}
	users[userID] = u
	return u, nil
}

// MarkRead marks the notification read and cancels its pending escalations.
func (s *plannedInbox) MarkRead(ctx context.Context, userID, id string) (herald.Unread, error) {
	u, err := s.Inbox.MarkRead(ctx, userID, id)
	if err != nil {
		return u, err
	}
	s.cancel(ctx, userID, id)
	return u, nil
}

// MarkAllRead marks everything read and cancels the user's pending
// escalations.
func (s *plannedInbox) MarkAllRead(ctx context.Context, userID string) (int, herald.Unread, error) {
	n, u, err := s.Inbox.MarkAllRead(ctx, userID)
	if err == nil && n > 0 {
		s.cancel(ctx, userID, "")
	}
	return n, u, err
}

// cancel cancels what waited on the read. A failure is logged: the workers
// check the read state again when the deliveries fall due.
func (s *plannedInbox) cancel(ctx context.Context, userID, id string) {
	if _, err := s.s.store.CancelUnread(context.WithoutCancel(ctx), userID, id, s.s.now()); err != nil {
		s.s.log.Warn("delivery: cannot cancel escalations after a read; the workers will", "user", userID, "err", err)
	}
}
