// Package sqlstore is Herald's one SQL store: notifications, the outbox,
// preferences, accounts and topics, written once over database/sql for
// SQLite and PostgreSQL. What differs between the two — placeholders, how
// bulk rows travel, row locks, time and error mapping, the schema's DDL — is
// a Dialect, which the sqlite and postgres packages provide with a driver and
// their migrations.
//
// Every statement is prepared once per connection and reused (see stmt);
// nothing is parsed on the hot paths after their first use. Creates from
// concurrent callers are committed together by one commit loop (group.go),
// which also orders them: the results of each commit are handed to the
// caller's herald.CreateOptions.Committed in commit order.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults and limits.
const (
	// DefaultMaxBatch bounds the notifications of concurrent creates that
	// share one transaction.
	DefaultMaxBatch = 1000
	// DefaultCommitDelay is Config.CommitDelay's default: on SQLite a commit
	// takes well under it, so there it is the last commit's duration that
	// bounds the wait.
	DefaultCommitDelay = time.Millisecond
	// DefaultLimit and MaxLimit are the page sizes of FindNotifications and
	// FindDeliveries.
	DefaultLimit = 50
	MaxLimit     = 500
)

// Config configures a Store.
type Config struct {
	// Dialect is the database's. Required.
	Dialect *Dialect
	// Writer runs the writes; Readers the reads (Writer when nil). The Store
	// closes both.
	Writer, Readers *sql.DB
	// Now stamps CreatedAt, and ReadAt when MarkRead is given a zero time.
	// Default: time.Now.
	Now func() time.Time
	// MaxBatch bounds how many notifications of concurrent creates share
	// one transaction (default DefaultMaxBatch). A larger single create
	// still runs, alone.
	MaxBatch int
	// Committers is how many transactions of creates may be in flight at
	// once (default 1, the only choice with a single writer). One keeps a
	// user's commits in the order the callers' requests were queued.
	Committers int
	// CommitDelay bounds how long the commit loop waits for more creates
	// when the ones it holds are fewer than half of what recent commits
	// carried, so that a busy store makes fewer, larger commits (default
	// DefaultCommitDelay; negative: it never waits). It never waits longer
	// than its last commit took, nor at all for a caller alone.
	CommitDelay time.Duration
	// Counts, when positive, keeps every user's unread count and saved
	// preferences in memory (up to that many users each) so that
	// UnreadCount and the commit loop's planning read no table; see counts
	// and prefs. Only for a store that is its database's one writer:
	// another writer's changes would go unseen. Default 0: off.
	Counts int
}

// Store is herald.Store, herald.DeliveryStore, herald.PreferenceStore,
// herald.AccountStore and herald.TopicStore on one SQL database.
type Store struct {
	d      *Dialect
	w, r   *sql.DB
	now    func() time.Time
	closed atomic.Bool
	stmts  sync.Map // stmtKey -> *sql.Stmt
	later  sync.Map // stmtKey -> struct{}: first seen in a transaction, to prepare after it
	group  *group
	// metrics are the commit loop's; see Collectors.
	metrics *metrics
	// mem is the counts and preferences kept in memory; nil without
	// Config.Counts. While its pair is off or loading, UnreadCount and the
	// commit loop read the tables.
	mem    *mirrors
	txSeq  atomic.Uint64 // numbers write transactions, in commit order on a single writer
	loaded chan struct{} // closed when the mirrors' first load has ended

	closeOnce sync.Once
	closeErr  error

	fullAt atomic.Int64 // unix nanoseconds of the last write refused for space (FaultFull)
}

// FullHold is how long after a write refused for want of space WriteFault
// keeps reporting it: long enough for a load balancer to take the node out,
// short enough that a node whose disk was freed comes back by itself.
const FullHold = 30 * time.Second

// WriteFault reports, as an EUNAVAILABLE error, that a write failed for want
// of disk space less than FullHold ago; nil otherwise. Readiness reads it:
// such a store answers reads but cannot store a notification.
func (s *Store) WriteFault() error {
	at := s.fullAt.Load()
	if at != 0 && s.now().Sub(time.Unix(0, at)) < FullHold {
		return errFull()
	}
	return nil
}

// errFull is the answer to a write the database refused for want of space.
func errFull() error {
	return herald.Errorf(herald.EUNAVAILABLE, "notification database is out of disk space: nothing can be stored until space is freed")
}

var (
	_ herald.Store           = (*Store)(nil)
	_ herald.DeliveryStore   = (*Store)(nil)
	_ herald.PreferenceStore = (*Store)(nil)
	_ herald.AccountStore    = (*Store)(nil)
	_ herald.TopicStore      = (*Store)(nil)
)

