package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/disktest"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/sqlite"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tableUnread reads user's count from the file, not from the store.
func tableUnread(t *testing.T, path, user string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT unread FROM user_seqs WHERE user_id = ?`, user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A commit the disk refuses turns the counts kept in memory off, since it
// may or may not have committed; once space is freed, the first commit
// RemakeGap or more after they were made loads them again from the file,
// and they are exact: counts are never read from memory that a refused
// commit left unsure, and a full disk does not cost the node its counts
// until the next restart.
func TestCountsInMemoryComeBackAfterADiskFull(t *testing.T) {
	ctx := context.Background()
	disk := disktest.Mount(t, "4m")
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(disk, "herald.db")
	clock := &testClock{t: time.Now()}
	// Checkpoints by the writer alone, and rarely: a background checkpoint
	// could meet the full disk first and move nothing.
	s := loaded(t, open(t, sqlite.Config{Path: path, Now: clock.now, CheckpointInterval: -1}))
	if !s.CountsInMemory() || s.MirrorsMade() != 1 {
		t.Fatalf("at open: in memory %v, made %d; want true, 1", s.CountsInMemory(), s.MirrorsMade())
	}

	big := `{"blob":"` + strings.Repeat("x", 15<<10) + `"}`
	accepted := 0
	var refused error
	for i := 0; i < 1000 && refused == nil; i++ { // 15 MiB: far more than the disk
		n := notification("filler", "fill")
		n.Data = []byte(big)
		if _, refused = createInto(ctx, s, []*herald.Notification{n}); refused == nil {
			accepted++
		}
	}
	if refused == nil || herald.CodeOf(refused) != herald.EUNAVAILABLE {
		t.Fatalf("the create that filled the disk: %v, want unavailable", refused)
	}
	if s.CountsInMemory() {
		t.Fatal("counts still held in memory after a refused commit")
	}
	if u := unreadOf(t, s, "filler"); u.Count != accepted {
		t.Fatalf("unread count with the disk full = %d, want the %d accepted", u.Count, accepted)
	}

	// Space again: commits succeed, but the mirrors are remade only once
	// RemakeGap has passed since they were made.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := createInto(ctx, s, []*herald.Notification{notification("filler", "after")}); err != nil {
		t.Fatalf("a create once space is freed: %v", err)
	}
	accepted++
	if s.MirrorsMade() != 1 || s.CountsInMemory() {
		t.Fatalf("before RemakeGap: made %d, in memory %v; want 1, false", s.MirrorsMade(), s.CountsInMemory())
	}
	if u := unreadOf(t, s, "filler"); u.Count != accepted {
		t.Fatalf("unread count read from the file = %d, want %d", u.Count, accepted)
	}

	clock.add(sqlstore.RemakeGap)
	other := notification("bob", "b")
	if _, err := createInto(ctx, s, []*herald.Notification{other}); err != nil {
		t.Fatal(err)
	}
	if s.MirrorsMade() != 2 {
		t.Fatalf("after a commit past RemakeGap: made %d, want 2", s.MirrorsMade())
	}
	// Writes while the fresh pair loads reach it by their notes.
	for i := 0; i < 50; i++ {
		if _, err := createInto(ctx, s, []*herald.Notification{notification("filler", "during")}); err != nil {
			t.Fatal(err)
		}
		accepted++
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.CountsInMemory() {
		if time.Now().After(deadline) {
			t.Fatal("the counts were not loaded again within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := s.MarkRead(ctx, "bob", other.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// From memory now: the file, changed behind the store's back, is not
	// read, and memory holds what the file held.
	fileFiller := tableUnread(t, path, "filler")
	setUnread(t, path, "filler", 9999)
	if u := unreadOf(t, s, "filler"); u.Count != accepted || fileFiller != accepted {
		t.Fatalf("filler's count from memory = %d, file %d; want %d in both", u.Count, fileFiller, accepted)
	}
	if u := unreadOf(t, s, "bob"); u.Count != 0 || u.Version != 2 {
		t.Fatalf("bob's count from memory = %+v, want 0 at version 2", u)
	}
}
