package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateWithout brings the database's schema up to date except for the
// named migration (e.g. "migrations/0003_unread_counter.sql"), as a version of
// Herald that did not have it left the database.
func MigrateWithout(ctx context.Context, pool *pgxpool.Pool, name string) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	return applyMigrations(ctx, pool, slices.DeleteFunc(names, func(n string) bool { return n == name }))
}
