package inbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// testStore is a small in-memory herald.Store for these tests. The real
// in-memory store lives in package memory; this one exists so that the inbox
// can be tested against the Store contract on its own, and so that tests can
// hook the moment after a commit.
type testStore struct {
	mu      sync.Mutex
	seq     int64
	byUser  map[string][]*herald.Notification
	keys    map[string]*herald.Notification // userID + "\x00" + key
	now     func() time.Time
	onWrite func() // called after each committed write, outside the lock
	onCount func() // called after each unread count is read, outside the lock
}

func newTestStore() *testStore {
	return &testStore{
		byUser: make(map[string][]*herald.Notification),
		keys:   make(map[string]*herald.Notification),
		now:    time.Now,
	}
}

func (s *testStore) wrote() {
	if s.onWrite != nil {
		s.onWrite()
	}
}

func (s *testStore) CreateNotifications(ctx context.Context, ns []*herald.Notification) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	created := make([]bool, len(ns))
	for i, n := range ns {
		k := n.UserID + "\x00" + n.IdempotencyKey
		if n.IdempotencyKey != "" {
			if old, ok := s.keys[k]; ok {
				*n = *old
				continue
			}
		}
		s.seq++
		if n.ID == "" {
			n.ID = fmt.Sprintf("n%d", s.seq)
		}
		n.Seq = s.seq
		n.CreatedAt = s.now().UTC()
		c := *n
		s.byUser[n.UserID] = append(s.byUser[n.UserID], &c)
		if n.IdempotencyKey != "" {
			s.keys[k] = &c
		}
		created[i] = true
	}
	s.mu.Unlock()
	s.wrote()
	return created, nil
}

func (s *testStore) find(userID, id string) *herald.Notification {
	for _, n := range s.byUser[userID] {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func (s *testStore) MarkRead(ctx context.Context, userID, id string, at time.Time) (bool, error) {
	s.mu.Lock()
	n := s.find(userID, id)
	if n == nil {
		s.mu.Unlock()
		return false, herald.Errorf(herald.ENOTFOUND, "notification not found")
	}
	changed := !n.Read
	if changed {
		n.Read, n.ReadAt = true, &at
	}
	s.mu.Unlock()
	s.wrote()
	return changed, nil
}

func (s *testStore) MarkAllRead(ctx context.Context, userID string, at time.Time) (int, error) {
	s.mu.Lock()
	count := 0
	for _, n := range s.byUser[userID] {
		if !n.Read {
			n.Read, n.ReadAt = true, &at
			count++
		}
	}
	s.mu.Unlock()
	s.wrote()
	return count, nil
}

func (s *testStore) DeleteNotification(ctx context.Context, userID, id string) (bool, error) {
	s.mu.Lock()
	n := s.find(userID, id)
	if n == nil {
		s.mu.Unlock()
		return false, herald.Errorf(herald.ENOTFOUND, "notification not found")
	}
	s.byUser[userID] = slices.DeleteFunc(s.byUser[userID], func(m *herald.Notification) bool { return m == n })
	s.mu.Unlock()
	s.wrote()
	return !n.Read, nil
}

func (s *testStore) FindNotifications(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*herald.Notification
	all := s.byUser[f.UserID]
	for i := range all {
		n := all[len(all)-1-i] // newest first
		if f.Since > 0 {
			n = all[i]
		}
		switch {
		case f.UnreadOnly && n.Read,
			f.Since > 0 && n.Seq <= f.Since,
			f.Since == 0 && f.Before > 0 && n.Seq >= f.Before:
			continue
		}
		c := *n
		out = append(out, &c)
		if len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (s *testStore) UnreadCount(ctx context.Context, userID string) (int, error) {
	s.mu.Lock()
	count := 0
	for _, n := range s.byUser[userID] {
		if !n.Read {
			count++
		}
	}
	s.mu.Unlock()
	if s.onCount != nil {
		s.onCount()
	}
	return count, nil
}

func (s *testStore) Close() error { return nil }
