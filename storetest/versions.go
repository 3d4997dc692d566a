package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// testUnreadVersions follows one user's Unread through every change that
// returns one: each carries the count the change left and a greater version
// than the change before, and UnreadCount agrees with the last.
func testUnreadVersions(t *testing.T, s herald.Store) {
	if u := unreadState(t, s, "alice"); u != (herald.Unread{}) {
		t.Fatalf("UnreadCount of a user without notifications = %+v, want the zero Unread", u)
	}
	var last herald.Unread
	step := func(what string, u herald.Unread, count int) {
		t.Helper()
		if u.Count != count || u.Version <= last.Version {
			t.Fatalf("%s returned %+v after %+v; want count %d and a greater version", what, u, last, count)
		}
		stored := unreadState(t, s, "alice")
		if stored.Count != u.Count || stored.Version != u.Version {
			t.Fatalf("%s returned %+v, but UnreadCount says %+v", what, u, stored)
		}
		last = u
	}

	res := createResults(t, s, newNotification("alice", 1), newNotification("bob", 1), newNotification("alice", 2))
	if res[0].Unread != res[2].Unread {
		t.Fatalf("one create gave alice two Unreads: %+v and %+v", res[0].Unread, res[2].Unread)
	}
	step("create", res[0].Unread, 2)
	if res[0].Unread.LastSeq != 2 || unreadState(t, s, "alice").LastSeq != 2 {
		t.Fatalf("LastSeq after two notifications = %d, want 2", res[0].Unread.LastSeq)
	}
	a1 := res[0].Notification.ID

	u, changed, err := s.MarkRead(ctx, "alice", a1, time.Now())
	if err != nil || !changed {
		t.Fatalf("MarkRead = %v, %v", changed, err)
	}
	step("MarkRead", u, 1)

	// Changes that change nothing return no Unread and move no version.
	if u, changed, err := s.MarkRead(ctx, "alice", a1, time.Now()); err != nil || changed || u != (herald.Unread{}) {
		t.Fatalf("MarkRead of a read notification = %+v, %v, %v; want nothing", u, changed, err)
	}
	if u, wasUnread, err := s.DeleteNotification(ctx, "alice", a1); err != nil || wasUnread || u != (herald.Unread{}) {
		t.Fatalf("delete of a read notification = %+v, %v, %v; want nothing", u, wasUnread, err)
	}
	if got := unreadState(t, s, "alice"); got.Version != last.Version {
		t.Fatalf("changes that left the count moved its version: %+v after %+v", got, last)
	}

	res = createResults(t, s, newNotification("alice", 3), newNotification("alice", 4))
	step("second create", res[1].Unread, 3)
	n, u, err := s.MarkAllRead(ctx, "alice", time.Now())
	if err != nil || n != 3 {
		t.Fatalf("MarkAllRead = %d, %v; want 3", n, err)
	}
	step("MarkAllRead", u, 0)
	if n, u, err := s.MarkAllRead(ctx, "alice", time.Now()); err != nil || n != 0 || u != (herald.Unread{}) {
		t.Fatalf("MarkAllRead of nothing = %d, %+v, %v; want nothing", n, u, err)
	}

	res = createResults(t, s, newNotification("alice", 5))
	step("third create", res[0].Unread, 1)
	u, wasUnread, err := s.DeleteNotification(ctx, "alice", res[0].Notification.ID)
	if err != nil || !wasUnread {
		t.Fatalf("delete = %v, %v", wasUnread, err)
	}
	step("delete", u, 0)
	if u.LastSeq != 5 {
		t.Fatalf("LastSeq after a delete = %d, want 5", u.LastSeq)
	}

	// A replay changes nothing either.
	k := keyed("alice", "k", 6)
	createResults(t, s, k)
	last = unreadState(t, s, "alice")
	if res := createResults(t, s, keyed("alice", "k", 7)); !res[0].Replayed {
		t.Fatal("a known key was created again")
	}
	if got := unreadState(t, s, "alice"); got != last {
		t.Fatalf("a replay moved the count: %+v after %+v", got, last)
	}
	if bob := unreadState(t, s, "bob"); bob.Count != 1 || bob.Version < 1 {
		t.Fatalf("bob's Unread = %+v, want count 1", bob)
	}
}