// Open brings the database's schema up to date and returns the Store, with
// its commit loop running. On failure it closes c's databases.
func Open(ctx context.Context, c Config) (*Store, error) {
	if c.Dialect == nil || c.Writer == nil {
		return nil, errors.New("sqlstore: a dialect and a writer are required")
	}
	s := &Store{d: c.Dialect, w: c.Writer, r: c.Readers, now: c.Now}
	if s.r == nil {
		s.r = s.w
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := Migrate(ctx, s.d, s.w, nil); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("%s: migrate: %w", s.d.Name, err)
	}
	maxBatch := c.MaxBatch
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	committers := c.Committers
	if committers <= 0 || s.d.SingleWriter {
		committers = 1
	}
	s.metrics = newMetrics()
	delay := c.CommitDelay
	if delay == 0 {
		delay = DefaultCommitDelay
	}
	s.group = newGroup(s, maxBatch, committers, delay)
	if c.Counts <= 0 {
		s.loaded = make(chan struct{})
		close(s.loaded)
		return s, nil
	}
	// The mirrors take notes from now on and are filled from a snapshot in
	// the background, so a large table does not hold up the start: until
	// they answer, the tables are read.
	s.mem = newMirrors(ctx, c.Counts, s.read, s.now)
	s.loaded = s.mem.first
	return s, nil
}

// Close stops taking calls, commits the creates already queued, and closes
// the databases. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.mem.stop()
		s.group.close()
		s.stmts.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var err error
	if s.r != s.w {
		err = s.r.Close()
	}
	return errors.Join(err, s.w.Close())
}

// CountsInMemory reports whether UnreadCount answers from memory (see
// Config.Counts) rather than by reading the table. It is false until the
// load that Loaded reports has ended, and from a failed commit until a
// fresh load has (see mirrors).
func (s *Store) CountsInMemory() bool { return s.mem.countsNow().answers() }

// Loaded is closed when the counts and preferences kept in memory have been
// loaded the first time, or have turned out not to fit (see Config.Counts);
// at once when none are kept.
func (s *Store) Loaded() <-chan struct{} { return s.loaded }

// MirrorsMade returns how many times the counts and preferences kept in
// memory have been made: once at Open, once more after each failed commit
// that a later commit followed (see mirrors); 0 when none are kept.
func (s *Store) MirrorsMade() int { return s.mem.pairsMade() }

// Writer returns the database the Store writes to, for tests and tools.
func (s *Store) Writer() *sql.DB { return s.w }

// Commits returns how many transactions the commit loop has begun.
func (s *Store) Commits() int64 { return s.group.commits.Load() }

// Queued returns how many requests wait for the commit loop.
func (s *Store) Queued() int { return len(s.group.queue) }

var (
	errNotFound = herald.Errorf(herald.ENOTFOUND, "notification not found")
	errClosed   = herald.Errorf(herald.EUNAVAILABLE, "notification store is closed")
)

