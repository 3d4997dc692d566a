package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

// holdWriteLock takes the database's write lock from another connection, as
// another process would, until release is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// waitFor polls cond until it holds, failing the test after a long while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type outcome struct {
	n       *herald.Notification
	created []bool
	err     error
}

// createAsync starts one CreateNotifications call and returns its outcome channel.
func createAsync(ctx context.Context, s *sqlite.Store, n *herald.Notification) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		created, err := createInto(ctx, s, []*herald.Notification{n})
		ch <- outcome{n, created, err}
	}()
	return ch
}

func notification(user, title string) *herald.Notification {
	return &herald.Notification{UserID: user, Type: "test", Title: title}
}

// TestGroupCommit queues creates behind a locked database, so they must share
// one transaction once it frees, and checks that one failing request in the
// shared transaction fails alone.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := open(t, sqlite.Config{Path: path, BusyTimeout: time.Minute})
	release := holdWriteLock(t, path)

	first := createAsync(context.Background(), s, notification("alice", "first"))
	waitFor(t, "the writer to take the first request", func() bool { return sqlite.Commits(s) == 1 && sqlite.Queued(s) == 0 })

	dupID := uuid.NewString()
	var results []<-chan outcome
	for i := range 10 {
		n := notification("alice", "queued")
		if i == 3 || i == 7 {
			n.ID = dupID // the later of the two must fail, alone
		}
		results = append(results, createAsync(context.Background(), s, n))
		waitFor(t, "the request to queue", func() bool { return sqlite.Queued(s) == i+1 })
	}
	canceledCtx, cancel := context.WithCancel(context.Background())
	canceled := createAsync(canceledCtx, s, notification("alice", "canceled"))
	waitFor(t, "the canceled request to queue", func() bool { return sqlite.Queued(s) == 11 })
	cancel()
	release()

	if o := <-first; o.err != nil || o.n.Seq != 1 {
		t.Fatalf("first create = seq %d, %v; want 1, nil", o.n.Seq, o.err)
	}
	var seqs []int64
	conflicts := 0
	for _, ch := range results {
		o := <-ch
		switch {
		case herald.CodeOf(o.err) == herald.ECONFLICT:
			conflicts++
		case o.err != nil:
			t.Fatalf("queued create failed: %v", o.err)
		default:
			seqs = append(seqs, o.n.Seq)
		}
	}
	if o := <-canceled; o.err == nil {
		t.Fatal("a create canceled while queued succeeded")
	}
	if conflicts != 1 {
		t.Fatalf("%d creates failed with a conflict, want 1", conflicts)
	}
	slices.Sort(seqs)
	if want := []int64{2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(seqs, want) {
		t.Fatalf("queued creates got seqs %v, want %v", seqs, want)
	}
	// One for the first create, one for the queued ones together, and one to
	// run those again without the one that failed.
	if got := sqlite.Commits(s); got != 3 {
		t.Fatalf("writer began %d transactions, want 3: the queued creates must share one", got)
	}
	page, err := s.FindNotifications(context.Background(), herald.NotificationFilter{UserID: "alice"})
	if err != nil || len(page) != 10 {
		t.Fatalf("found %d notifications (%v), want 10", len(page), err)
	}
	for _, n := range page {
		if n.Title == "canceled" {
			t.Fatal("the canceled create was stored")
		}
	}
}

// TestBusyIsUnavailable checks that a lock held past BusyTimeout by another
// process answers EUNAVAILABLE, which callers may retry, and that the store
// works once the lock is gone.
func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := open(t, sqlite.Config{Path: path, BusyTimeout: 20 * time.Millisecond})
	release := holdWriteLock(t, path)
	ctx := context.Background()

	_, err := createInto(ctx, s, []*herald.Notification{notification("alice", "x")})
	if herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("create while locked = %v, want EUNAVAILABLE", err)
	}
	_, _, err = s.MarkAllRead(ctx, "alice", time.Now())
	if herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("MarkAllRead while locked = %v, want EUNAVAILABLE", err)
	}
	// Readers are not blocked by a writer in WAL mode.
	if _, err := s.UnreadCount(ctx, "alice"); err != nil {
		t.Fatalf("UnreadCount while locked: %v", err)
	}
	release()
	n := notification("alice", "y")
	if _, err := createInto(ctx, s, []*herald.Notification{n}); err != nil || n.Seq != 1 {
		t.Fatalf("create after unlock = seq %d, %v; want 1, nil", n.Seq, err)
	}
}

