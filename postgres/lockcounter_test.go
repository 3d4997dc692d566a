package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/postgres"
)

// A mark-all-read, mark-read or delete for a user with no notifications
// yet changes nothing, even when the user's first notification commits
// while it runs: it happened before that create. Going on would have it
// change rows it holds no counter lock for, which is how a mark-all-read and
// a mark-read came to deadlock (storetest's UnreadVersionsConcurrent).
func TestChangeBeforeTheFirstCreate(t *testing.T) {
	ctx := context.Background()
	s := open(t, postgres.Config{})
	var created *herald.Notification
	sqlstore.AfterLockCounter = func(user string) {
		if created != nil {
			return
		}
		res, err := s.CreateNotifications(ctx, []*herald.NewNotification{{UserID: user, Type: "t", Title: "first", Message: "m"}}, herald.CreateOptions{})
		if err != nil {
			t.Errorf("create inside the change: %v", err)
			return
		}
		created = res[0].Notification
	}
	t.Cleanup(func() { sqlstore.AfterLockCounter = nil })

	if n, _, err := s.MarkAllRead(ctx, "ann", time.Now()); err != nil || n != 0 {
		t.Fatalf("MarkAllRead = %d, %v; want 0 marked: ann had nothing when it began", n, err)
	}
	if created == nil {
		t.Fatal("the create did not run")
	}
	if u, err := s.UnreadCount(ctx, "ann"); err != nil || u.Count != 1 {
		t.Fatalf("UnreadCount = %+v, %v; want the new notification unread", u, err)
	}

	created = nil
	if _, _, err := s.MarkRead(ctx, "bob", herald.NewID(), time.Now()); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("MarkRead for a user with nothing yet = %v, want not found", err)
	}
	created = nil
	if _, _, err := s.DeleteNotification(ctx, "cid", herald.NewID()); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("DeleteNotification for a user with nothing yet = %v, want not found", err)
	}
	for _, user := range []string{"bob", "cid"} {
		if u, err := s.UnreadCount(ctx, user); err != nil || u.Count != 1 {
			t.Fatalf("UnreadCount(%s) = %+v, %v; want its first notification, created meanwhile, unread", user, u, err)
		}
	}
}
