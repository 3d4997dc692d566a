package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
)

func testCreate(t *testing.T, s herald.Store) {
	n := &herald.Notification{
		UserID:  "alice",
		Type:    "booking:confirmed",
		Title:   "Booking confirmed",
		Message: "Your booking for 12 May is confirmed.",
		Link:    "/bookings/42",
		Data:    []byte(`{"bookingId":42}`),
	}
	before := time.Now().Truncate(time.Microsecond)
	created := create(t, s, n)
	after := time.Now()

	if !created[0] {
		t.Fatal("created[0] = false for a new notification")
	}
	u, err := uuid.Parse(n.ID)
	if err != nil {
		t.Fatalf("ID %q is not a UUID: %v", n.ID, err)
	}
	if u.Version() != 7 {
		t.Errorf("ID %s is a version %d UUID, want 7", n.ID, u.Version())
	}
	if n.ID != u.String() {
		t.Errorf("ID %q is not in canonical form %q", n.ID, u.String())
	}
	if n.Seq != 1 {
		t.Errorf("Seq = %d, want 1 for a user's first notification", n.Seq)
	}
	if n.CreatedAt.Before(before) || n.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want between %v and %v", n.CreatedAt, before, after)
	}
	if !n.Timestamp.Equal(n.CreatedAt) {
		t.Errorf("Timestamp = %v, want CreatedAt %v", n.Timestamp, n.CreatedAt)
	}
	if n.Read || n.ReadAt != nil {
		t.Errorf("new notification is read (Read %v, ReadAt %v)", n.Read, n.ReadAt)
	}
	wantUTC(t, "created", n)

	got := all(t, s, "alice")
	if len(got) != 1 {
		t.Fatalf("found %d notifications, want 1", len(got))
	}
	sameNotification(t, "stored", got[0], n)
	wantUnread(t, s, "alice", 1)

	second := newNotification("alice", 2)
	create(t, s, second)
	if second.Seq != 2 {
		t.Errorf("second Seq = %d, want 2", second.Seq)
	}
	if second.ID == n.ID {
		t.Errorf("second notification reuses ID %s", n.ID)
	}
	if second.CreatedAt.Before(n.CreatedAt) {
		t.Errorf("second CreatedAt %v before first %v", second.CreatedAt, n.CreatedAt)
	}
}

func testCreateKeepsSuppliedID(t *testing.T, s herald.Store) {
	id := uuid.New() // a version 4 id: the store must keep any UUID it is given
	n := newNotification("alice", 1)
	n.ID = strings.ToUpper(id.String())
	create(t, s, n)
	if n.ID != id.String() {
		t.Fatalf("ID = %q, want the supplied %q in canonical form", n.ID, id.String())
	}
	if got := byID(t, s, "alice", id.String()); got == nil {
		t.Fatalf("notification %s not found", id)
	}
	// Lookups accept the id in any form uuid.Parse does.
	_, changed, err := s.MarkRead(ctx, "alice", strings.ToUpper(id.String()), time.Now())
	if err != nil || !changed {
		t.Fatalf("MarkRead with upper-case id = %v, %v; want true, nil", changed, err)
	}
}

func testCreateRejectsMalformedID(t *testing.T, s herald.Store) {
	ok := newNotification("alice", 1)
	bad := newNotification("alice", 2)
	bad.ID = "not-a-uuid"
	_, err := s.CreateNotifications(ctx, asNew([]*herald.Notification{ok, bad}...), herald.CreateOptions{})
	wantCode(t, "create with malformed id", err, herald.EINVALID)
	if len(all(t, s, "alice")) != 0 {
		t.Fatal("a batch that failed stored notifications")
	}
	if ok.ID != "" || ok.Seq != 0 {
		t.Fatalf("a batch that failed changed the caller's notification: ID %q, Seq %d", ok.ID, ok.Seq)
	}
}

