package inbox

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
)

// Create validates ns, stores them in one Store call and then, per user, pushes
// each notification that is new followed by the user's unread count. A
// notification whose idempotency key was seen before comes back as first
// stored, with Replayed set, and is not pushed again. The caller's
// notifications are not modified; the stored ones are returned in the same
// order. An empty batch creates nothing and is not an error.
//
// Publish failures are logged and do not fail the call: the notifications are
// committed and clients recover them by resuming.
func (s *Service) Create(ctx context.Context, ns []*herald.Notification) ([]*herald.Notification, error) {
	if len(ns) == 0 {
		return []*herald.Notification{}, nil
	}
	if len(ns) > MaxBatch {
		return nil, herald.Errorf(herald.ETOOLARGE, "at most %d notifications per request", MaxBatch)
	}
	batch := make([]*herald.Notification, len(ns))
	var users []string // in order of first appearance
	byUser := make(map[string][]int)
	for i, n := range ns {
		if n == nil {
			return nil, batchError(len(ns), i, herald.Errorf(herald.EINVALID, "notification is null"))
		}
		if err := n.Validate(); err != nil {
			return nil, batchError(len(ns), i, err)
		}
		c := *n
		batch[i] = &c
		if _, ok := byUser[c.UserID]; !ok {
			users = append(users, c.UserID)
		}
		byUser[c.UserID] = append(byUser[c.UserID], i)
	}

	unlock, err := s.locks.lock(ctx, users...)
	if err != nil {
		return nil, err
	}
	defer unlock()

	created, err := s.store.CreateNotifications(ctx, batch)
	if err != nil {
		return nil, err
	}
	if len(created) != len(batch) {
		return nil, herald.Errorf(herald.EINTERNAL, "store reported %d results for %d notifications", len(created), len(batch))
	}
	for i, n := range batch {
		n.Timestamp = n.CreatedAt
		n.Replayed = !created[i]
	}

	pctx, cancel := s.afterCommit(ctx)
	defer cancel()
	now := s.now()
	for _, u := range users {
		pushed := false
		for _, i := range byUser[u] {
			if created[i] {
				s.pushNew(pctx, batch[i], now)
				pushed = true
			}
		}
		if pushed {
			s.publishCount(pctx, u)
		}
	}
	return batch, nil
}

// pushNew publishes notification:new for n to its user.
func (s *Service) pushNew(ctx context.Context, n *herald.Notification, now time.Time) {
	if s.pub == nil {
		return
	}
	payload, err := newNotificationMessage(n, now)
	if err != nil {
		// Only a Data the store returned corrupt can fail to encode.
		s.log.Error("inbox: cannot encode notification", "user", n.UserID, "id", n.ID, "err", err)
		return
	}
	s.publish(ctx, n.UserID, payload, n.Seq)
}

// batchError prefixes err with the position of the failing notification when
// the request holds more than one.
func batchError(size, i int, err error) error {
	if size == 1 {
		return err
	}
	return herald.Errorf(herald.CodeOf(err), "notifications[%d]: %s", i, herald.ErrorMessage(err))
}