// testCommittedInOrder runs concurrent creates for a few users and checks
// that each call's Committed ran once, before the call returned, with the
// slice of results it returned, and that, across calls, each user's results
// were handed over in seq and version order: the order the inbox publishes
// them in.
func testCommittedInOrder(t *testing.T, s herald.Store) {
	const rounds = 15
	users := []string{"alice", "bob", "carol"}
	var (
		mu     sync.Mutex
		handed = map[string][]herald.Unread{} // per user, in the order Committed saw them
		seqs   = map[string][]int64{}
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				batch := []*herald.Notification{newNotification(users[(w+r)%3], r)}
				if r%3 == 0 {
					batch = append(batch, newNotification(users[(w+r+1)%3], r), newNotification(users[(w+r)%3], r))
				}
				var got []herald.Created
				calls := 0
				res, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{Committed: func(res []herald.Created) {
					calls++
					got = res
					mu.Lock()
					defer mu.Unlock()
					seen := map[string]bool{}
					for _, c := range res {
						u := c.Notification.UserID
						seqs[u] = append(seqs[u], c.Notification.Seq)
						if !seen[u] {
							seen[u] = true
							handed[u] = append(handed[u], c.Unread)
						}
					}
				}})
				if err != nil {
					t.Errorf("worker %d: CreateNotifications: %v", w, err)
					return
				}
				if calls != 1 || len(got) != len(res) {
					t.Errorf("worker %d: Committed ran %d times with %d results, want once with %d", w, calls, len(got), len(res))
					return
				}
				if &got[0] != &res[0] {
					t.Errorf("worker %d: Committed was handed a slice other than the one returned", w)
				}
				for i := range res {
					if got[i].Notification.ID != res[i].Notification.ID || got[i].Unread != res[i].Unread {
						t.Errorf("worker %d: Committed saw %+v, the call returned %+v", w, got[i], res[i])
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, u := range users {
		if !slices.IsSorted(seqs[u]) || len(seqs[u]) == 0 {
			t.Fatalf("%s: Committed handed seqs over in the order %v", u, seqs[u])
		}
		for i := 1; i < len(handed[u]); i++ {
			if !handed[u][i].Newer(handed[u][i-1]) || handed[u][i].Count != handed[u][i-1].Count+countOf(seqs[u], handed[u][i-1].LastSeq, handed[u][i].LastSeq) {
				t.Fatalf("%s: Committed handed %+v after %+v", u, handed[u][i], handed[u][i-1])
			}
		}
		last := handed[u][len(handed[u])-1]
		if got := unreadState(t, s, u); got.Count != last.Count || got.Version != last.Version {
			t.Fatalf("%s: last Unread handed over %+v, stored %+v", u, last, got)
		}
	}
}

// countOf returns how many of seqs lie in (from, to].
func countOf(seqs []int64, from, to int64) int {
	n := 0
	for _, s := range seqs {
		if s > from && s <= to {
			n++
		}
	}
	return n
}

// change is one change of a user's unread count as a store reported it.
type change struct {
	delta int
	u     herald.Unread
}

// testUnreadVersionsConcurrent runs creates, reads, mark-alls and deletes
// for a few users at once and records every Unread the calls returned. Put in
// version order, each user's changes must add up: each count is the one
// before plus the change's own delta. So the versions order the counts as the
// commits did, and the newest is the stored count.
func testUnreadVersionsConcurrent(t *testing.T, s herald.Store) {
	const rounds, users = 12, 3
	var (
		mu      sync.Mutex
		changes = map[string][]change{}
	)
	record := func(user string, delta int, u herald.Unread) {
		mu.Lock()
		changes[user] = append(changes[user], change{delta, u})
		mu.Unlock()
	}
	ids := make(chan *herald.Notification, workers*rounds*users)
	var (
		wg      sync.WaitGroup
		lastSeq = map[string]int64{} // the greatest seq created per user, under mu
		seen    = map[string][]herald.Unread{}
		stop    = make(chan struct{})
		readers sync.WaitGroup
	)
	// A reader follows each user's count meanwhile: it may lag, but never
	// go back, and every state it sees must be one a change returned.
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for u := range users {
				user := fmt.Sprintf("user%d", u)
				got, err := s.UnreadCount(ctx, user)
				if err != nil {
					t.Errorf("UnreadCount(%s): %v", user, err)
					return
				}
				if prev := seen[user]; len(prev) > 0 && (got.Version < prev[len(prev)-1].Version || got.LastSeq < prev[len(prev)-1].LastSeq) {
					t.Errorf("%s: UnreadCount went back from %+v to %+v", user, prev[len(prev)-1], got)
					return
				}
				seen[user] = append(seen[user], got)
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				switch (w + r) % 4 {
				case 0, 1:
					batch := make([]*herald.Notification, 0, users+1)
					for u := range users {
						batch = append(batch, newNotification(fmt.Sprintf("user%d", (u+w)%users), r))
					}
					batch = append(batch, newNotification(fmt.Sprintf("user%d", w%users), r))
					res, err := s.CreateNotifications(ctx, asNew(batch...), herald.CreateOptions{})
					if err != nil {
						t.Errorf("worker %d: CreateNotifications: %v", w, err)
						return
					}
					added := map[string]int{}
					mu.Lock()
					for _, c := range res {
						lastSeq[c.Notification.UserID] = max(lastSeq[c.Notification.UserID], c.Notification.Seq)
					}
					mu.Unlock()
					for _, c := range res {
						added[c.Notification.UserID]++
						select {
						case ids <- c.Notification:
						default:
						}
					}
					for _, c := range res {
						if n, ok := added[c.Notification.UserID]; ok {
							record(c.Notification.UserID, n, c.Unread)
							delete(added, c.Notification.UserID)
						}
					}
				case 2:
					select {
					case n := <-ids:
						var (
							u       herald.Unread
							changed bool
							err     error
						)
						if r%2 == 0 {
							u, changed, err = s.MarkRead(ctx, n.UserID, n.ID, time.Now())
						} else {
							u, changed, err = s.DeleteNotification(ctx, n.UserID, n.ID)
						}
						if err != nil {
							t.Errorf("worker %d: %v", w, err)
						}
						if changed {
							record(n.UserID, -1, u)
						}
					default:
					}
				case 3:
					if r%3 != 0 {
						continue
					}
					user := fmt.Sprintf("user%d", r%users)
					n, u, err := s.MarkAllRead(ctx, user, time.Now())
					if err != nil {
						t.Errorf("worker %d: MarkAllRead: %v", w, err)
					}
					if n > 0 {
						record(user, -n, u)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for u := range users {
		user := fmt.Sprintf("user%d", u)
		cs := changes[user]
		counts := map[int64]int{0: 0} // version -> the count a change returned with it
		for _, c := range cs {
			counts[c.u.Version] = c.u.Count
		}
		for _, got := range seen[user] {
			if want, ok := counts[got.Version]; !ok || got.Count != want {
				t.Fatalf("%s: UnreadCount read %+v, which no change returned", user, got)
			}
		}
		slices.SortFunc(cs, func(a, b change) int { return int(a.u.Version - b.u.Version) })
		count := 0
		var prev int64
		for i, c := range cs {
			if c.u.Version <= prev {
				t.Fatalf("%s: two changes returned version %d", user, c.u.Version)
			}
			count += c.delta
			if c.u.Count != count {
				t.Fatalf("%s: change %d of %d (version %d, delta %+d) returned count %d; the changes before it add up to %d",
					user, i+1, len(cs), c.u.Version, c.delta, c.u.Count, count)
			}
			prev = c.u.Version
		}
		stored := unreadState(t, s, user)
		if stored.Count != count || stored.Version != prev || stored.LastSeq != lastSeq[user] {
			t.Fatalf("%s: stored %+v, the newest change returned count %d version %d, the greatest seq is %d", user, stored, count, prev, lastSeq[user])
		}
		wantUnreadStored(t, s, user, count)
	}
}
