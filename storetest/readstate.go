package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
)

func testMarkRead(t *testing.T, s herald.Store) {
	ns := createN(t, s, "alice", 3)
	// A time off UTC and with nanoseconds: stores keep microseconds, in UTC.
	at := time.Date(2030, 5, 17, 10, 11, 12, 123456789, time.FixedZone("X", 3*3600))
	_, changed, err := s.MarkRead(ctx, "alice", ns[1].ID, at)
	if err != nil || !changed {
		t.Fatalf("MarkRead = %v, %v; want true, nil", changed, err)
	}
	got := byID(t, s, "alice", ns[1].ID)
	if !got.Read || got.ReadAt == nil {
		t.Fatalf("after MarkRead Read = %v, ReadAt = %v", got.Read, got.ReadAt)
	}
	wantAt := at.UTC().Truncate(time.Microsecond)
	if !got.ReadAt.Equal(wantAt) {
		t.Fatalf("ReadAt = %v, want %v", got.ReadAt, wantAt)
	}
	wantUTC(t, "read", got)
	wantUnread(t, s, "alice", 2)

	// Marking again is harmless and keeps the first ReadAt.
	_, changed, err = s.MarkRead(ctx, "alice", ns[1].ID, at.Add(time.Hour))
	if err != nil || changed {
		t.Fatalf("second MarkRead = %v, %v; want false, nil", changed, err)
	}
	if got := byID(t, s, "alice", ns[1].ID); !got.ReadAt.Equal(wantAt) {
		t.Fatalf("second MarkRead moved ReadAt to %v", got.ReadAt)
	}
	wantUnread(t, s, "alice", 2)

	// The others are untouched.
	for _, i := range []int{0, 2} {
		if n := byID(t, s, "alice", ns[i].ID); n.Read || n.ReadAt != nil {
			t.Fatalf("notification %d read by another's MarkRead", i)
		}
	}

	// Unknown and malformed ids are ENOTFOUND.
	_, _, err = s.MarkRead(ctx, "alice", uuid.NewString(), at)
	wantCode(t, "MarkRead of an unknown id", err, herald.ENOTFOUND)
	_, _, err = s.MarkRead(ctx, "alice", "not-a-uuid", at)
	wantCode(t, "MarkRead of a malformed id", err, herald.ENOTFOUND)
	_, _, err = s.MarkRead(ctx, "alice", "", at)
	wantCode(t, "MarkRead of an empty id", err, herald.ENOTFOUND)
}

func testMarkReadOtherUser(t *testing.T, s herald.Store) {
	n := newNotification("alice", 1)
	create(t, s, n)
	_, changed, err := s.MarkRead(ctx, "mallory", n.ID, time.Now())
	wantCode(t, "MarkRead of another user's notification", err, herald.ENOTFOUND)
	if changed {
		t.Fatal("MarkRead of another user's notification reports a change")
	}
	if got := byID(t, s, "alice", n.ID); got.Read || got.ReadAt != nil {
		t.Fatal("another user marked alice's notification read")
	}
	wantUnread(t, s, "alice", 1)
	wantUnread(t, s, "mallory", 0)
}

func testMarkAllRead(t *testing.T, s herald.Store) {
	ns := createN(t, s, "alice", 5)
	createN(t, s, "bob", 2)
	if _, _, err := s.MarkRead(ctx, "alice", ns[0].ID, time.Now()); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	at := time.Now().Add(time.Minute)
	n, _, err := s.MarkAllRead(ctx, "alice", at)
	if err != nil || n != 4 {
		t.Fatalf("MarkAllRead = %d, %v; want 4, nil", n, err)
	}
	wantUnread(t, s, "alice", 0)
	wantUnread(t, s, "bob", 2)
	for _, got := range all(t, s, "alice") {
		if !got.Read || got.ReadAt == nil {
			t.Fatalf("seq %d not read after MarkAllRead", got.Seq)
		}
		if got.Seq != 1 && !got.ReadAt.Equal(at.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("seq %d ReadAt = %v, want %v", got.Seq, got.ReadAt, at)
		}
		if got.Seq == 1 && got.ReadAt.Equal(at.UTC().Truncate(time.Microsecond)) {
			t.Fatal("MarkAllRead moved the ReadAt of an already read notification")
		}
	}
	for _, got := range all(t, s, "bob") {
		if got.Read {
			t.Fatal("MarkAllRead of alice read bob's notifications")
		}
	}
	if n, _, err := s.MarkAllRead(ctx, "alice", at); err != nil || n != 0 {
		t.Fatalf("second MarkAllRead = %d, %v; want 0, nil", n, err)
	}
	if n, _, err := s.MarkAllRead(ctx, "nobody", at); err != nil || n != 0 {
		t.Fatalf("MarkAllRead of a user without notifications = %d, %v; want 0, nil", n, err)
	}
	// New notifications after MarkAllRead are unread.
	create(t, s, newNotification("alice", 6))
	wantUnread(t, s, "alice", 1)
}

