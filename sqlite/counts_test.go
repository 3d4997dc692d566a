package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/storetest"
)

// The shared suite again, with every count read from the table.
func TestStoreFileCountsFromTheTable(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store {
		s := open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "herald.db"), UnreadCounts: -1})
		if s.CountsInMemory() {
			t.Fatal("counts held in memory with UnreadCounts -1")
		}
		return s
	})
}

// loaded waits until s has loaded what it keeps in memory, and returns s.
func loaded(t *testing.T, s *sqlite.Store) *sqlite.Store {
	t.Helper()
	select {
	case <-s.Loaded():
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not load its counts in 10s")
	}
	return s
}

// unreadOf is s's answer for user, failing the test on an error.
func unreadOf(t *testing.T, s *sqlite.Store, user string) herald.Unread {
	t.Helper()
	u, err := s.UnreadCount(context.Background(), user)
	if err != nil {
		t.Fatalf("UnreadCount(%s): %v", user, err)
	}
	return u
}

// setUnread rewrites user's counter row behind the store's back.
func setUnread(t *testing.T, path, user string, unread int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE user_seqs SET unread = ? WHERE user_id = ?`, unread, user); err != nil {
		t.Fatal(err)
	}
}

// A store that holds the database keeps the counts in memory: loaded whole
// when it opens, changed by its own writes, and not read from the table
// again, which the test shows by changing the table behind its back.
func TestUnreadCountsHeldInMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if !loaded(t, s).CountsInMemory() {
		t.Fatal("the only store of a file does not hold its counts in memory")
	}
	a, b := notification("alice", "a"), notification("alice", "b")
	if _, err := createInto(ctx, s, []*herald.Notification{a, b}); err != nil {
		t.Fatal(err)
	}
	if u := unreadOf(t, s, "alice"); u.Count != 2 || u.Version != 1 || u.LastSeq != 2 {
		t.Fatalf("after two creates: %+v, want count 2 version 1 last seq 2", u)
	}
	if u := unreadOf(t, s, "nobody"); u != (herald.Unread{}) {
		t.Fatalf("a user without notifications: %+v", u)
	}
	if _, _, err := s.MarkRead(ctx, "alice", a.ID, a.CreatedAt); err != nil {
		t.Fatal(err)
	}
	setUnread(t, path, "alice", 40)
	if u := unreadOf(t, s, "alice"); u.Count != 1 || u.Version != 2 || u.LastSeq != 2 {
		t.Fatalf("after a read: %+v, want count 1 version 2 last seq 2 (from memory, not the table's 40)", u)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = loaded(t, open(t, sqlite.Config{Path: path}))
	if u := unreadOf(t, s, "alice"); u.Count != 40 || u.Version != 2 || u.LastSeq != 2 {
		t.Fatalf("after reopening: %+v, want the table's count 40, version 2, last seq 2", u)
	}
	if _, _, err := s.DeleteNotification(ctx, "alice", b.ID); err != nil {
		t.Fatal(err)
	}
	if u := unreadOf(t, s, "alice"); u.Count != 39 || u.Version != 3 {
		t.Fatalf("after a delete: %+v, want count 39 version 3", u)
	}
}

// A second store on the same file cannot hold counts in memory, as it does
// not write alone, and reads what the first one wrote.
func TestSecondStoreReadsCountsFromTheTable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	first := loaded(t, open(t, sqlite.Config{Path: path}))
	second := loaded(t, open(t, sqlite.Config{Path: path}))
	if !first.CountsInMemory() || second.CountsInMemory() {
		t.Fatalf("counts in memory: first store %v, second %v; want true, false", first.CountsInMemory(), second.CountsInMemory())
	}
	if _, err := createInto(ctx, first, []*herald.Notification{notification("alice", "a")}); err != nil {
		t.Fatal(err)
	}
	if u := unreadOf(t, second, "alice"); u.Count != 1 {
		t.Fatalf("the second store reads %+v after the first created one", u)
	}
	// Once the first closes, the lock is free for the next store.
	first.Close()
	third := loaded(t, open(t, sqlite.Config{Path: path}))
	if !third.CountsInMemory() || unreadOf(t, third, "alice").Count != 1 {
		t.Fatalf("after the first store closed: in memory %v, %+v", third.CountsInMemory(), unreadOf(t, third, "alice"))
	}
}

// Past UnreadCounts users the store stops holding counts and reads the
// table, whose counts stay exact; a database that already holds more than
// that never starts.
func TestUnreadCountsBounded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, UnreadCounts: 3})
	if err != nil {
		t.Fatal(err)
	}
	loaded(t, s)
	for i := range 3 {
		if _, err := createInto(ctx, s, []*herald.Notification{notification(fmt.Sprintf("user%d", i), "x")}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.CountsInMemory() {
		t.Fatal("three users turned the counts of UnreadCounts 3 off")
	}
	if _, err := createInto(ctx, s, []*herald.Notification{notification("user3", "x"), notification("user0", "y")}); err != nil {
		t.Fatal(err)
	}
	if s.CountsInMemory() {
		t.Fatal("a fourth user left the counts of UnreadCounts 3 in memory")
	}
	if u0, u3 := unreadOf(t, s, "user0"), unreadOf(t, s, "user3"); u0.Count != 2 || u3.Count != 1 {
		t.Fatalf("past the bound: user0 %+v, user3 %+v; want counts 2 and 1", u0, u3)
	}
	s.Close()
	if s := loaded(t, open(t, sqlite.Config{Path: path, UnreadCounts: 3})); s.CountsInMemory() {
		t.Fatal("a database of four users opened with its counts in memory at UnreadCounts 3")
	}
	if s := loaded(t, open(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "other.db"), UnreadCounts: 3})); !s.CountsInMemory() {
		t.Fatal("an empty database did not hold its counts in memory")
	}
}

// recorder is a herald.Planner that plans nothing and keeps the
// preferences it was handed, by user.
type recorder struct {
	seen map[string]*herald.Preferences
}

func (r *recorder) Plan(n *herald.NewNotification, p *herald.Preferences, _ herald.PushTargets, _ time.Time) herald.Plan {
	r.seen[n.UserID] = p
	return herald.Plan{}
}

func (r *recorder) UsesPush() bool { return false }

// planned creates one notification for user and returns the preferences
// its plan was made with.
func planned(t *testing.T, s *sqlite.Store, user string) *herald.Preferences {
	t.Helper()
	r := &recorder{seen: map[string]*herald.Preferences{}}
	n := &herald.NewNotification{UserID: user, Type: "trip", Title: "t"}
	if _, err := s.CreateNotifications(context.Background(), []*herald.NewNotification{n}, herald.CreateOptions{Planner: r}); err != nil {
		t.Fatal(err)
	}
	return r.seen[user]
}

// The store that holds the database plans with the preferences it keeps in
// memory, loaded at open and replaced by each save, and reads none from the
// table, which the test shows by changing the table behind its back.
func TestPreferencesHeldInMemory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	loaded(t, s)
	if p := planned(t, s, "alice"); p == nil || p.Email != "" || p.Types != nil {
		t.Fatalf("planned before any save with %+v, want the zero preferences", p)
	}
	save := func(s *sqlite.Store, email string, on bool) *herald.Preferences {
		t.Helper()
		p, err := s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error {
			p.Email = email
			p.Types = map[string]map[herald.Channel]bool{"trip": {herald.ChannelEmail: on}}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mine := save(s, "a@example.com", false)
	mine.Types["trip"][herald.ChannelEmail] = true // the caller's copy is its own
	if p := planned(t, s, "alice"); p.Email != "a@example.com" || p.Types["trip"][herald.ChannelEmail] {
		t.Fatalf("planned after a save with %+v", p)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE user_preferences SET email = 'table@example.com' WHERE user_id = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if p := planned(t, s, "alice"); p.Email != "a@example.com" {
		t.Fatalf("planned with %q, want the saved a@example.com from memory, not the table's", p.Email)
	}
	save(s, "b@example.com", true)
	if p := planned(t, s, "alice"); p.Email != "b@example.com" || !p.Types["trip"][herald.ChannelEmail] {
		t.Fatalf("planned after a second save with %+v", p)
	}
	if _, err := db.Exec(`UPDATE user_preferences SET email = 'table@example.com' WHERE user_id = 'alice'`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = loaded(t, open(t, sqlite.Config{Path: path}))
	if p := planned(t, s, "alice"); p.Email != "table@example.com" || !p.Types["trip"][herald.ChannelEmail] {
		t.Fatalf("planned after reopening with %+v, want the table's", p)
	}
	// A store without the lock reads the table each time.
	other := open(t, sqlite.Config{Path: path})
	if _, err := db.Exec(`UPDATE user_preferences SET email = 'again@example.com' WHERE user_id = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if p := planned(t, other, "alice"); p.Email != "again@example.com" {
		t.Fatalf("the second store planned with %q, want the table's", p.Email)
	}
}

