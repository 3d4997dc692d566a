// Package postgres is Herald's store on PostgreSQL, for running several
// Herald nodes on one database.
//
// The store itself is the shared SQL layer (internal/sqlstore); this package
// is PostgreSQL's dialect of it: pgx through database/sql, the schema's DDL,
// numbered placeholders, bulk rows as unnested text arrays, row locks
// (FOR UPDATE, SKIP LOCKED) and advisory locks, and the server's error codes.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Page sizes of FindNotifications.
const (
	DefaultLimit = sqlstore.DefaultLimit
	MaxLimit     = sqlstore.MaxLimit
)

// DefaultCommitters is how many transactions of creates a node keeps in
// flight by default.
const DefaultCommitters = 1

// Config configures a Store. The zero value works.
type Config struct {
	// URL is the database, as postgres://user:password@host:port/dbname?...
	// or key=value pairs. Empty means libpq's defaults and PG* environment
	// variables (PGHOST, PGDATABASE, ...).
	URL string
	// Now stamps CreatedAt, and ReadAt when MarkRead is given a zero time.
	// Default: time.Now.
	Now func() time.Time
	// MaxConns bounds the pool. Default: the larger of 4 and the number of
	// CPUs, plus one for the commit loop.
	MaxConns int32
	// MaxBatch bounds how many notifications of concurrent creates share
	// one transaction (default 1000).
	MaxBatch int
	// CommitDelay bounds how long the commit loop waits for more creates
	// when it holds fewer than half of what recent commits carried, never
	// longer than its last commit took (default sqlstore.DefaultCommitDelay;
	// negative: never).
	CommitDelay time.Duration
}

// Store is the SQL store on a PostgreSQL database: herald.Store,
// herald.DeliveryStore, herald.PreferenceStore, herald.AccountStore and
// herald.TopicStore.
type Store struct {
	*sqlstore.Store
}

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations, so
// several nodes starting at once apply each step once.
const migrationLock int64 = 0x68657261_6c64_0001 // "herald", 1

// Dialect is PostgreSQL's: see sqlstore.Dialect.
var Dialect = &sqlstore.Dialect{
	Name:           "postgres",
	Numbered:       true,
	Arrays:         true,
	Time:           func(t time.Time) any { return t.UTC() },
	ForUpdate:      " FOR UPDATE",
	ForNoKeyUpdate: " FOR NO KEY UPDATE",
	SkipLocked:     " SKIP LOCKED",
	AdvisoryLock:   `SELECT pg_advisory_xact_lock(?)`,
	Classify:       classify,
	Migrations:     migrations,
	LockMigrations: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLock),
	MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    text        PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`,
}

// classify reads a PostgreSQL error by its SQLSTATE.
func classify(err error) (sqlstore.Fault, string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return sqlstore.FaultUnique, pgErr.ConstraintName
		case "23503":
			return sqlstore.FaultForeignKey, pgErr.ConstraintName
		case "22021", "22P05": // a NUL byte or untranslatable text
			return sqlstore.FaultBadText, ""
		case "22P02": // invalid JSON, among others
			return sqlstore.FaultBadJSON, ""
		case "57P01", "57P02", "57P03", "53300": // shutting down, too many connections
			return sqlstore.FaultBusy, ""
		case "53100": // disk_full
			return sqlstore.FaultFull, ""
		}
		return sqlstore.FaultNone, ""
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.SafeToRetry(err) {
		return sqlstore.FaultBusy, ""
	}
	return sqlstore.FaultNone, ""
}

// Open connects to the database c names and brings its schema up to date.
// Several nodes may open one database at once.
func Open(ctx context.Context, c Config) (*Store, error) {
	cfg, err := pgx.ParseConfig(c.URL)
	if err != nil {
		// The parse error may quote the URL, password and all.
		return nil, herald.Errorf(herald.EINVALID, "postgres: the database URL is malformed")
	}
	db := stdlib.OpenDB(*cfg)
	conns := int(c.MaxConns)
	if conns <= 0 {
		conns = max(4, runtime.NumCPU()) + DefaultCommitters
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Start-up errors keep their detail for the operator; pgx leaves the
	// password out of them.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", scrub(err, c.URL))
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{Dialect: Dialect, Writer: db, Now: c.Now, MaxBatch: c.MaxBatch, Committers: DefaultCommitters,
		CommitDelay: c.CommitDelay})
	if err != nil {
		return nil, err
	}
	return &Store{st}, nil
}

// scrub keeps url's password out of err's text.
func scrub(err error, url string) error {
	if cfg, perr := pgconn.ParseConfig(url); perr == nil && cfg.Password != "" && strings.Contains(err.Error(), cfg.Password) {
		return errors.New(strings.ReplaceAll(err.Error(), cfg.Password, "xxxxx"))
	}
	return err
}
