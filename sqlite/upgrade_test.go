package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// TestUpgrade runs the upgrade suite on SQLite files left by older versions.
func TestUpgrade(t *testing.T) {
	storetest.RunUpgrade(t, func(t *testing.T) storetest.Upgrade {
		path := filepath.Join(t.TempDir(), "herald.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return storetest.Upgrade{
			Migrate: func(t *testing.T, keep func(string) bool) {
				if err := sqlite.MigrateOnly(context.Background(), db, keep); err != nil {
					t.Fatal(err)
				}
			},
			Exec: func(t *testing.T, q string, args ...any) {
				t.Helper()
				for i, a := range args {
					args[i] = sqlite.Dialect.Arg(a)
				}
				if _, err := db.Exec(q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			},
			Applied: func(t *testing.T, name string) bool {
				var n int
				if err := db.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n > 0
			},
			Open: func(t *testing.T) storetest.UpgradeStore {
				return open(t, sqlite.Config{Path: path})
			},
		}
	})
}
