package sqlite

import (
	"context"
	"database/sql"
	"slices"
)

// Commits returns how many transactions the writer loop has begun.
func Commits(s *Store) int64 { return s.commits.Load() }

// Queued returns how many create requests wait for the writer loop.
func Queued(s *Store) int { return len(s.queue) }

// MigrateWithout brings db's schema up to date except for the named
// migration (e.g. "migrations/0003_unread_counter.sql"), as a version of
// Herald that did not have it left the database.
func MigrateWithout(ctx context.Context, db *sql.DB, name string) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	return applyMigrations(ctx, db, slices.DeleteFunc(names, func(n string) bool { return n == name }))
}
