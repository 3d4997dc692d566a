package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// workers is how many goroutines the concurrency cases run at once.
const workers = 8

func testConcurrentCreateSameUser(t *testing.T, s herald.Store) {
	const rounds = 12 // per worker: alternately one notification and a batch of three
	var (
		mu      sync.Mutex
		created []*herald.Notification
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				size := 1 + 2*(r%2)
				batch := make([]*herald.Notification, size)
				for i := range batch {
					batch[i] = newNotification("alice", w*1000+r*10+i)
				}
				res, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{})
				if err != nil {
					t.Errorf("worker %d: CreateNotifications: %v", w, err)
					return
				}
				for i, c := range res {
					*batch[i] = *c.Notification
				}
				for i := 1; i < size; i++ {
					if batch[i].Seq != batch[i-1].Seq+1 {
						t.Errorf("worker %d: one batch got seqs %v, want consecutive", w, seqs(batch))
					}
				}
				mu.Lock()
				created = append(created, batch...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	total := workers * rounds * 2
	if len(created) != total {
		t.Fatalf("created %d notifications, want %d", len(created), total)
	}
	got := seqs(created)
	slices.Sort(got)
	if want := seqRange(1, 1, total); !slices.Equal(got, want) {
		t.Fatalf("concurrent creates got seqs %v, want 1..%d each once", got, total)
	}
	stored := all(t, s, "alice")
	wantSeqs(t, "stored", stored, seqRange(1, 1, total))
	byIDs := make(map[string]*herald.Notification, total)
	for _, n := range stored {
		byIDs[n.ID] = n
	}
	for _, n := range created {
		got := byIDs[n.ID]
		if got == nil {
			t.Fatalf("created notification %s not stored", n.ID)
		}
		sameNotification(t, "stored "+n.Title, got, n)
	}
	wantUnread(t, s, "alice", total)
}

func testConcurrentCreateManyUsers(t *testing.T, s herald.Store) {
	const rounds, users = 10, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				// A batch touching every user, in an order that differs
				// between workers, so stores that lock per user must not
				// deadlock.
				batch := make([]*herald.Notification, users)
				for i := range batch {
					batch[i] = newNotification(fmt.Sprintf("user%d", (i+w)%users), r)
				}
				if w%2 == 1 {
					slices.Reverse(batch)
				}
				if _, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{}); err != nil {
					t.Errorf("worker %d: CreateNotifications: %v", w, err)
					return
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
		wantSeqs(t, user, all(t, s, user), seqRange(1, 1, workers*rounds))
		wantUnread(t, s, user, workers*rounds)
	}
}

func testConcurrentIdempotentCreate(t *testing.T, s herald.Store) {
	results := make([][]*herald.Notification, workers)
	flags := make([][]bool, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			keyed := newNotification("alice", w)
			keyed.IdempotencyKey = "same-event"
			batch := []*herald.Notification{keyed, newNotification("alice", 100+w)}
			res, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{})
			if err != nil {
				t.Errorf("worker %d: CreateNotifications: %v", w, err)
				return
			}
			for i, c := range res {
				*batch[i] = *c.Notification
				flags[w] = append(flags[w], !c.Replayed)
			}
			results[w] = batch
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	winners := 0
	for w := range workers {
		if flags[w][0] {
			winners++
		}
		if !flags[w][1] {
			t.Fatalf("worker %d: a notification without a key was not created", w)
		}
		if results[w][0].ID != results[0][0].ID || results[w][0].Seq != results[0][0].Seq {
			t.Fatalf("workers got different notifications for one key: %s/%d and %s/%d",
				results[w][0].ID, results[w][0].Seq, results[0][0].ID, results[0][0].Seq)
		}
	}
	if winners != 1 {
		t.Fatalf("%d workers created the keyed notification, want exactly 1", winners)
	}
	wantSeqs(t, "stored", all(t, s, "alice"), seqRange(1, 1, workers+1))
	wantUnread(t, s, "alice", workers+1)
}

func testConcurrentReadsAndWrites(t *testing.T, s herald.Store) {
	const batches, size = 20, 5
	ids := make(chan string, batches*size)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ids)
		for b := range batches {
			batch := make([]*herald.Notification, size)
			for i := range batch {
				batch[i] = newNotification("alice", b*size+i)
			}
			res, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{})
			if err != nil {
				t.Errorf("CreateNotifications: %v", err)
				return
			}
			for _, c := range res {
				ids <- c.Notification.ID
			}
		}
	})
	for w := range 3 {
		wg.Go(func() {
			i := 0
			for id := range ids {
				i++
				var err error
				switch (i + w) % 3 {
				case 0:
					_, _, err = s.MarkRead(ctx, "alice", id, time.Now())
				case 1:
					_, _, err = s.DeleteNotification(ctx, "alice", id)
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
				}
				if _, err := s.UnreadCount(ctx, "alice"); err != nil {
					t.Errorf("worker %d: UnreadCount: %v", w, err)
				}
				if _, err := s.FindNotifications(ctx, herald.NotificationFilter{UserID: "alice", UnreadOnly: true}); err != nil {
					t.Errorf("worker %d: FindNotifications: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	stored := all(t, s, "alice")
	unreadStored := 0
	for _, n := range stored {
		if !n.Read {
			unreadStored++
		}
	}
	if len(stored) == 0 || len(stored) == batches*size {
		t.Fatalf("%d notifications left after creating %d and deleting about a third", len(stored), batches*size)
	}
	wantUnread(t, s, "alice", unreadStored)
	if got := len(find(t, s, herald.NotificationFilter{UserID: "alice", UnreadOnly: true, Limit: MaxLimit})); got != unreadStored {
		t.Fatalf("unread page holds %d, want %d", got, unreadStored)
	}
}
