package inbox

import (
	"context"

	"github.com/heraldhq/herald"
)

// Delete removes one of userID's notifications and tells the user's
// connections (notification:deleted, then the unread count if the deleted one
// was unread). Another user's notification is ENOTFOUND.
func (s *Service) Delete(ctx context.Context, userID, id string) error {
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

	wasUnread, err := s.store.DeleteNotification(ctx, userID, id)
	if err != nil {
		return err
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	s.publish(pctx, userID, deletedMessageFor(id, s.now()), 0)
	if wasUnread {
		s.publishCount(pctx, userID)
	}
	return nil
}
