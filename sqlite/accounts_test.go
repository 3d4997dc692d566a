package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

func TestAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) herald.AccountStore {
		return open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	})
}
