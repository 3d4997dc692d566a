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

// createInto is storetest.CreateInto, for this package's own tests.
var createInto = storetest.CreateInto
