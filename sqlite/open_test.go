package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
)

func TestReopenKeepsDataAndSeqs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	a := notification("alice", "a")
	a.IdempotencyKey = "k"
	b := notification("alice", "b")
	if _, err := createInto(ctx, s, []*herald.Notification{a, b}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DeleteNotification(ctx, "alice", b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, sqlite.Config{Path: path})
	retry := notification("alice", "a again")
	retry.IdempotencyKey = "k"
	c := notification("alice", "c")
	created, err := createInto(ctx, s, []*herald.Notification{retry, c})
	if err != nil {
		t.Fatal(err)
	}
	if created[0] || retry.ID != a.ID {
		t.Fatalf("idempotency key forgotten across reopen: created %v, id %s want %s", created, retry.ID, a.ID)
	}
	if c.Seq != 3 {
		t.Fatalf("seq after reopen = %d, want 3 (2 was used before deletion)", c.Seq)
	}

	// Each migration ran once.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var runs, files int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob("migrations/*.sql")
	files = len(entries)
	if files == 0 || runs != files {
		t.Fatalf("schema_migrations has %d rows for %d migration files", runs, files)
	}
}

func TestOpenUsesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	open(t, sqlite.Config{Path: path})
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

// TestWriterKeepsStatementJournalsInMemory: a commit of many creates must not
// spill its statement journal to a temporary file (an open, writes and a
// close per commit, and a failure where no temporary directory is writable).
func TestWriterKeepsStatementJournalsInMemory(t *testing.T) {
	s := open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db")})
	var store int
	if err := s.Writer().QueryRow(`PRAGMA temp_store`).Scan(&store); err != nil {
		t.Fatal(err)
	}
	if store != 2 {
		t.Fatalf("writer's temp_store = %d, want 2 (MEMORY)", store)
	}
}

func TestOpenDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	open(t, sqlite.Config{})
	if _, err := os.Stat(filepath.Join(dir, sqlite.DefaultPath)); err != nil {
		t.Fatalf("zero Config did not create %s: %v", sqlite.DefaultPath, err)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	ctx := context.Background()
	if _, err := sqlite.Open(ctx, sqlite.Config{Path: "herald.db?mode=ro"}); herald.CodeOf(err) != herald.EINVALID {
		t.Fatalf("Open with '?' in the path = %v, want EINVALID", err)
	}
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "herald.db")
	if s, err := sqlite.Open(ctx, sqlite.Config{Path: missing}); err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestNowIsInjected(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 6789, time.FixedZone("Y", -5*3600))
	s := open(t, sqlite.Config{Path: ":memory:", Now: func() time.Time { return at }})
	ctx := context.Background()
	n := notification("alice", "x")
	if _, err := createInto(ctx, s, []*herald.Notification{n}); err != nil {
		t.Fatal(err)
	}
	want := at.UTC().Truncate(time.Microsecond)
	if !n.CreatedAt.Equal(want) || n.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", n.CreatedAt, want)
	}
	// A zero time means now, by the injected clock.
	if _, _, err := s.MarkRead(ctx, "alice", n.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	page, err := s.FindNotifications(ctx, herald.NotificationFilter{UserID: "alice"})
	if err != nil || len(page) != 1 || page[0].ReadAt == nil || !page[0].ReadAt.Equal(want) {
		t.Fatalf("ReadAt after MarkRead with a zero time = %+v, %v; want %v", page, err, want)
	}
}