// TestCloseCommitsQueued checks that Close lets queued creates finish and
// that the store refuses work afterwards.
func TestCloseCommitsQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, BusyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriteLock(t, path)
	var results []<-chan outcome
	for i := range 5 {
		results = append(results, createAsync(ctx, s, notification("alice", "queued")))
		waitFor(t, "the request to be taken or queued", func() bool { return int(sqlite.Commits(s))+sqlite.Queued(s) >= i+1 })
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to refuse new work", func() bool {
		_, err := s.UnreadCount(ctx, "alice")
		return herald.CodeOf(err) == herald.EUNAVAILABLE
	})
	_, err = createInto(ctx, s, []*herald.Notification{notification("alice", "late")})
	if herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("create during Close = %v, want EUNAVAILABLE", err)
	}
	release()
	for _, ch := range results {
		if o := <-ch; o.err != nil {
			t.Fatalf("create queued before Close failed: %v", o.err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = open(t, sqlite.Config{Path: path})
	if u, err := s.UnreadCount(ctx, "alice"); err != nil || u.Count != 5 {
		t.Fatalf("after reopening UnreadCount = %d, %v; want 5", u.Count, err)
	}
}

// TestCommitWaitsForStragglers: once commits have carried many creates,
// a create that finds itself alone in the queue waits, as long as the last
// commit took, for others to join it; one that arrives meanwhile shares its
// commit.
func TestCommitWaitsForStragglers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := open(t, sqlite.Config{Path: path, BusyTimeout: time.Minute, CommitDelay: time.Minute})
	ctx := context.Background()

	// Commits of many: twenty creates queue behind the lock and share one.
	release := holdWriteLock(t, path)
	first := createAsync(ctx, s, notification("alice", "first"))
	waitFor(t, "the writer to take the first request", func() bool { return sqlite.Commits(s) == 1 && sqlite.Queued(s) == 0 })
	var burst []<-chan outcome
	for i := range 20 {
		burst = append(burst, createAsync(ctx, s, notification("bob", "burst")))
		waitFor(t, "the request to queue", func() bool { return sqlite.Queued(s) == i+1 })
	}
	release()
	for _, ch := range append(burst, first) {
		if o := <-ch; o.err != nil {
			t.Fatal(o.err)
		}
	}
	// A slow commit: one create held behind the lock for a while.
	release = holdWriteLock(t, path)
	slow := createAsync(ctx, s, notification("carol", "slow"))
	waitFor(t, "the writer to take the slow request", func() bool { return sqlite.Commits(s) == 3 && sqlite.Queued(s) == 0 })
	time.Sleep(300 * time.Millisecond)
	release()
	if o := <-slow; o.err != nil {
		t.Fatal(o.err)
	}

	// Now a lone create waits (up to the slow commit's 300 ms) and the next
	// one, sent once the loop has taken the first, joins its commit.
	before := sqlite.Commits(s)
	lone := createAsync(ctx, s, notification("dan", "lone"))
	waitFor(t, "the loop to take the lone request", func() bool { return sqlite.Queued(s) == 0 })
	joined := createAsync(ctx, s, notification("erin", "joins"))
	for _, ch := range []<-chan outcome{lone, joined} {
		if o := <-ch; o.err != nil {
			t.Fatal(o.err)
		}
	}
	if got := sqlite.Commits(s) - before; got != 1 {
		t.Fatalf("the lone create and the one after it took %d commits, want 1", got)
	}
}
