// Package sqlite is Herald's default store: one SQLite file, through
// modernc.org/sqlite, so the binary needs no cgo and no database server.
//
// The store itself is the shared SQL layer (internal/sqlstore); this package
// is SQLite's dialect of it: the driver and its connections, the schema's
// DDL, time as microseconds, VALUES lists for bulk rows, and the driver's
// errors. SQLite allows one writer at a time, so the Store writes through a
// single connection and commits concurrent creates together (group commit);
// reads go through a pool of read-only connections, which WAL mode lets run
// alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
)

// Defaults of Config.
const (
	DefaultPath        = "herald.db"
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxBatch    = sqlstore.DefaultMaxBatch
)

// Page sizes of FindNotifications.
const (
	DefaultLimit = sqlstore.DefaultLimit
	MaxLimit     = sqlstore.MaxLimit
)

// Config configures a Store. The zero value works.
type Config struct {
	// Path is the database file, created when missing. Default: herald.db.
	// ":memory:" keeps the database in memory, which suits tests; it then
	// lives in one connection that reads and writes share.
	Path string
	// Now stamps CreatedAt, and ReadAt when MarkRead is given a zero time.
	// Default: time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing. Default: 5s.
	BusyTimeout time.Duration
	// MaxReaders bounds the read-only connections. Default: the number of
	// CPUs, at least 4.
	MaxReaders int
	// MaxBatch bounds how many notifications of concurrent creates share one
	// transaction. A single create larger than this still runs, alone.
	// Default: 1000.
	MaxBatch int
	// CommitDelay bounds how long the commit loop waits for more creates
	// when it holds fewer than half of what recent commits carried, never
	// longer than its last commit took (default sqlstore.DefaultCommitDelay;
	// negative: never).
	CommitDelay time.Duration
	// CheckpointInterval is how often a connection of its own copies the
	// write-ahead log into the database file (a passive checkpoint), so that
	// the writer does not stop to copy most pages (default
	// DefaultCheckpointInterval). A negative interval leaves checkpoints to
	// the writer, every 1,000 pages as SQLite does by default. See
	// writerCheckpoint for what the writer still does under a sustained load.
	CheckpointInterval time.Duration
	// UnreadCounts bounds how many users' unread counts the store keeps in
	// memory, so that the count every connecting client is sent at connect
	// costs no query (default DefaultUnreadCounts, 120–150 bytes each; a
	// negative value keeps none). The saved preferences every new
	// notification is planned with are kept too, to the same bound. Past
	// it, or when another store holds the database (a lock on the file
	// Path with "-herald.lock" appended, which the store creates), both are
	// read from the file; after a commit that failed, until a later commit
	// loads them again (at most once per sqlstore.RemakeGap).
	// A tool that opens the database beside a running server and writes
	// no notifications, such as `herald user`, should pass a negative value.
	UnreadCounts int
}

// DefaultUnreadCounts is Config.UnreadCounts's default.
const DefaultUnreadCounts = 500_000

// lockSuffix names the file beside the database that the store holding its
// unread counts in memory locks.
const lockSuffix = "-herald.lock"

// DefaultCheckpointInterval is Config.CheckpointInterval's default.
const DefaultCheckpointInterval = time.Second

// writerCheckpoint is the WAL size (in pages, 80 MB) at which the writer
// checkpoints by itself. Only a checkpoint that finds the whole log copied
// lets the writer start the log again from the top, and under a sustained
// load commits land while every background checkpoint runs. So the log
// grows to this size, and the commit that reaches it copies what the
// background left and syncs the log and the database: 50–100 ms on a
// virtual disk, about once a second at 15,000 notifications a second. A
// background RESTART checkpoint every 500 ms, with the database synced
// before it, cut that to a 10–13 ms wait twice a second, without moving the
// throughput or the p99, and it holds the writer while a slow reader
// finishes; not done (BENCHMARKS.md).
const writerCheckpoint = 20000

// Store is the SQL store on a SQLite database: herald.Store,
// herald.DeliveryStore, herald.PreferenceStore, herald.AccountStore and
// herald.TopicStore.
type Store struct {
	*sqlstore.Store
	ckpt *checkpointer // nil for ":memory:" or when the writer checkpoints
	lock *os.File      // the lock of the one store keeping counts in memory, or nil
	dir  string        // the database file's directory; "" for ":memory:"
}

// MinFreeBytes is the free space of the database's file system under which
// Writable reports the store unable to write: a little more than a busy
// WAL needs between checkpoints.
const MinFreeBytes = 1 << 20

// Writable reports, as an EUNAVAILABLE error, a store that cannot write: a
// write was refused for want of space in the last sqlstore.FullHold, or the
// file system of the database has less than MinFreeBytes free. Readiness
// uses it; reads keep working either way.
func (s *Store) Writable(ctx context.Context) error {
	if err := s.WriteFault(); err != nil {
		return err
	}
	if s.dir == "" {
		return nil
	}
	if free, ok := freeBytes(s.dir); ok && free < MinFreeBytes {
		return herald.Errorf(herald.EUNAVAILABLE, "notification database is out of disk space: %d KiB free where it lives", free>>10)
	}
	return nil
}

