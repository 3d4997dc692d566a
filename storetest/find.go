package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

func testFindPages(t *testing.T, s herald.Store) {
	createN(t, s, "alice", 120)
	f := herald.NotificationFilter{UserID: "alice"}

	page := find(t, s, f)
	wantSeqs(t, "first page", page, seqRange(120, -1, DefaultLimit))
	f.Before = page[len(page)-1].Seq
	page = find(t, s, f)
	wantSeqs(t, "second page", page, seqRange(70, -1, DefaultLimit))
	f.Before = page[len(page)-1].Seq
	page = find(t, s, f)
	wantSeqs(t, "last page", page, seqRange(20, -1, 20))
	f.Before = page[len(page)-1].Seq
	wantSeqs(t, "past the oldest", find(t, s, f), nil)

	// Before need not be an existing seq, and Limit cuts the page.
	wantSeqs(t, "before 1000", find(t, s, herald.NotificationFilter{UserID: "alice", Before: 1000, Limit: 3}), []int64{120, 119, 118})
	wantSeqs(t, "before 3", find(t, s, herald.NotificationFilter{UserID: "alice", Before: 3, Limit: 10}), []int64{2, 1})

	// Deleted notifications leave holes that pages skip.
	page = find(t, s, herald.NotificationFilter{UserID: "alice", Limit: 4})
	for _, n := range page[1:3] {
		if _, _, err := s.DeleteNotification(ctx, "alice", n.ID); err != nil {
			t.Fatalf("DeleteNotification: %v", err)
		}
	}
	wantSeqs(t, "with holes", find(t, s, herald.NotificationFilter{UserID: "alice", Limit: 4}), []int64{120, 117, 116, 115})

	// Pages hold complete notifications.
	for _, n := range find(t, s, herald.NotificationFilter{UserID: "alice", Limit: 5}) {
		if n.ID == "" || n.Type != "test" || n.Title == "" || n.Message == "" || n.CreatedAt.IsZero() {
			t.Fatalf("incomplete notification in a page: %+v", n)
		}
		wantUTC(t, "page", n)
	}
}

func testFindUnreadOnly(t *testing.T, s herald.Store) {
	ns := createN(t, s, "alice", 10)
	for _, i := range []int{1, 4, 5, 9} { // seqs 2, 5, 6, 10
		if _, _, err := s.MarkRead(ctx, "alice", ns[i].ID, time.Now()); err != nil {
			t.Fatalf("MarkRead: %v", err)
		}
	}
	f := herald.NotificationFilter{UserID: "alice", UnreadOnly: true}
	wantSeqs(t, "unread", find(t, s, f), []int64{9, 8, 7, 4, 3, 1})
	f.Limit = 2
	wantSeqs(t, "unread limit 2", find(t, s, f), []int64{9, 8})
	f.Before = 8
	wantSeqs(t, "unread before 8", find(t, s, f), []int64{7, 4})
	f.Before = 0
	f.Since = 3
	f.Limit = 0
	wantSeqs(t, "unread since 3", find(t, s, f), []int64{4, 7, 8, 9})
	wantSeqs(t, "all", find(t, s, herald.NotificationFilter{UserID: "alice"}), seqRange(10, -1, 10))
}

func testFindSince(t *testing.T, s herald.Store) {
	createN(t, s, "alice", 30)
	f := herald.NotificationFilter{UserID: "alice", Since: 20}
	wantSeqs(t, "since 20", find(t, s, f), seqRange(21, 1, 10))
	// Ascending from zero: the resume query of a client that saw nothing.
	f = herald.NotificationFilter{UserID: "alice", Ascending: true, Limit: 5}
	wantSeqs(t, "ascending from 0", find(t, s, f), seqRange(1, 1, 5))

	// Since overrides Before, and pages forward with Limit.
	f = herald.NotificationFilter{UserID: "alice", Since: 5, Before: 3, Limit: 10}
	page := find(t, s, f)
	wantSeqs(t, "since 5", page, seqRange(6, 1, 10))
	f.Since = page[len(page)-1].Seq
	page = find(t, s, f)
	wantSeqs(t, "since 15", page, seqRange(16, 1, 10))
	f.Since = page[len(page)-1].Seq
	page = find(t, s, f)
	wantSeqs(t, "since 25", page, seqRange(26, 1, 5))
	f.Since = page[len(page)-1].Seq
	wantSeqs(t, "since the newest", find(t, s, f), nil)

	// A resume sees what was created after it.
	n := newNotification("alice", 31)
	create(t, s, n)
	page = find(t, s, f)
	wantSeqs(t, "resume", page, []int64{31})
	sameNotification(t, "resumed", page[0], n)
}

func testFindLimits(t *testing.T, s herald.Store) {
	createN(t, s, "alice", MaxLimit+20)
	for _, c := range []struct {
		limit, want int
	}{
		{0, DefaultLimit},
		{-5, DefaultLimit},
		{1, 1},
		{7, 7},
		{MaxLimit, MaxLimit},
		{MaxLimit + 1, MaxLimit},
		{1 << 30, MaxLimit},
	} {
		page := find(t, s, herald.NotificationFilter{UserID: "alice", Limit: c.limit})
		if len(page) != c.want {
			t.Fatalf("Limit %d returned %d notifications, want %d", c.limit, len(page), c.want)
		}
		wantSeqs(t, "newest first", page, seqRange(MaxLimit+20, -1, c.want))
		page = find(t, s, herald.NotificationFilter{UserID: "alice", Limit: c.limit, Since: 10})
		if len(page) != c.want {
			t.Fatalf("Limit %d Since 10 returned %d notifications, want %d", c.limit, len(page), c.want)
		}
		wantSeqs(t, "oldest first", page, seqRange(11, 1, c.want))
	}
}

func testFindOnlyOwnNotifications(t *testing.T, s herald.Store) {
	createN(t, s, "alice", 3)
	createN(t, s, "bob", 2)
	createN(t, s, "alice2", 1) // a user id with alice as its prefix
	wantSeqs(t, "alice", find(t, s, herald.NotificationFilter{UserID: "alice"}), []int64{3, 2, 1})
	wantSeqs(t, "bob", find(t, s, herald.NotificationFilter{UserID: "bob", Since: 0}), []int64{2, 1})
	wantSeqs(t, "nobody", find(t, s, herald.NotificationFilter{UserID: "nobody"}), nil)
	wantSeqs(t, "nobody since", find(t, s, herald.NotificationFilter{UserID: "nobody", Since: 1}), nil)
	wantSeqs(t, "no user", find(t, s, herald.NotificationFilter{}), nil)
	wantUnread(t, s, "nobody", 0)
}