// The counts and preferences load in the background while the store
// serves: writes made meanwhile, before and after the load's snapshot, must
// all be in memory once it answers, as the table has them.
func TestCountsLoadWhileWriting(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	open(t, sqlite.Config{Path: path}).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const users = 10000
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		if _, err := tx.Exec(`INSERT INTO user_seqs (user_id, last_seq, unread, version) VALUES (?, 0, 0, 0)`, fmt.Sprintf("user%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO user_preferences (user_id, types, time_zone, quiet_start, quiet_end, email, phone,
			webhook_url, webhook_secret, updated_at) VALUES (?, '{}', '', '', '', 'before@example.com', '', '', '', 0)`, fmt.Sprintf("user%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	s := open(t, sqlite.Config{Path: path})
	written := 0
	for i := 0; ; i++ {
		user := fmt.Sprintf("user%d", i%users)
		n := notification(user, "x")
		if _, err := createInto(ctx, s, []*herald.Notification{n, notification(user, "y")}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, _, err := s.MarkRead(ctx, user, n.ID, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.UpdatePreferences(ctx, user, func(p *herald.Preferences) error {
			p.Email = fmt.Sprintf("%d@example.com", i)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		written++
		select {
		case <-s.Loaded():
		default:
			continue
		}
		break
	}
	if !s.CountsInMemory() {
		t.Fatal("the counts did not load")
	}
	if written < 2 {
		t.Fatalf("only %d rounds of writes ran while the counts loaded: the test shows nothing", written)
	}
	for i := range min(written+5, users) {
		user := fmt.Sprintf("user%d", i)
		var want herald.Unread
		if err := db.QueryRow(`SELECT unread, version, last_seq FROM user_seqs WHERE user_id = ?`, user).Scan(&want.Count, &want.Version, &want.LastSeq); err != nil {
			t.Fatal(err)
		}
		if got := unreadOf(t, s, user); got != want {
			t.Fatalf("%s: %+v in memory, %+v in the table, after %d rounds of writes during the load", user, got, want, written)
		}
		if i < min(written, 300) {
			if p := planned(t, s, user); p.Email != fmt.Sprintf("%d@example.com", i) {
				t.Fatalf("%s planned with email %q after %d rounds of writes during the load", user, p.Email, written)
			}
		}
	}
	t.Logf("%d rounds of writes while %d users loaded", written, users)
}
