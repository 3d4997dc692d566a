package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

const unreadMigration = "migrations/0003_unread_counter.sql"

// TestUpgradeCountsUnread opens a database as the version before the unread
// counter left it, notifications written the way it wrote them, and expects
// Open to start each user's count from the stored rows and keep it from there.
func TestUpgradeCountsUnread(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.MigrateWithout(ctx, pool, unreadMigration); err != nil {
		t.Fatal(err)
	}
	if applied(t, pool, unreadMigration) {
		t.Fatalf("%s applied before the upgrade", unreadMigration)
	}
	// alice: seqs 1-4, 3 deleted, 1 read; bob: both read; carol: all deleted.
	for _, r := range []struct {
		user string
		seq  int64
		read bool
	}{{"alice", 1, true}, {"alice", 2, false}, {"alice", 4, false}, {"bob", 1, true}, {"bob", 2, true}} {
		var readAt *time.Time
		if r.read {
			now := time.Now()
			readAt = &now
		}
		if _, err := pool.Exec(ctx, `INSERT INTO notifications (id, user_id, seq, type, title, message, link, read_at, created_at)
			VALUES ($1, $2, $3, 'test', 'old', '', '', $4, now())`, uuid.NewString(), r.user, r.seq, readAt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO user_seqs (user_id, last_seq) VALUES ('alice', 4), ('bob', 2), ('carol', 2)`); err != nil {
		t.Fatal(err)
	}

	s := open(t, postgres.Config{URL: url})
	for user, want := range map[string]int{"alice": 2, "bob": 0, "carol": 0, "dave": 0} {
		wantCount(t, s, user, want)
	}
	n := notification("alice", "new")
	if _, err := createInto(ctx, s, []*herald.Notification{n}); err != nil {
		t.Fatal(err)
	}
	if n.Seq != 5 {
		t.Fatalf("seq after the upgrade = %d, want 5", n.Seq)
	}
	wantCount(t, s, "alice", 3)
	if _, changed, err := s.MarkRead(ctx, "alice", n.ID, time.Time{}); err != nil || !changed {
		t.Fatalf("MarkRead = %v, %v", changed, err)
	}
	wantCount(t, s, "alice", 2)
	if marked, _, err := s.MarkAllRead(ctx, "alice", time.Time{}); err != nil || marked != 2 {
		t.Fatalf("MarkAllRead = %d, %v; want 2 (the old unread ones)", marked, err)
	}
	wantCount(t, s, "alice", 0)
	if _, err := createInto(ctx, s, []*herald.Notification{notification("carol", "new")}); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, "carol", 1)
	if !applied(t, pool, unreadMigration) {
		t.Fatalf("%s not recorded after Open", unreadMigration)
	}
}

// applied reports whether the database's schema_migrations lists name.
func applied(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var seen bool
	if err := pool.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, name).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	return seen
}

// wantCount fails the test unless user's unread count is want, and as many of
// user's stored notifications are unread.
func wantCount(t *testing.T, s herald.Store, user string, want int) {
	t.Helper()
	ctx := context.Background()
	if got, err := s.UnreadCount(ctx, user); err != nil || got.Count != want {
		t.Fatalf("UnreadCount(%s) = %d, %v; want %d", user, got.Count, err, want)
	}
	page, err := s.FindNotifications(ctx, herald.NotificationFilter{UserID: user, UnreadOnly: true, Limit: postgres.MaxLimit})
	if err != nil || len(page) != want {
		t.Fatalf("%s has %d unread notifications stored (%v), want %d", user, len(page), err, want)
	}
}