func testDelete(t *testing.T, s herald.Store) {
	ns := createN(t, s, "alice", 3)
	if _, _, err := s.MarkRead(ctx, "alice", ns[0].ID, time.Now()); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}

	// Another user cannot delete it.
	_, _, err := s.DeleteNotification(ctx, "mallory", ns[1].ID)
	wantCode(t, "delete of another user's notification", err, herald.ENOTFOUND)
	if byID(t, s, "alice", ns[1].ID) == nil {
		t.Fatal("another user deleted alice's notification")
	}

	_, wasUnread, err := s.DeleteNotification(ctx, "alice", ns[1].ID)
	if err != nil || !wasUnread {
		t.Fatalf("delete of an unread notification = %v, %v; want true, nil", wasUnread, err)
	}
	wantUnread(t, s, "alice", 1)
	_, wasUnread, err = s.DeleteNotification(ctx, "alice", ns[0].ID)
	if err != nil || wasUnread {
		t.Fatalf("delete of a read notification = %v, %v; want false, nil", wasUnread, err)
	}
	wantUnread(t, s, "alice", 1)
	wantSeqs(t, "after deletes", all(t, s, "alice"), []int64{3})

	_, _, err = s.DeleteNotification(ctx, "alice", ns[1].ID)
	wantCode(t, "second delete", err, herald.ENOTFOUND)
	_, _, err = s.DeleteNotification(ctx, "alice", "not-a-uuid")
	wantCode(t, "delete of a malformed id", err, herald.ENOTFOUND)

	// A deleted notification cannot be marked read.
	_, _, err = s.MarkRead(ctx, "alice", ns[1].ID, time.Now())
	wantCode(t, "MarkRead of a deleted notification", err, herald.ENOTFOUND)
}

func testUnreadCountExact(t *testing.T, s herald.Store) {
	wantUnread(t, s, "alice", 0)
	ns := createN(t, s, "alice", 10)
	createN(t, s, "bob", 4)
	wantUnread(t, s, "alice", 10)
	mark := func(i int, want bool) {
		t.Helper()
		_, changed, err := s.MarkRead(ctx, "alice", ns[i].ID, time.Now())
		if err != nil || changed != want {
			t.Fatalf("MarkRead(%d) = %v, %v; want %v", i, changed, err, want)
		}
	}
	mark(0, true)
	wantUnread(t, s, "alice", 9)
	mark(0, false)
	wantUnread(t, s, "alice", 9)
	mark(5, true)
	wantUnread(t, s, "alice", 8)
	if _, _, err := s.DeleteNotification(ctx, "alice", ns[5].ID); err != nil { // read
		t.Fatalf("DeleteNotification: %v", err)
	}
	wantUnread(t, s, "alice", 8)
	if _, _, err := s.DeleteNotification(ctx, "alice", ns[6].ID); err != nil { // unread
		t.Fatalf("DeleteNotification: %v", err)
	}
	wantUnread(t, s, "alice", 7)
	create(t, s, newNotification("alice", 11))
	wantUnread(t, s, "alice", 8)
	if _, _, err := s.MarkAllRead(ctx, "alice", time.Now()); err != nil {
		t.Fatalf("MarkAllRead: %v", err)
	}
	wantUnread(t, s, "alice", 0)
	wantUnread(t, s, "bob", 4)
	if got := len(find(t, s, herald.NotificationFilter{UserID: "bob", UnreadOnly: true})); got != 4 {
		t.Fatalf("bob has %d unread in a page, want 4", got)
	}
}
