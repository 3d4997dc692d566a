package delivery

import (
	"context"

	"github.com/heraldhq/herald"
)

// Planned counts the deliveries a create (or a topic's fan-out) planned and
// wakes the workers when one is due now. Hand it to the inbox as
// inbox.Config.AfterCreate.
func (s *Service) Planned(res []herald.Created) {
	now := s.now()
	due := false
	for _, c := range res {
		if c.Replayed {
			continue
		}
		s.metrics.plan(c.Deliveries)
		for _, d := range c.Deliveries {
			due = due || (d.Kind == herald.DeliveryImmediate && !d.DueAt.After(now))
		}
	}
	if due {
		s.Wake()
	}
}

// Inbox returns next with reads (MarkRead, MarkAllRead) that cancel the
// escalations waiting on what was read, and with reads and deletes that
// update the user's mobile badges. Give it to every transport that
// reads notifications, so that a read on any device stops them. next must
// plan with Planner and call Planned after its creates.
func (s *Service) Inbox(next herald.Inbox) herald.Inbox {
	return &plannedInbox{Inbox: next, s: s}
}

// plannedInbox is the herald.Inbox that Service.Inbox returns.
type plannedInbox struct {
	herald.Inbox
	s *Service
}

// MarkRead marks the notification read and cancels its pending escalations.
func (s *plannedInbox) MarkRead(ctx context.Context, userID, id string) (herald.Unread, error) {
	u, err := s.Inbox.MarkRead(ctx, userID, id)
	if err != nil {
		return u, err
	}
	s.cancel(ctx, userID, id)
	if u.Version != 0 {
		s.s.markBadge(userID)
	}
	return u, nil
}

// MarkAllRead marks everything read and cancels the user's pending
// escalations.
func (s *plannedInbox) MarkAllRead(ctx context.Context, userID string) (int, herald.Unread, error) {
	n, u, err := s.Inbox.MarkAllRead(ctx, userID)
	if err == nil && n > 0 {
		s.cancel(ctx, userID, "")
		s.s.markBadge(userID)
	}
	return n, u, err
}

// Delete deletes the notification and, when it was unread, updates the
// badges.
func (s *plannedInbox) Delete(ctx context.Context, userID, id string) (herald.Unread, error) {
	u, err := s.Inbox.Delete(ctx, userID, id)
	if err == nil && u.Version != 0 {
		s.s.markBadge(userID)
	}
	return u, err
}

// cancel cancels what waited on the read. A failure is logged: the workers
// check the read state again when the deliveries fall due.
func (s *plannedInbox) cancel(ctx context.Context, userID, id string) {
	if _, err := s.s.store.CancelUnread(context.WithoutCancel(ctx), userID, id, s.s.now()); err != nil {
		s.s.log.Warn("delivery: cannot cancel escalations after a read; the workers will", "user", userID, "err", err)
	}
}
