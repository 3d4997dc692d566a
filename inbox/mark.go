package inbox

import (
	"context"

	"github.com/heraldhq/herald"
)

// MarkRead marks one of userID's notifications read and, if it was unread,
// tells the user's connections (notification:read, then the unread count).
// Marking a read notification again succeeds and publishes nothing, since
// nothing changed and every connection already heard of the first read.
// Another user's notification is ENOTFOUND.
func (s *Service) MarkRead(ctx context.Context, userID, id string) error {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return err
	}
	if err := validateID(id); err != nil {
		return err
	}
	unlock, err := s.locks.lock(ctx, userID)
	if err != nil {
		return err
	}
	defer unlock()

	now := s.now()
	changed, err := s.store.MarkRead(ctx, userID, id, now)
	if err != nil || !changed {
		return err
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	s.publish(pctx, userID, readOneMessage(id, now), 0)
	s.publishCount(pctx, userID)
	return nil
}

// MarkAllRead marks every unread notification of userID read and returns how
// many changed. When any did, the user's connections hear
// {"type":"notification:read","all":true} and the new count.
func (s *Service) MarkAllRead(ctx context.Context, userID string) (int, error) {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return 0, err
	}
	unlock, err := s.locks.lock(ctx, userID)
	if err != nil {
		return 0, err
	}
	defer unlock()

	now := s.now()
	n, err := s.store.MarkAllRead(ctx, userID, now)
	if err != nil || n == 0 {
		return n, err
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	s.publish(pctx, userID, readAllMessage(now), 0)
	s.publishCount(pctx, userID)
	return n, nil
}
