package inbox_test

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/memory"
)

// hookStore is a memory.Store that calls afterWrite once each write has
// committed and afterCount once each unread count has been read, so tests can
// act, or make goroutines overtake one another, at exactly those moments.
type hookStore struct {
	*memory.Store
	afterWrite func()
	afterCount func()
}

func newHookStore(now func() time.Time) *hookStore {
	return &hookStore{Store: memory.NewStore(memory.Config{Now: now})}
}

func call(f func()) {
	if f != nil {
		f()
	}
}

func (s *hookStore) CreateNotifications(ctx context.Context, ns []*herald.NewNotification, opts herald.CreateOptions) ([]herald.Created, error) {
	defer call(s.afterWrite)
	return s.Store.CreateNotifications(ctx, ns, opts)
}

func (s *hookStore) MarkRead(ctx context.Context, userID, id string, at time.Time) (herald.Unread, bool, error) {
	defer call(s.afterWrite)
	return s.Store.MarkRead(ctx, userID, id, at)
}

func (s *hookStore) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, herald.Unread, error) {
	defer call(s.afterWrite)
	return s.Store.MarkAllRead(ctx, userID, at)
}

func (s *hookStore) DeleteNotification(ctx context.Context, userID, id string) (herald.Unread, bool, error) {
	defer call(s.afterWrite)
	return s.Store.DeleteNotification(ctx, userID, id)
}

func (s *hookStore) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	defer call(s.afterCount)
	return s.Store.UnreadCount(ctx, userID)
}
