// Package sqlite is Herald's default notification store: one SQLite file,
// through modernc.org/sqlite, so the binary needs no cgo and no database
// server.
//
// SQLite allows one writer at a time, so the Store writes through a single
// connection and coalesces concurrent creates into shared transactions (group
// commit); reads go through a pool of read-only connections, which WAL mode lets
// run alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Defaults of Config.
const (
	DefaultPath        = "herald.db"
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxBatch    = 1000
)

// Page sizes of FindNotifications.
const (
	DefaultLimit = 50
	MaxLimit     = 500
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
}

// Store is a herald.Store in a SQLite database.
type Store struct {
	now     func() time.Time
	writer  *sql.DB // one connection: every write goes through it
	readers *sql.DB // read-only pool; the writer itself for ":memory:"
	stmts   *statements
	closed  atomic.Bool

	// Group commit: CreateNotifications queues requests, the loop in
	// group.go commits them in shared transactions.
	queueMu   sync.RWMutex // held for reading while queueing, for writing by Close
	queue     chan *createRequest
	maxBatch  int
	loopDone  chan struct{}
	commits   atomic.Int64 // transactions the writer loop began, for tests
	closeOnce sync.Once
	closeErr  error
}

var _ herald.Store = (*Store)(nil)

// Open opens (creating when needed) the database c names, brings its schema up
// to date, and starts the writer.
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
	s := &Store{
		now:      c.Now,
		maxBatch: c.MaxBatch,
		queue:    make(chan *createRequest, 1024),
		loopDone: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBatch <= 0 {
		s.maxBatch = DefaultMaxBatch
	}

	pragmas := func(extra ...string) string {
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
	var err error
	// Write transactions start IMMEDIATE: they take the write lock up front
	// instead of failing to upgrade a read lock when another process writes.
	s.writer, err = sql.Open("sqlite", pragmas("journal_mode(WAL)", "synchronous(NORMAL)", "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetConnMaxLifetime(0) // a ":memory:" database dies with its connection
	s.writer.SetConnMaxIdleTime(0)
	if err := s.writer.PingContext(ctx); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, s.writer); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}

	s.readers = s.writer
	if path != ":memory:" {
		s.readers, err = sql.Open("sqlite", pragmas("query_only(1)"))
		if err == nil {
			s.readers.SetMaxOpenConns(readers)
			s.readers.SetMaxIdleConns(readers)
			err = s.readers.PingContext(ctx)
		}
		if err != nil {
			s.writer.Close()
			return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
		}
	}

	if s.stmts, err = prepare(ctx, s.writer, s.readers); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	go s.commitLoop()
	return s, nil
}

// Close stops taking creates, commits those already queued, and closes the
// database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.queueMu.Lock()
		close(s.queue)
		s.queueMu.Unlock()
		<-s.loopDone
		s.stmts.close()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var err error
	if s.readers != s.writer {
		err = s.readers.Close()
	}
	return errors.Join(err, s.writer.Close())
}

var (
	errNotFound = herald.Errorf(herald.ENOTFOUND, "notification not found")
	errClosed   = herald.Errorf(herald.EUNAVAILABLE, "notification store is closed")
)
