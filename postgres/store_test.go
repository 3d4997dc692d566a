package postgres_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on a fresh database and closes it when the test ends.
func open(t testing.TB, c postgres.Config) *postgres.Store {
	t.Helper()
	if c.URL == "" {
		c.URL = pgtest.NewDatabase(t)
	}
	s, err := postgres.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store { return open(t, postgres.Config{}) })
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
