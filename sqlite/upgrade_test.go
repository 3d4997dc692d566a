package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

const unreadMigration = "migrations/0003_unread_counter.sql"

// TestUpgradeCountsUnread opens a database as the version before the unread
// counter left it, notifications written the way it wrote them, and expects
// Open to start each user's count from the stored rows and keep it from there.
func TestUpgradeCountsUnread(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlite.MigrateWithout(ctx, db, unreadMigration); err != nil {
		t.Fatal(err)
	}
	if applied(t, db, unreadMigration) {
		t.Fatalf("%s applied before the upgrade", unreadMigration)
	}
	now := time.Now().UnixMicro()
	// alice: seqs 1-4, 3 deleted, 1 read; bob: both read; carol: all deleted.
	for _, r := range []struct {
		user string
		seq  int64
		read bool
	}{{"alice", 1, true}, {"alice", 2, false}, {"alice", 4, false}, {"bob", 1, true}, {"bob", 2, true}} {
		var readAt any
		if r.read {
			readAt = now
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO notifications (id, user_id, seq, type, title, message, link, read_at, created_at)
			VALUES (?, ?, ?, 'test', 'old', '', '', ?, ?)`, uuid.NewString(), r.user, r.seq, readAt, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO user_seqs (user_id, last_seq) VALUES ('alice', 4), ('bob', 2), ('carol', 2)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, sqlite.Config{Path: path})
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

	check, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	if !applied(t, check, unreadMigration) {
		t.Fatalf("%s not recorded after Open", unreadMigration)
	}
}

// applied reports whether db's schema_migrations lists name.
func applied(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// wantCount fails the test unless user's unread count is want, and as many of
// user's stored notifications are unread.
func wantCount(t *testing.T, s herald.Store, user string, want int) {
	t.Helper()
	ctx := context.Background()
	if got, err := s.UnreadCount(ctx, user); err != nil || got.Count != want {
		t.Fatalf("UnreadCount(%s) = %d, %v; want %d", user, got.Count, err, want)
	}
	page, err := s.FindNotifications(ctx, herald.NotificationFilter{UserID: user, UnreadOnly: true, Limit: sqlite.MaxLimit})
	if err != nil || len(page) != want {
		t.Fatalf("%s has %d unread notifications stored (%v), want %d", user, len(page), err, want)
	}
}
