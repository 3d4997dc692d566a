package inbox

import (
	"context"

	"github.com/heraldhq/herald"
)

// List returns a page of a user's notifications. A zero Limit means
// DefaultLimit; a Limit outside 1..MaxLimit, or a negative cursor, is EINVALID.
func (s *Service) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	if err := herald.CheckUserID("userId", f.UserID); err != nil {
		return nil, err
	}
	switch {
	case f.Limit == 0:
		f.Limit = DefaultLimit
	case f.Limit < 1 || f.Limit > MaxLimit:
		return nil, herald.Errorf(herald.EINVALID, "limit must be between 1 and %d", MaxLimit)
	}
	if f.Before < 0 || f.Since < 0 {
		return nil, herald.Errorf(herald.EINVALID, "cursors must not be negative")
	}
	ns, err := s.store.FindNotifications(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		n.Timestamp = n.CreatedAt
	}
	return ns, nil
}

// UnreadCount returns the exact number of userID's unread notifications,
// with its version and the user's last seq.
func (s *Service) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return herald.Unread{}, err
	}
	return s.store.UnreadCount(ctx, userID)
}
