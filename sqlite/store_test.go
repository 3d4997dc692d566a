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

// createInto is storetest.CreateInto, for this package's own tests.
var createInto = storetest.CreateInto
