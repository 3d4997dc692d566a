package inbox

import (
	"context"

	"github.com/heraldhq/herald"
)

// MarkRead marks one of userID's notifications read and, if it was unread,
// tells the user's connections (notification:read, then the unread count
// the change left, with its version). Marking a read notification again
// succeeds, publishes nothing and returns the zero Unread, since nothing
// changed and every connection already heard of the first read. Another
// user's notification is ENOTFOUND.
func (s *Service) MarkRead(ctx context.Context, userID, id string) (herald.Unread, error) {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return herald.Unread{}, err
	}
	if err := validateID(id); err != nil {
		return herald.Unread{}, err
	}
	now := s.now()
	u, changed, err := s.store.MarkRead(ctx, userID, id, now)
	if err != nil || !changed {
		return herald.Unread{}, err
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	s.publish(pctx, userID, readOneMessage(id, now))
	s.send(pctx, countMessageFor(userID, u))
	return u, nil
}

// MarkAllRead marks every unread notification of userID read and returns how
// many changed. When any did, the user's connections hear
// {"type":"notification:read","all":true} and the new count.
func (s *Service) MarkAllRead(ctx context.Context, userID string) (int, herald.Unread, error) {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return 0, herald.Unread{}, err
	}
	now := s.now()
	n, u, err := s.store.MarkAllRead(ctx, userID, now)
	if err != nil || n == 0 {
		return n, herald.Unread{}, err
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	s.publish(pctx, userID, readAllMessage(now))
	s.send(pctx, countMessageFor(userID, u))
	return n, u, nil
}
