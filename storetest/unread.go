package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/heraldhq/herald"
)

// wantUnreadStored fails the test unless UnreadCount of user agrees with the
// unread notifications FindNotifications returns, and both equal want.
func wantUnreadStored(t *testing.T, s herald.Store, user string, want int) {
	t.Helper()
	wantUnread(t, s, user, want)
	if got := len(find(t, s, herald.NotificationFilter{UserID: user, UnreadOnly: true, Limit: MaxLimit})); got != want {
		t.Fatalf("%s has %d unread notifications stored, want %d", user, got, want)
	}
}

// keyed returns a notification for user with an idempotency key.
func keyed(user, key string, i int) *herald.Notification {
	n := newNotification(user, i)
	n.IdempotencyKey = key
	return n
}

// testUnreadCountAcrossChanges follows one user's count through every call
// that may move it, replays and no-ops included, checking it against the
// stored notifications each time.
func testUnreadCountAcrossChanges(t *testing.T, s herald.Store) {
	wantUnreadStored(t, s, "alice", 0)
	first := []*herald.Notification{keyed("alice", "k1", 1), keyed("alice", "k2", 2), newNotification("alice", 3)}
	create(t, s, first...)
	create(t, s, newNotification("bob", 1))
	wantUnreadStored(t, s, "alice", 3)

	// Replays, stored earlier or earlier in the same batch, add nothing.
	created := create(t, s, keyed("alice", "k1", 4), keyed("alice", "k2", 5), keyed("alice", "k3", 6), keyed("alice", "k3", 7))
	if want := []bool{false, false, true, false}; fmt.Sprint(created) != fmt.Sprint(want) {
		t.Fatalf("created = %v, want %v", created, want)
	}
	wantUnreadStored(t, s, "alice", 4)

	// Marking read takes one off, once.
	for i, want := range []bool{true, false} {
		_, changed, err := s.MarkRead(ctx, "alice", first[0].ID, time.Now())
		if err != nil || changed != want {
			t.Fatalf("MarkRead #%d = %v, %v; want %v, nil", i+1, changed, err, want)
		}
		wantUnreadStored(t, s, "alice", 3)
	}
	// Calls that fail move nothing.
	_, _, err := s.MarkRead(ctx, "bob", first[1].ID, time.Now())
	wantCode(t, "MarkRead of another user's notification", err, herald.ENOTFOUND)
	_, _, err = s.DeleteNotification(ctx, "bob", first[1].ID)
	wantCode(t, "delete of another user's notification", err, herald.ENOTFOUND)
	_, _, err = s.DeleteNotification(ctx, "alice", uuid.NewString())
	wantCode(t, "delete of an unknown id", err, herald.ENOTFOUND)
	wantUnreadStored(t, s, "alice", 3)
	wantUnreadStored(t, s, "bob", 1)

	// Deleting a read notification leaves the count; an unread one lowers it.
	if _, wasUnread, err := s.DeleteNotification(ctx, "alice", first[0].ID); err != nil || wasUnread {
		t.Fatalf("delete of a read notification = %v, %v; want false, nil", wasUnread, err)
	}
	wantUnreadStored(t, s, "alice", 3)
	if _, wasUnread, err := s.DeleteNotification(ctx, "alice", first[1].ID); err != nil || !wasUnread {
		t.Fatalf("delete of an unread notification = %v, %v; want true, nil", wasUnread, err)
	}
	wantUnreadStored(t, s, "alice", 2)

	// A deleted notification's key is free again: using it creates.
	if created := create(t, s, keyed("alice", "k1", 8)); !created[0] {
		t.Fatal("the key of a deleted notification was replayed")
	}
	wantUnreadStored(t, s, "alice", 3)

	if n, _, err := s.MarkAllRead(ctx, "alice", time.Now()); err != nil || n != 3 {
		t.Fatalf("MarkAllRead = %d, %v; want 3, nil", n, err)
	}
	wantUnreadStored(t, s, "alice", 0)
	if n, _, err := s.MarkAllRead(ctx, "alice", time.Now()); err != nil || n != 0 {
		t.Fatalf("second MarkAllRead = %d, %v; want 0, nil", n, err)
	}
	wantUnreadStored(t, s, "alice", 0)
	wantUnreadStored(t, s, "bob", 1)

	// It counts up again from zero, and a replay of a read notification
	// brings nothing back.
	later := createN(t, s, "alice", 2)
	create(t, s, keyed("alice", "k3", 9))
	wantUnreadStored(t, s, "alice", 2)
	if _, _, err := s.DeleteNotification(ctx, "alice", later[0].ID); err != nil {
		t.Fatalf("DeleteNotification: %v", err)
	}
	wantUnreadStored(t, s, "alice", 1)
}

