// Package postgres is Herald's notification store on PostgreSQL, for running
// several Herald nodes on one database. It uses pgx's connection pool.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Page sizes of FindNotifications.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Config configures a Store. The zero value works.
type Config struct {
	// URL is the database, as postgres://user:password@host:port/dbname?...
	// or key=value pairs. Empty means libpq's defaults and PG* environment
	// variables (PGHOST, PGDATABASE, ...).
	URL string
	// Now stamps CreatedAt, and ReadAt when MarkRead is given a zero time.
	// Default: time.Now.
	Now func() time.Time
	// MaxConns bounds the pool. Default: pgx's, the larger of 4 and the
	// number of CPUs.
	MaxConns int32
}

// Store is a herald.Store in a PostgreSQL database.
type Store struct {
	pool     *pgxpool.Pool
	now      func() time.Time
	closed   atomic.Bool
	createMu sync.Mutex
}

var _ herald.Store = (*Store)(nil)

// Open connects to the database c names and brings its schema up to date.
// Several nodes may open one database at once.
func Open(ctx context.Context, c Config) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		// The parse error may quote the URL, password and all.
		return nil, herald.Errorf(herald.EINVALID, "postgres: the database URL is malformed")
	}
	if c.MaxConns > 0 {
		cfg.MaxConns = c.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Start-up errors keep their detail for the operator; pgx leaves the
	// password out of them.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	s := &Store{pool: pool, now: c.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to come back. It is
// safe to call more than once.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

var (
	errNotFound = herald.Errorf(herald.ENOTFOUND, "notification not found")
	errClosed   = herald.Errorf(herald.EUNAVAILABLE, "notification store is closed")
)

// PostgreSQL error codes the store answers.
const (
	codeUniqueViolation   = "23505"
	codeInvalidByteSeq    = "22021" // e.g. a NUL byte in text
	codeUntranslatable    = "22P05"
	codeInvalidJSONSyntax = "22P02"
)

// storeError turns a database failure into Herald's terms: unusable text is
// the caller's to fix, an unreachable server is worth retrying, anything else
// is internal.
func storeError(op string, err error) error {
	var herr *herald.Error
	if errors.As(err, &herr) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeInvalidByteSeq, codeUntranslatable:
			return herald.Errorf(herald.EINVALID, "notification text must be UTF-8 without NUL bytes")
		case codeInvalidJSONSyntax:
			return herald.Errorf(herald.EINVALID, "data must be a JSON object")
		}
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return herald.Errorf(herald.EUNAVAILABLE, "notification database is unreachable")
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