// Close stops the checkpoints, commits the creates already queued and closes
// the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.ckpt.stop()
	err := s.Store.Close()
	if s.lock != nil {
		s.lock.Close() // after the last write
	}
	return err
}

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's: see sqlstore.Dialect.
var Dialect = func() *sqlstore.Dialect {
	return &sqlstore.Dialect{
		Name:         "sqlite",
		MaxRows:      256, // 256 rows of 14 columns stay well under SQLite's 32,766 parameters
		Time:         func(t time.Time) any { return t.UnixMicro() },
		Classify:     classify,
		Migrations:   migrations,
		SingleWriter: true,
		MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    TEXT    NOT NULL PRIMARY KEY,
			applied_at INTEGER NOT NULL DEFAULT (unixepoch())
		) STRICT`,
	}
}()

// constraints names SQLite's unique constraints as the schema's indexes
// (and PostgreSQL) do.
var constraints = map[string]string{
	"notifications.id": "notifications_pkey",
	"notifications.user_id, notifications.idempotency_key": "notifications_user_key",
	"accounts.username": "accounts_pkey",
	"topic_sends.topic, topic_sends.idempotency_key": "topic_sends_key",
}

// classify reads a modernc.org/sqlite error.
func classify(err error) (sqlstore.Fault, string) {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.FaultNone, ""
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return sqlstore.FaultBusy, ""
	case sqlite3.SQLITE_FULL:
		return sqlstore.FaultFull, ""
	case sqlite3.SQLITE_CONSTRAINT:
		msg := e.Error()
		if i := strings.LastIndex(msg, "constraint failed: "); i >= 0 {
			msg = msg[i:]
		}
		switch {
		case e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return sqlstore.FaultForeignKey, ""
		case e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			// "... UNIQUE constraint failed: t.a, t.b (2067)"
			_, cols, _ := strings.Cut(msg, "constraint failed: ")
			if i := strings.LastIndex(cols, " ("); i >= 0 {
				cols = cols[:i]
			}
			return sqlstore.FaultUnique, constraints[cols]
		}
	}
	return sqlstore.FaultNone, ""
}

// Open opens (creating when needed) the database c names, brings its schema
// up to date, and starts the writer.
func Open(ctx context.Context, c Config) (*Store, error) {
	path := c.Path
	if path == "" {
		path = DefaultPath
	}
	if strings.ContainsAny(path, "?#") {
		return nil, herald.Errorf(herald.EINVALID, "sqlite: path must not contain '?' or '#'")
	}
	busy := c.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	readers := c.MaxReaders
	if readers <= 0 {
		readers = max(4, runtime.NumCPU())
	}
	dsn := func(extra ...string) string {
		q := url.Values{"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()),
			"foreign_keys(1)",
		}}
		for _, p := range extra {
			if k, v, ok := strings.Cut(p, "="); ok {
				q.Add(k, v)
			} else {
				q.Add("_pragma", p)
			}
		}
		return path + "?" + q.Encode()
	}
	// Write transactions start IMMEDIATE: they take the write lock up front
	// instead of failing to upgrade a read lock when another process writes.
	background := c.CheckpointInterval >= 0 && path != ":memory:"
	// temp_store(MEMORY) keeps each statement's journal in memory. A commit
	// of many creates is one multi-row insert and one counter upsert inside a
	// larger transaction; SQLite journals the pages each statement changes so
	// that it can undo that statement alone, and past 64 KiB it spilled that
	// journal to a fresh temporary file: an open, its writes and a close for
	// most commits under load. Only statements that write many rows in an
	// explicit transaction keep such a journal, and those are bulk statements
	// of at most MaxRows rows, so it stays a few MiB at most (a MarkAllRead
	// of 50,000 notifications keeps none: the process's peak RSS did not move).
	writerPragmas := []string{"journal_mode(WAL)", "synchronous(NORMAL)", "temp_store(MEMORY)", "_txlock=immediate"}
	if background {
		writerPragmas = append(writerPragmas, fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpoint))
	}
	writer, err := sql.Open("sqlite", dsn(writerPragmas...))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0) // a ":memory:" database dies with its connection
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var reader *sql.DB
	if path != ":memory:" {
		if reader, err = sql.Open("sqlite", dsn("query_only(1)")); err == nil {
			reader.SetMaxOpenConns(readers)
			reader.SetMaxIdleConns(readers)
			reader.SetConnMaxIdleTime(0)
		}
		if err != nil {
			writer.Close()
			return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
		}
	}
	counts, lock := unreadCounts(c, path)
	st, err := sqlstore.Open(ctx, sqlstore.Config{Dialect: Dialect, Writer: writer, Readers: reader, Now: c.Now, MaxBatch: c.MaxBatch,
		CommitDelay: c.CommitDelay, Counts: counts})
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	s := &Store{Store: st, lock: lock}
	if reader != nil {
		// Readers open after the migrations, on the schema they made.
		if err := reader.PingContext(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
		}
	}
	if path != ":memory:" && !strings.HasPrefix(path, "file:") {
		s.dir = filepath.Dir(path)
	}
	if background {
		interval := c.CheckpointInterval
		if interval == 0 {
			interval = DefaultCheckpointInterval
		}
		db, err := sql.Open("sqlite", dsn())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
		}
		s.ckpt = startCheckpoints(db, interval)
	}
	return s, nil
}

// unreadCounts returns how many users' counts the store at path may keep in
// memory (0: none), and the lock that lets it. Only the database's one
// writer may: a ":memory:" database is its store's alone; a file needs the
// lock; a "file:" URI is left alone, as what it names is not plain.
func unreadCounts(c Config, path string) (int, *os.File) {
	n := c.UnreadCounts
	switch {
	case n < 0:
		return 0, nil
	case n == 0:
		n = DefaultUnreadCounts
	}
	switch {
	case path == ":memory:":
		return n, nil
	case strings.HasPrefix(path, "file:"):
		return 0, nil
	}
	lock, ok := lockWriter(path)
	if !ok {
		return 0, nil
	}
	return n, lock
}
