package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/storetest"
)

// TestUpgrade runs the upgrade suite on PostgreSQL databases left by older
// versions.
func TestUpgrade(t *testing.T) {
	storetest.RunUpgrade(t, func(t *testing.T) storetest.Upgrade {
		url := pgtest.NewDatabase(t)
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return storetest.Upgrade{
			Migrate: func(t *testing.T, keep func(string) bool) {
				if err := postgres.MigrateOnly(context.Background(), db, keep); err != nil {
					t.Fatal(err)
				}
			},
			Exec: func(t *testing.T, q string, args ...any) {
				t.Helper()
				for i, a := range args {
					args[i] = postgres.Dialect.Arg(a)
				}
				if _, err := db.Exec(postgres.Dialect.Bind(q), args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			},
			Applied: func(t *testing.T, name string) bool {
				var seen bool
				if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, name).Scan(&seen); err != nil {
					t.Fatal(err)
				}
				return seen
			},
			Open: func(t *testing.T) storetest.UpgradeStore {
				return open(t, postgres.Config{URL: url})
			},
		}
	})
}
