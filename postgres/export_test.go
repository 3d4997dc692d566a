package postgres

import (
	"context"
	"database/sql"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// MigrateOnly brings db's schema to the migrations keep selects, as a
// version of Herald that had only those left the database.
func MigrateOnly(ctx context.Context, db *sql.DB, keep func(name string) bool) error {
	return sqlstore.Migrate(ctx, Dialect, db, keep)
}