func testCreateDuplicateIDIsAtomic(t *testing.T, s herald.Store) {
	first := newNotification("alice", 1)
	create(t, s, first)

	// A batch whose last notification reuses an id fails as a whole.
	a := newNotification("alice", 2)
	b := newNotification("bob", 3)
	dup := newNotification("bob", 4)
	dup.ID = first.ID
	_, err := s.CreateNotifications(ctx, asNew([]*herald.Notification{a, b, dup}...), herald.CreateOptions{})
	wantCode(t, "create with an existing id", err, herald.ECONFLICT)
	if got := len(all(t, s, "alice")); got != 1 {
		t.Fatalf("alice has %d notifications after a failed batch, want 1", got)
	}
	if got := len(all(t, s, "bob")); got != 0 {
		t.Fatalf("bob has %d notifications after a failed batch, want 0", got)
	}
	wantUnread(t, s, "alice", 1)
	wantUnread(t, s, "bob", 0)
	if a.ID != "" || a.Seq != 0 || b.Seq != 0 || dup.Seq != 0 {
		t.Fatalf("a failed batch changed the caller's notifications: %q/%d, %d, %d", a.ID, a.Seq, b.Seq, dup.Seq)
	}

	// Two notifications of one batch with the same id fail it too.
	x, y := newNotification("carol", 1), newNotification("carol", 2)
	x.ID = uuid.NewString()
	y.ID = x.ID
	_, err = s.CreateNotifications(ctx, asNew([]*herald.Notification{x, y}...), herald.CreateOptions{})
	wantCode(t, "batch with one id twice", err, herald.ECONFLICT)
	if got := len(all(t, s, "carol")); got != 0 {
		t.Fatalf("carol has %d notifications after a failed batch, want 0", got)
	}

	// The store still works, and the failed batches used up no seq.
	create(t, s, a, b)
	if a.Seq != 2 || b.Seq != 1 {
		t.Fatalf("after failed batches seqs are %d and %d, want 2 and 1", a.Seq, b.Seq)
	}
}

func testCreateBatch(t *testing.T, s herald.Store) {
	ns := []*herald.Notification{
		newNotification("alice", 1),
		newNotification("bob", 1),
		newNotification("alice", 2),
		newNotification("alice", 3),
		newNotification("bob", 2),
	}
	created := create(t, s, ns...)
	want := []int64{1, 1, 2, 3, 2}
	ids := map[string]bool{}
	for i, n := range ns {
		if !created[i] {
			t.Errorf("created[%d] = false", i)
		}
		if n.Seq != want[i] {
			t.Errorf("ns[%d] (%s) Seq = %d, want %d", i, n.UserID, n.Seq, want[i])
		}
		if ids[n.ID] {
			t.Errorf("ns[%d] reuses id %s", i, n.ID)
		}
		ids[n.ID] = true
		if !n.CreatedAt.Equal(ns[0].CreatedAt) {
			t.Errorf("ns[%d] CreatedAt %v differs within one batch from %v", i, n.CreatedAt, ns[0].CreatedAt)
		}
	}
	wantSeqs(t, "alice", all(t, s, "alice"), []int64{1, 2, 3})
	wantSeqs(t, "bob", all(t, s, "bob"), []int64{1, 2})
	wantUnread(t, s, "alice", 3)
	wantUnread(t, s, "bob", 2)
	for _, n := range ns {
		sameNotification(t, "stored "+n.Title, byID(t, s, n.UserID, n.ID), n)
	}
}

func testCreateEmptyBatch(t *testing.T, s herald.Store) {
	res, err := s.CreateNotifications(ctx, nil, herald.CreateOptions{})
	if err != nil {
		t.Fatalf("CreateNotifications(nil): %v", err)
	}
	if len(res) != 0 {
		t.Fatalf("CreateNotifications(nil) = %v, want no results", res)
	}
	create(t, s, newNotification("alice", 1))
	wantSeqs(t, "alice", all(t, s, "alice"), []int64{1})
}

