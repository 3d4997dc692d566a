package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
)

// Upgrade is a database of a SQL store at an older schema, for RunUpgrade.
type Upgrade struct {
	// Migrate brings a fresh database's schema to the migrations keep
	// selects (names as schema_migrations records them), as a version of
	// Herald that had only those left it.
	Migrate func(t *testing.T, keep func(name string) bool)
	// Exec runs q, written with ? placeholders, on that database; times
	// among args are stored as the database stores them.
	Exec func(t *testing.T, q string, args ...any)
	// Applied reports whether schema_migrations lists name.
	Applied func(t *testing.T, name string) bool
	// Open opens the store on that database, as a new version of Herald
	// does: it applies the migrations the database has not seen.
	Open func(t *testing.T) UpgradeStore
}

// UpgradeStore is what the upgrade suite checks of a store opened on an old
// database.
type UpgradeStore interface {
	OutboxStore
	herald.AccountStore
	herald.TopicStore
}

// The schema as releases left it. beforeUnread is the schema before the
// unread counter; released is what the release this branch grew from wrote.
var released = []string{
	"migrations/0001_notifications.sql",
	"migrations/0002_accounts.sql",
	"migrations/0003_unread_counter.sql",
	"migrations/0100_delivery.sql",
}

const unreadMigration = "migrations/0003_unread_counter.sql"

// RunUpgrade runs the upgrade suite: each case builds an old schema on a
// fresh database (Migrate is called once per case), writes rows the way that
// version wrote them, and opens the store on it. The counts, versions,
// notifications, deliveries, accounts and preferences must survive, and
// every later change must work from there.
func RunUpgrade(t *testing.T, open func(t *testing.T) Upgrade) {
	t.Run("UnreadCounter", func(t *testing.T) { testUpgradeUnreadCounter(t, open(t)) })
	t.Run("FromRelease", func(t *testing.T) { testUpgradeFromRelease(t, open(t)) })
}

// oldNotification writes a notification as versions before this one did:
// no silent flag, no version.
func oldNotification(t *testing.T, u Upgrade, user string, seq int64, read bool, key string) string {
	t.Helper()
	id := uuid.NewString()
	var readAt, k any
	if read {
		readAt = time.Now().Add(-time.Minute)
	}
	if key != "" {
		k = key
	}
	u.Exec(t, `INSERT INTO notifications (id, user_id, seq, type, title, message, link, read_at, created_at, idempotency_key)
		VALUES (?, ?, ?, 'test', 'old', '', '', ?, ?, ?)`, id, user, seq, readAt, time.Now().Add(-time.Hour), k)
	return id
}

// testUpgradeUnreadCounter opens a database as the version before the unread
// counter left it and expects each user's count to start from the stored
// rows and to be kept from there.
func testUpgradeUnreadCounter(t *testing.T, u Upgrade) {
	u.Migrate(t, func(name string) bool { return name != unreadMigration })
	if u.Applied(t, unreadMigration) {
		t.Fatalf("%s applied before the upgrade", unreadMigration)
	}
	// alice: seqs 1-4, 3 deleted, 1 read; bob: both read; carol: all deleted.
	for _, r := range []struct {
		user string
		seq  int64
		read bool
	}{{"alice", 1, true}, {"alice", 2, false}, {"alice", 4, false}, {"bob", 1, true}, {"bob", 2, true}} {
		oldNotification(t, u, r.user, r.seq, r.read, "")
	}
	u.Exec(t, `INSERT INTO user_seqs (user_id, last_seq) VALUES ('alice', 4), ('bob', 2), ('carol', 2)`)

	s := u.Open(t)
	for user, want := range map[string]int{"alice": 2, "bob": 0, "carol": 0, "dave": 0} {
		wantUnreadStored(t, s, user, want)
	}
	n := newNotification("alice", 5)
	create(t, s, n)
	if n.Seq != 5 {
		t.Fatalf("seq after the upgrade = %d, want 5", n.Seq)
	}
	wantUnreadStored(t, s, "alice", 3)
	if _, changed, err := s.MarkRead(ctx, "alice", n.ID, time.Time{}); err != nil || !changed {
		t.Fatalf("MarkRead = %v, %v", changed, err)
	}
	wantUnreadStored(t, s, "alice", 2)
	if marked, _, err := s.MarkAllRead(ctx, "alice", time.Time{}); err != nil || marked != 2 {
		t.Fatalf("MarkAllRead = %d, %v; want 2 (the old unread ones)", marked, err)
	}
	wantUnreadStored(t, s, "alice", 0)
	create(t, s, newNotification("carol", 3))
	wantUnreadStored(t, s, "carol", 1)
	if !u.Applied(t, unreadMigration) {
		t.Fatalf("%s not recorded after Open", unreadMigration)
	}
}

