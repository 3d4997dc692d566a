package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"sort"
)

// Migrate applies the dialect's migrations db has not seen, in name order,
// all in one transaction, so a failed step leaves the schema as it was (both
// databases have transactional DDL). The transaction runs LockMigrations
// first (PostgreSQL: an advisory lock; SQLite's transactions take the write
// lock up front), so several processes opening one database at once apply
// each step once. only, when not nil, limits the steps to those it names:
// tests use it to build the schema an older version left.
func Migrate(ctx context.Context, d *Dialect, db *sql.DB, only func(name string) bool) error {
	names, err := MigrationNames(d)
	if err != nil {
		return err
	}
	if only != nil {
		names = slices.DeleteFunc(names, func(n string) bool { return !only(n) })
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.LockMigrations); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.MigrationsTable); err != nil {
		return err
	}
	for _, name := range names {
		var n int
		if err := tx.QueryRowContext(ctx, d.bind(`SELECT count(*) FROM schema_migrations WHERE version = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(d.Migrations, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil { // no arguments: several statements may run
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, d.bind(`INSERT INTO schema_migrations (version) VALUES (?)`), name); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// MigrationNames lists the dialect's migrations in the order they apply,
// named as schema_migrations records them: "migrations/0001_….sql".
func MigrationNames(d *Dialect) ([]string, error) {
	names, err := fs.Glob(d.Migrations, "migrations/*.sql")
	sort.Strings(names)
	return names, err
}
