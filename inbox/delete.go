package inbox

import (
	"context"

	"github.com/heraldhq/herald"
)

// Delete removes one of userID's notifications and tells the user's
// connections (notification:deleted, then the unread count if the deleted one
// was unread; only then is the returned Unread set). Another user's
// notification is ENOTFOUND.
func (s *Service) Delete(ctx context.Context, userID, id string) (herald.Unread, error) {
	if err := herald.CheckUserID("userId", userID); err != nil {
		return herald.Unread{}, err
	}
	if err := validateID(id); err != nil {
		return herald.Unread{}, err
	}
	u, wasUnread, err := s.store.DeleteNotification(ctx, userID, id)
	if err != nil {
		return herald.Unread{}, err
	}
	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	s.publish(pctx, userID, deletedMessageFor(id, s.now()))
	if !wasUnread {
		return herald.Unread{}, nil
	}
	s.send(pctx, countMessageFor(userID, u))
	return u, nil
}