// testUnreadCountConcurrent runs creates (some replaying keys), reads,
// mark-alls and deletes for a few users at once, then checks each user's count
// against the stored notifications and against what the calls reported: every
// notification created unread is still unread, or was reported once by
// exactly one MarkRead, MarkAllRead or DeleteNotification.
func testUnreadCountConcurrent(t *testing.T, s herald.Store) {
	const users, rounds = 3, 10
	var (
		mu      sync.Mutex
		added   = map[string]int{} // user -> notifications created
		removed = map[string]int{} // user -> unread ones the calls reported
		wg      sync.WaitGroup
	)
	report := func(m map[string]int, user string, n int) {
		mu.Lock()
		m[user] += n
		mu.Unlock()
	}
	// A short queue keeps the readers close behind the creators, so reads,
	// deletes and mark-alls run while creates commit.
	type item struct {
		n     *herald.Notification
		round int
	}
	items := make(chan item, workers)
	var creators sync.WaitGroup
	for w := range workers / 2 {
		creators.Go(func() {
			for r := range rounds {
				// Each user gets one fresh notification and one keyed by
				// round, which only the first worker to get there creates.
				batch := make([]*herald.Notification, 0, 2*users)
				for u := range users {
					user := fmt.Sprintf("user%d", (u+w)%users)
					batch = append(batch, newNotification(user, w*100+r), keyed(user, fmt.Sprintf("round-%d", r), w*100+r))
				}
				res, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{})
				if err != nil {
					t.Errorf("worker %d: CreateNotifications: %v", w, err)
					return
				}
				for _, c := range res {
					if !c.Replayed {
						report(added, c.Notification.UserID, 1)
					}
					items <- item{c.Notification, r} // replays too: their ids name stored notifications
				}
			}
		})
	}
	wg.Go(func() {
		creators.Wait()
		close(items)
	})
	for w := range workers / 2 {
		wg.Go(func() {
			i := 0
			for it := range items {
				n := it.n
				i++
				switch (i + w) % 5 {
				case 0, 1: // the same notification may be marked by several workers
					_, changed, err := s.MarkRead(ctx, n.UserID, n.ID, time.Now())
					if err != nil && herald.CodeOf(err) != herald.ENOTFOUND { // deleted meanwhile
						t.Errorf("worker %d: MarkRead: %v", w, err)
					}
					if changed {
						report(removed, n.UserID, 1)
					}
				case 2:
					_, wasUnread, err := s.DeleteNotification(ctx, n.UserID, n.ID)
					if err != nil && herald.CodeOf(err) != herald.ENOTFOUND { // deleted twice
						t.Errorf("worker %d: DeleteNotification: %v", w, err)
					}
					if wasUnread {
						report(removed, n.UserID, 1)
					}
				case 3:
					// Not in the last rounds, so that what they create
					// stays partly unread and a count that a mark-all set
					// to zero while missing a concurrent create would show.
					if i%4 == 0 && it.round < rounds-3 {
						marked, _, err := s.MarkAllRead(ctx, n.UserID, time.Now())
						if err != nil {
							t.Errorf("worker %d: MarkAllRead: %v", w, err)
						}
						report(removed, n.UserID, marked)
					}
				}
				if _, err := s.UnreadCount(ctx, n.UserID); err != nil {
					t.Errorf("worker %d: UnreadCount: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for u := range users {
		user := fmt.Sprintf("user%d", u)
		// A key is created again only when its notification was deleted
		// first, so each user has at least one per worker and round, and one
		// keyed per round.
		if least := workers/2*rounds + rounds; added[user] < least {
			t.Fatalf("%s: %d notifications created, want at least %d", user, added[user], least)
		}
		if removed[user] == 0 {
			t.Fatalf("%s: no call reported a notification read or deleted; the mix exercised nothing", user)
		}
		wantUnreadStored(t, s, user, added[user]-removed[user])
	}
}