// fail turns a database failure of op into Herald's terms: an *Error and a
// context's error pass; text or JSON the database refuses is the caller's to
// fix; a busy or unreachable database is worth retrying; anything else is
// internal, with its detail for the logs.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var herr *herald.Error
	if errors.As(err, &herr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch f, _ := s.d.Classify(err); f {
	case FaultBusy:
		return herald.Errorf(herald.EUNAVAILABLE, "notification database is busy or unreachable")
	case FaultFull:
		s.fullAt.Store(s.now().UnixNano())
		return errFull()
	case FaultBadText:
		return herald.Errorf(herald.EINVALID, "text must be UTF-8 without NUL bytes")
	case FaultBadJSON:
		return herald.Errorf(herald.EINVALID, "data must be a JSON object")
	}
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// unique reports whether err violates the unique constraint named name.
func (s *Store) unique(err error, name string) bool {
	f, c := s.d.Classify(err)
	return f == FaultUnique && c == name
}

// enter begins a call: it fails on a closed store.
func (s *Store) enter() error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// stmtKey names a prepared statement: its database and its text.
type stmtKey struct {
	db *sql.DB
	q  string
}

// stmt returns q (with ? placeholders) prepared on db, preparing it on first
// use. database/sql prepares it again on each new connection by itself, and
// a transaction reuses the preparation of its connection (Tx.StmtContext).
func (s *Store) stmt(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	k := stmtKey{db, q}
	if st, ok := s.stmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, s.d.bind(q))
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// row is a *sql.Row, or the error that kept the query from running.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// scanner is a row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// conn runs statements on a database, or on a transaction.
type conn struct {
	s   *Store
	ctx context.Context
	db  *sql.DB
	tx  *sql.Tx // nil outside a transaction
	// notes collects the rows a transaction changed, for the mirrors after
	// its commit; nil when both are off.
	notes *txNotes
}

// txNotes is what one transaction left of the rows the mirrors hold.
type txNotes struct {
	seq    uint64 // the transaction's number, in commit order
	counts []countNote
	prefs  []*herald.Preferences
}

// note records that c's transaction left user's counter row at u.
func (c conn) note(user string, u herald.Unread) {
	if c.notes != nil {
		c.notes.counts = append(c.notes.counts, countNote{user, u})
	}
}

// notePrefs records that c's transaction saved p.
func (c conn) notePrefs(p *herald.Preferences) {
	if c.notes != nil {
		c.notes.prefs = append(c.notes.prefs, p)
	}
}

func (c conn) prep(q string) (*sql.Stmt, error) {
	if c.tx == nil {
		return c.s.stmt(c.ctx, c.db, q)
	}
	k := stmtKey{c.db, q}
	if st, ok := c.s.stmts.Load(k); ok {
		return c.tx.StmtContext(c.ctx, st.(*sql.Stmt)), nil
	}
	// Not prepared yet: preparing on the database could wait for the very
	// connection this transaction holds (SQLite's writer has one). Prepare
	// it for this transaction, and on the database once the transaction is
	// over (Store.prepareLater).
	c.s.later.Store(k, struct{}{})
	return c.tx.PrepareContext(c.ctx, c.s.d.bind(q))
}

func (c conn) exec(q string, args ...any) (sql.Result, error) {
	st, err := c.prep(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(c.ctx, c.s.d.args(args)...)
}

// execN runs q and returns the rows it affected.
func (c conn) execN(q string, args ...any) (int64, error) {
	res, err := c.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) query(q string, args ...any) (*sql.Rows, error) {
	st, err := c.prep(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(c.ctx, c.s.d.args(args)...)
}

func (c conn) queryRow(q string, args ...any) row {
	st, err := c.prep(q)
	if err != nil {
		return row{err: err}
	}
	return row{r: st.QueryRowContext(c.ctx, c.s.d.args(args)...)}
}

// read returns a conn on the readers, write one on the writer.
func (s *Store) read(ctx context.Context) conn  { return conn{s: s, ctx: ctx, db: s.r} }
func (s *Store) write(ctx context.Context) conn { return conn{s: s, ctx: ctx, db: s.w} }

// inTx runs fn in a transaction on the writer and commits it when fn
// succeeds.
func (s *Store) inTx(ctx context.Context, fn func(c conn) error) error {
	defer s.prepareLater(ctx)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	c := conn{s: s, ctx: ctx, db: s.w, tx: tx}
	if s.mem != nil {
		// Mirrors are only kept with a single writer, whose transactions
		// run one at a time from their BEGIN: this numbers them in commit
		// order. Notes are taken even while the mirrors are off, for a
		// fresh pair made before this commit.
		c.notes = &txNotes{seq: s.txSeq.Add(1)}
	}
	if err := fn(c); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		// It may have committed: the mirrors cannot know what it left.
		s.mem.failed()
		return err
	}
	s.mem.committed(c.notes)
	return nil
}

// prepareLater prepares on their database the statements transactions met
// before they were prepared, so that the next transactions reuse them. A
// failure leaves a statement to be prepared again next time.
func (s *Store) prepareLater(ctx context.Context) {
	s.later.Range(func(k, _ any) bool {
		s.later.Delete(k)
		key := k.(stmtKey)
		if _, err := s.stmt(context.WithoutCancel(ctx), key.db, key.q); err != nil {
			return true
		}
		return true
	})
}

// bulk runs q once per chunk of rows, with the row source of each chunk in
// place of the %s of q; the row args come after before and ahead of after.
// It calls each for every result row of a query, or collects nothing for
// an exec when each is nil.
func (c conn) bulk(q string, cols []Col, rows [][]any, before, after []any, each func(scanner) error) (int64, error) {
	var total int64
	for _, n := range c.s.d.chunks(len(rows)) {
		part := rows[:n]
		rows = rows[n:]
		stmt := fmt.Sprintf(q, c.s.d.rows(cols, n))
		args := append(append(append([]any{}, before...), c.s.d.rowArgs(cols, part)...), after...)
		if each == nil {
			k, err := c.execN(stmt, args...)
			if err != nil {
				return total, err
			}
			total += k
			continue
		}
		rs, err := c.query(stmt, args...)
		if err != nil {
			return total, err
		}
		for rs.Next() {
			total++
			if err := each(rs); err != nil {
				rs.Close()
				return total, err
			}
		}
		if err := rs.Close(); err != nil {
			return total, err
		}
		if err := rs.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}
