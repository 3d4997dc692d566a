package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

func TestOutboxFile(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore {
		return open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	})
}

func TestOutboxMemory(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore {
		return open(t, sqlite.Config{Path: ":memory:"})
	})
}

func TestTopics(t *testing.T) {
	storetest.RunTopics(t, func(t *testing.T) storetest.TopicsStore {
		return open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	})
}
