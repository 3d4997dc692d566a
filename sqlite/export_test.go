package sqlite

import (
	"context"
	"database/sql"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// Commits returns how many transactions the commit loop has begun.
func Commits(s *Store) int64 { return s.Store.Commits() }

// Queued returns how many create requests wait for the commit loop.
func Queued(s *Store) int { return s.Store.Queued() }

// MigrateOnly brings db's schema to the migrations keep selects, as a
// version of Herald that had only those left the database.
func MigrateOnly(ctx context.Context, db *sql.DB, keep func(name string) bool) error {
	return sqlstore.Migrate(ctx, Dialect, db, keep)
}