// testCreateSilent: a notification planned silent (its user switched in_app
// off) is stored read and silent in the create's transaction: it takes a seq,
// leaves the count and its version, and pages and resumes leave it out
// unless they ask for it.
func testCreateSilent(t *testing.T, s herald.Store) {
	createN(t, s, "alice", 1)
	before := unreadState(t, s, "alice")
	quiet, loud := newNotification("alice", 2), newNotification("alice", 3)
	quiet.Title = "quiet"
	p := &plans{byTitle: map[string]herald.Plan{"quiet": {Silent: true}}}
	res := createResultsWith(t, s, herald.CreateOptions{Planner: p}, quiet)
	n := res[0].Notification
	if !n.Silent || !n.Read || n.ReadAt == nil || !n.ReadAt.Equal(n.CreatedAt) || n.Seq != 2 {
		t.Fatalf("silent notification stored as %+v", n)
	}
	if got := unreadState(t, s, "alice"); got.Count != before.Count || got.Version != before.Version || got.LastSeq != 2 {
		t.Fatalf("a silent notification moved the count from %+v to %+v", before, got)
	}
	if res[0].Unread.Count != before.Count || res[0].Unread.Version != before.Version {
		t.Fatalf("a silent create returned Unread %+v, the count was %+v", res[0].Unread, before)
	}
	if p.calls != 1 || p.seen["alice"] == nil || p.seen["alice"].UserID != "alice" {
		t.Fatalf("the planner was called %d times with preferences %+v", p.calls, p.seen["alice"])
	}

	// With a notification that shows, in one create: only that one counts.
	quiet2 := newNotification("alice", 4)
	quiet2.Title = "quiet"
	res = createResultsWith(t, s, herald.CreateOptions{Planner: p}, loud, quiet2)
	if res[0].Notification.Silent || res[0].Notification.Read || !res[1].Notification.Silent {
		t.Fatalf("mixed create stored %+v and %+v", res[0].Notification, res[1].Notification)
	}
	if res[0].Unread.Count != before.Count+1 || res[0].Unread.Version <= before.Version || res[1].Unread != res[0].Unread {
		t.Fatalf("mixed create returned %+v and %+v after %+v", res[0].Unread, res[1].Unread, before)
	}
	wantSeqs(t, "pages", all(t, s, "alice"), []int64{1, 3})
	wantSeqs(t, "resume", find(t, s, herald.NotificationFilter{UserID: "alice", Ascending: true}), []int64{1, 3})
	withSilent := find(t, s, herald.NotificationFilter{UserID: "alice", Ascending: true, WithSilent: true})
	wantSeqs(t, "resume with silent", withSilent, []int64{1, 2, 3, 4})
	if !withSilent[1].Silent || !withSilent[3].Silent || withSilent[2].Silent {
		t.Fatalf("silent flags of a resume page: %v %v %v %v", withSilent[0].Silent, withSilent[1].Silent, withSilent[2].Silent, withSilent[3].Silent)
	}
	wantSeqs(t, "unread page", find(t, s, herald.NotificationFilter{UserID: "alice", UnreadOnly: true}), []int64{3, 1})
	wantUnread(t, s, "alice", 2)

	// Marking all read does not count the silent ones again.
	if n, u, err := s.MarkAllRead(ctx, "alice", time.Now()); err != nil || n != 2 || u.Count != 0 {
		t.Fatalf("MarkAllRead = %d, %+v, %v; want the 2 that show", n, u, err)
	}
	// A silent notification is already read: marking it changes nothing.
	if _, changed, err := s.MarkRead(ctx, "alice", withSilent[1].ID, time.Now()); err != nil || changed {
		t.Fatalf("MarkRead of a silent notification = %v, %v", changed, err)
	}
}

func testCreateCanceled(t *testing.T, s herald.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	n := newNotification("alice", 1)
	if _, err := s.CreateNotifications(c, asNew([]*herald.Notification{n}...), herald.CreateOptions{}); err == nil {
		t.Fatal("CreateNotifications with a canceled context succeeded")
	}
	if got := len(all(t, s, "alice")); got != 0 {
		t.Fatalf("a canceled create stored %d notifications", got)
	}
	create(t, s, n)
	if n.Seq != 1 {
		t.Fatalf("Seq after a canceled create = %d, want 1", n.Seq)
	}
}

func testSeqNeverReused(t *testing.T, s herald.Store) {
	ns := createN(t, s, "alice", 3)
	createN(t, s, "bob", 2)

	// Deleting the newest must not hand its seq out again.
	if _, _, err := s.DeleteNotification(ctx, "alice", ns[2].ID); err != nil {
		t.Fatalf("DeleteNotification: %v", err)
	}
	n := newNotification("alice", 4)
	create(t, s, n)
	if n.Seq != 4 {
		t.Fatalf("Seq after deleting the newest = %d, want 4", n.Seq)
	}

	// Nor after deleting every notification of the user.
	for _, id := range []string{ns[0].ID, ns[1].ID, n.ID} {
		if _, _, err := s.DeleteNotification(ctx, "alice", id); err != nil {
			t.Fatalf("DeleteNotification: %v", err)
		}
	}
	if got := len(all(t, s, "alice")); got != 0 {
		t.Fatalf("alice has %d notifications after deleting all", got)
	}
	batch := []*herald.Notification{newNotification("alice", 5), newNotification("alice", 6)}
	create(t, s, batch...)
	if batch[0].Seq != 5 || batch[1].Seq != 6 {
		t.Fatalf("seqs after deleting all = %d, %d; want 5, 6", batch[0].Seq, batch[1].Seq)
	}
	// Other users count on their own.
	b := newNotification("bob", 3)
	create(t, s, b)
	if b.Seq != 3 {
		t.Fatalf("bob's Seq = %d, want 3", b.Seq)
	}
}
