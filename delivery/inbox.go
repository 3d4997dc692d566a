package delivery

import (
	"context"

	"github.com/heraldhq/herald"
)

// Inbox returns next with what delivery needs around it: after a create, the
// planned deliveries are counted and the workers woken for those due now;
// reads (MarkRead, MarkAllRead) cancel the escalations waiting on what was
// read. Give it to every transport that creates or reads notifications, so
// that a read on any device stops them. next must plan with Planner.
func (s *Service) Inbox(next herald.Inbox) herald.Inbox {
	return &plannedInbox{Inbox: next, s: s}
}

// plannedInbox is the herald.Inbox that Service.Inbox returns.
type plannedInbox struct {
	herald.Inbox
	s *Service
}

// Create stores and pushes ns through next, then counts the deliveries it
// planned and wakes the workers when one is due now.
func (s *plannedInbox) Create(ctx context.Context, ns []*herald.NewNotification) ([]herald.Created, error) {
	out, err := s.Inbox.Create(ctx, ns)
	if err != nil {
		return nil, err
	}
	now := s.s.now()
	due := false
	for _, c := range out {
		if c.Replayed {
			continue
		}
		s.s.metrics.plan(c.Deliveries)
		for _, d := range c.Deliveries {
			due = due || (d.Kind == herald.DeliveryImmediate && !d.DueAt.After(now))
		}
	}
	if due {
		s.s.Wake()
	}
	return out, nil
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
