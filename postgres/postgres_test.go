package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/jackc/pgx/v5"
)

func notification(user, title string) *herald.Notification {
	return &herald.Notification{UserID: user, Type: "test", Title: title}
}

// TestKeyRaceRetries makes a create look up its idempotency key while another
// transaction holds an uncommitted notification with that key, then lets that
// transaction commit: the create must come back with the other's notification,
// not an error and not a second notification.
func TestKeyRaceRetries(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	s := open(t, postgres.Config{URL: url})

	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// What a concurrent create does: lock alice's counter, insert with key k.
	if _, err := tx.Exec(ctx, `INSERT INTO user_seqs VALUES ('alice', 1)`); err != nil {
		t.Fatal(err)
	}
	winner := uuid.NewString()
	if _, err := tx.Exec(ctx, `INSERT INTO notifications (id, user_id, seq, type, title, message, link, created_at, idempotency_key)
		VALUES ($1, 'alice', 1, 'test', 'winner', '', '', now(), 'k')`, winner); err != nil {
		t.Fatal(err)
	}

	n := notification("alice", "loser")
	n.IdempotencyKey = "k"
	type outcome struct {
		created []bool
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		created, err := createInto(ctx, s, []*herald.Notification{n})
		done <- outcome{created, err}
	}()

	// Wait until the create is blocked on alice's counter row.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := other.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the create never waited for the other transaction")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	o := <-done
	if o.err != nil {
		t.Fatalf("create that lost the key race: %v", o.err)
	}
	if o.created[0] || n.ID != winner || n.Title != "winner" {
		t.Fatalf("create that lost the key race = created %v, id %s, title %q; want the winner %s", o.created, n.ID, n.Title, winner)
	}
	next := notification("alice", "next")
	if _, err := createInto(ctx, s, []*herald.Notification{next}); err != nil {
		t.Fatal(err)
	}
	if next.Seq != 2 {
		t.Fatalf("seq after the race = %d, want 2: the lost attempt must not use one", next.Seq)
	}
}

// TestConcurrentOpen starts several stores on one empty database at once, as
// several nodes would: the advisory lock must let each migration run once.
func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			s, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var versions, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	if versions == 0 || versions != distinct {
		t.Fatalf("schema_migrations holds %d rows for %d versions", versions, distinct)
	}
}

func TestUnstorableTextIsInvalid(t *testing.T) {
	s := open(t, postgres.Config{})
	ctx := context.Background()
	for _, n := range []*herald.Notification{
		notification("alice", "nul \x00 byte"),
		notification("alice", "bad utf-8 \xff"),
	} {
		_, err := createInto(ctx, s, []*herald.Notification{n})
		if herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("create with title %q = %v, want EINVALID", n.Title, err)
		}
		if strings.Contains(herald.ErrorMessage(err), n.Title) {
			t.Fatalf("error message repeats the input: %q", herald.ErrorMessage(err))
		}
	}
	if u, err := s.UnreadCount(ctx, "alice"); err != nil || u.Count != 0 {
		t.Fatalf("UnreadCount = %d, %v; want 0", u.Count, err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := open(t, postgres.Config{})
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := createInto(ctx, s, []*herald.Notification{notification("alice", "x")})
	if herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("create after Close = %v, want EUNAVAILABLE", err)
	}
	if _, err := s.UnreadCount(ctx, "alice"); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("UnreadCount after Close = %v, want EUNAVAILABLE", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := postgres.Open(ctx, postgres.Config{URL: "postgres://user:s3cret@[::1"})
	if herald.CodeOf(err) != herald.EINVALID || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open with a malformed URL = %v, want EINVALID without the password", err)
	}
	// Port 1 on loopback: nothing listens there.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = postgres.Open(ctx, postgres.Config{URL: "postgres://user:s3cret@127.0.0.1:1/db?connect_timeout=5"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open of an unreachable server = %v, want an error without the password", err)
	}
}

func TestNowIsInjected(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 6789, time.FixedZone("Y", -5*3600))
	s := open(t, postgres.Config{Now: func() time.Time { return at }})
	ctx := context.Background()
	n := notification("alice", "x")
	if _, err := createInto(ctx, s, []*herald.Notification{n}); err != nil {
		t.Fatal(err)
	}
	want := at.UTC().Truncate(time.Microsecond)
	if !n.CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v, want %v", n.CreatedAt, want)
	}
	if _, _, err := s.MarkRead(ctx, "alice", n.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	page, err := s.FindNotifications(ctx, herald.NotificationFilter{UserID: "alice"})
	if err != nil || len(page) != 1 || page[0].ReadAt == nil || !page[0].ReadAt.Equal(want) {
		t.Fatalf("ReadAt after MarkRead with a zero time = %+v, %v; want %v", page, err, want)
	}
}