// testUpgradeFromRelease opens a database as the release this version grew
// from left it: its notifications, counters (without versions), a pending
// delivery, an account and preferences.
func testUpgradeFromRelease(t *testing.T, u Upgrade) {
	u.Migrate(t, func(name string) bool { return slices.Contains(released, name) })
	a1 := oldNotification(t, u, "alice", 1, true, "")
	a2 := oldNotification(t, u, "alice", 2, false, "order-7")
	oldNotification(t, u, "alice", 3, false, "")
	u.Exec(t, `INSERT INTO user_seqs (user_id, last_seq, unread) VALUES ('alice', 3, 2)`)
	delivery := uuid.NewString()
	now := time.Now()
	u.Exec(t, `INSERT INTO deliveries (id, notification_id, user_id, type, channel, kind, target, unless_read, status,
		attempts, due_at, last_error, created_at, updated_at) VALUES (?, ?, 'alice', 'test', 'email', 'escalation', '', ?, 'pending', 0, ?, '', ?, ?)`,
		delivery, a2, true, now.Add(-time.Minute), now, now)
	u.Exec(t, `INSERT INTO accounts (username, user_id, password_hash, disabled, created_at, updated_at)
		VALUES ('backend', 'backend', 'hash', ?, ?, ?)`, false, now, now)
	u.Exec(t, `INSERT INTO user_preferences (user_id, types, time_zone, quiet_start, quiet_end, email, phone, webhook_url,
		webhook_secret, updated_at) VALUES ('alice', '{"test":{"in_app":false}}', 'Europe/Paris', '', '', 'alice@example.com', '', '', '', ?)`, now)

	s := u.Open(t)
	for _, name := range []string{"migrations/0101_unread_version.sql", "migrations/0102_silent.sql", "migrations/0103_topics.sql"} {
		if !u.Applied(t, name) {
			t.Fatalf("%s not applied by Open", name)
		}
	}
	// The counter carries on from the release's, at version 0.
	if got := unreadState(t, s, "alice"); got.Count != 2 || got.Version != 0 || got.LastSeq != 3 {
		t.Fatalf("alice's Unread after the upgrade = %+v, want count 2, version 0, last seq 3", got)
	}
	old := all(t, s, "alice")
	if len(old) != 3 || old[0].ID != a1 || !old[0].Read || old[1].Silent || old[1].Read {
		t.Fatalf("the release's notifications after the upgrade: %+v", old)
	}
	// Its idempotency keys still hold.
	replay := keyed("alice", "order-7", 9)
	if created := create(t, s, replay); created[0] || replay.ID != a2 {
		t.Fatalf("the release's key was forgotten: created %v, id %s, want %s", created, replay.ID, a2)
	}
	// New changes number on from there.
	res := createResults(t, s, newNotification("alice", 4))
	if n := res[0].Notification; n.Seq != 4 || res[0].Unread.Count != 3 || res[0].Unread.Version != 1 {
		t.Fatalf("the first create after the upgrade: seq %d, Unread %+v; want seq 4, count 3, version 1", n.Seq, res[0].Unread)
	}
	if u, changed, err := s.MarkRead(ctx, "alice", a2, time.Now()); err != nil || !changed || u.Count != 2 || u.Version != 2 {
		t.Fatalf("MarkRead of the release's notification = %+v, %v, %v", u, changed, err)
	}
	// Its pending escalation is cancelled now that it is read; the account
	// and preferences are there.
	if got, err := s.ClaimDeliveries(ctx, now.Add(time.Minute), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim after the read = %v, %v; want the escalation cancelled", got, err)
	}
	if ds, err := s.FindDeliveries(ctx, herald.DeliveryFilter{NotificationID: a2}); err != nil || len(ds) != 1 ||
		ds[0].ID != delivery || ds[0].Status != herald.DeliveryCancelled {
		t.Fatalf("the release's delivery = %+v, %v", ds, err)
	}
	if a, err := s.FindAccount(ctx, "backend"); err != nil || a.Disabled || a.UserID != "backend" {
		t.Fatalf("the release's account = %+v, %v", a, err)
	}
	p, err := s.FindPreferences(ctx, "alice")
	if err != nil || p.Email != "alice@example.com" || p.TimeZone != "Europe/Paris" || p.Types["test"][herald.ChannelInApp] {
		t.Fatalf("the release's preferences = %+v, %v", p, err)
	}
	// Topics, new in this version, work on the upgraded database.
	if n, err := s.AddTopicMembers(ctx, "team", []string{"alice", "bob"}); err != nil || n != 2 {
		t.Fatalf("AddTopicMembers = %d, %v", n, err)
	}
	send := &herald.TopicSend{Topic: "team", Notification: herald.NewNotification{Type: "test", Title: "to the team"}}
	if _, err := s.CreateTopicSend(ctx, send); err != nil || send.Members != 2 {
		t.Fatalf("CreateTopicSend = %+v, %v", send, err)
	}
	fanned, done, err := s.FanOutTopicSend(ctx, send.ID, 10, herald.CreateOptions{})
	if err != nil || !done || len(fanned) != 2 {
		t.Fatalf("FanOutTopicSend = %d results, done %v, %v", len(fanned), done, err)
	}
	if bob := unreadState(t, s, "bob"); bob.Count != 1 || fanned[1].Notification.UserID != "bob" {
		t.Fatalf("bob after the topic send: %+v", bob)
	}
}
