package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// open opens a store for the test and closes it when the test ends.
func open(t testing.TB, c sqlite.Config) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store {
		return open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	})
}

func TestStoreMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store {
		return open(t, sqlite.Config{Path: ":memory:"})
	})
}

// createInto creates ns the way stores did before they returned results:
// each stored notification is copied back into ns, and the flags say which
// were new.
func createInto(ctx context.Context, s herald.Store, ns []*herald.Notification) ([]bool, error) {
	in := make([]*herald.NewNotification, len(ns))
	for i, n := range ns {
		in[i] = &herald.NewNotification{ID: n.ID, UserID: n.UserID, Type: n.Type, Title: n.Title, Message: n.Message,
			Link: n.Link, Data: n.Data, IdempotencyKey: n.IdempotencyKey}
	}
	res, err := s.CreateNotifications(ctx, in, herald.CreateOptions{})
	if err != nil {
		return nil, err
	}
	created := make([]bool, len(res))
	for i, c := range res {
		*ns[i] = *c.Notification
		created[i] = !c.Replayed
	}
	return created, nil
}
