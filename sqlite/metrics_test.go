package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

func TestCommitMetrics(t *testing.T) {
	storetest.RunCommitMetrics(t, func(t *testing.T) storetest.CommitStore {
		return open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	})
}
