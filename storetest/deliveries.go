package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// t0 is the suite's clock: claims and due times are explicit, so the stores'
// own clocks play no part.
var t0 = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

const lease = time.Minute

// planned returns a delivery to plan, due at due.
func planned(c herald.Channel, kind herald.DeliveryKind, due time.Time) *herald.Delivery {
	d := &herald.Delivery{Channel: c, Kind: kind, DueAt: due, UnlessRead: kind != herald.DeliveryImmediate}
	if c == herald.ChannelPush {
		d.Target = "sub-1"
	}
	return d
}

// stored is a notification as a create returned it, with the deliveries
// written with it.
type stored struct {
	*herald.Notification
	Deliveries []*herald.Delivery
}

// plans is a herald.Planner that plans by title: each notification gets the
// plan of its title, or nothing. It records the preferences each call saw.
type plans struct {
	byTitle map[string]herald.Plan
	all     func() herald.Plan // the plan of every other title, when set
	push    bool

	mu    sync.Mutex
	seen  map[string]*herald.Preferences // by user
	subs  map[string]int                 // push subscriptions seen, by user
	devs  map[string]int                 // devices seen, by user
	calls int
}

func (p *plans) Plan(n *herald.NewNotification, prefs *herald.Preferences, targets herald.PushTargets, now time.Time) herald.Plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.seen == nil {
		p.seen, p.subs, p.devs = map[string]*herald.Preferences{}, map[string]int{}, map[string]int{}
	}
	p.seen[n.UserID], p.subs[n.UserID], p.devs[n.UserID] = prefs, len(targets.Subscriptions), len(targets.Devices)
	if plan, ok := p.byTitle[n.Title]; ok || p.all == nil {
		return plan
	}
	return p.all()
}

func (p *plans) UsesPush() bool { return p.push }

// createPlanned creates n with a planner that plans plan for it, and returns
// it as stored with its stored deliveries.
func createPlanned(t *testing.T, s herald.Store, n *herald.Notification, plan herald.Plan) stored {
	t.Helper()
	res := createResultsWith(t, s, herald.CreateOptions{Planner: &plans{byTitle: map[string]herald.Plan{n.Title: plan}}}, n)
	*n = *res[0].Notification
	return stored{n, res[0].Deliveries}
}

// withDeliveries creates one notification for user carrying ds and returns it.
func withDeliveries(t *testing.T, s OutboxStore, user string, ds ...*herald.Delivery) stored {
	t.Helper()
	n := createPlanned(t, s, newNotification(user, 1), herald.Plan{Deliveries: ds})
	if len(n.Deliveries) != len(ds) {
		t.Fatalf("created notification carries %d deliveries, want %d", len(n.Deliveries), len(ds))
	}
	return n
}

func claim(t *testing.T, s OutboxStore, now time.Time, limit int) []*herald.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(ctx, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func finish(t *testing.T, s OutboxStore, d *herald.Delivery, r herald.DeliveryResult) {
	t.Helper()
	if err := s.FinishDelivery(ctx, d.ID, d.Attempts, r); err != nil {
		t.Fatalf("FinishDelivery(%s, %d, %s): %v", d.ID, d.Attempts, r.Status, err)
	}
}

// deliveriesOf returns every delivery of notification id, keyed by id.
func deliveriesOf(t *testing.T, s OutboxStore, id string) map[string]*herald.Delivery {
	t.Helper()
	ds, err := s.FindDeliveries(ctx, herald.DeliveryFilter{NotificationID: id})
	if err != nil {
		t.Fatalf("FindDeliveries: %v", err)
	}
	out := make(map[string]*herald.Delivery, len(ds))
	for _, d := range ds {
		out[d.ID] = d
	}
	return out
}

// status returns the stored status of delivery d.
func status(t *testing.T, s OutboxStore, d *herald.Delivery) *herald.Delivery {
	t.Helper()
	got := deliveriesOf(t, s, d.NotificationID)[d.ID]
	if got == nil {
		t.Fatalf("delivery %s not found", d.ID)
	}
	return got
}

func ids(ds []*herald.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func testCreateWritesDeliveries(t *testing.T, s OutboxStore) {
	email := planned(herald.ChannelEmail, herald.DeliveryImmediate, t0)
	push := planned(herald.ChannelPush, herald.DeliveryEscalation, t0.Add(10*time.Minute))
	input := []*herald.Delivery{email, push}
	in := newNotification("alice", 1)
	in.Type = "payment_due"
	n := createPlanned(t, s, in, herald.Plan{Deliveries: input})

	if email.ID != "" || email.NotificationID != "" || email.Status != "" {
		t.Fatalf("CreateNotifications modified the caller's delivery: %+v", email)
	}
	if len(n.Deliveries) != 2 {
		t.Fatalf("returned %d deliveries, want 2", len(n.Deliveries))
	}
	for i, d := range n.Deliveries {
		if d.ID == "" || d.NotificationID != n.ID || d.UserID != "alice" || d.Type != "payment_due" ||
			d.Status != herald.DeliveryPending || d.Attempts != 0 || d.LeaseUntil != nil || d.CreatedAt.IsZero() {
			t.Fatalf("returned delivery %d = %+v", i, d)
		}
		if d.Channel != input[i].Channel || d.Kind != input[i].Kind || !d.DueAt.Equal(input[i].DueAt) ||
			d.UnlessRead != input[i].UnlessRead || d.Target != input[i].Target {
			t.Fatalf("returned delivery %d = %+v, planned %+v", i, d, input[i])
		}
	}
	stored := deliveriesOf(t, s, n.ID)
	if len(stored) != 2 {
		t.Fatalf("stored %d deliveries, want 2", len(stored))
	}
	for _, d := range n.Deliveries {
		got := stored[d.ID]
		if got == nil || got.Channel != d.Channel || got.Kind != d.Kind || !got.DueAt.Equal(d.DueAt) ||
			got.Target != d.Target || got.UnlessRead != d.UnlessRead || got.Status != herald.DeliveryPending ||
			got.Type != "payment_due" || got.UserID != "alice" {
			t.Fatalf("stored delivery %s = %+v, want %+v", d.ID, got, d)
		}
		if got.DueAt.Location() != time.UTC || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("stored times not in UTC: %+v", got)
		}
	}
	// A notification planned with nothing has nothing in the outbox.
	plain := newNotification("alice", 2)
	create(t, s, plain)
	if got := deliveriesOf(t, s, plain.ID); len(got) != 0 {
		t.Fatalf("a notification without deliveries has %d", len(got))
	}
}

func testReplayWritesNoDeliveries(t *testing.T, s OutboxStore) {
	first := newNotification("alice", 1)
	first.IdempotencyKey = "k"
	createPlanned(t, s, first, herald.Plan{Deliveries: []*herald.Delivery{planned(herald.ChannelEmail, herald.DeliveryImmediate, t0)}})

	again := newNotification("alice", 1)
	again.IdempotencyKey = "k"
	p := &plans{byTitle: map[string]herald.Plan{again.Title: {Deliveries: []*herald.Delivery{planned(herald.ChannelSMS, herald.DeliveryImmediate, t0)}}}}
	res := createResultsWith(t, s, herald.CreateOptions{Planner: p}, again)
	if !res[0].Replayed {
		t.Fatal("the replay was created")
	}
	if len(res[0].Deliveries) != 0 {
		t.Fatalf("the replay came back with %d deliveries", len(res[0].Deliveries))
	}
	got := deliveriesOf(t, s, first.ID)
	if len(got) != 1 {
		t.Fatalf("after a replay the notification has %d deliveries, want 1", len(got))
	}
	for _, d := range got {
		if d.Channel != herald.ChannelEmail {
			t.Fatalf("the replay's delivery was stored: %+v", d)
		}
	}
}

func testFailedCreateWritesNoDeliveries(t *testing.T, s OutboxStore) {
	taken := newNotification("alice", 1)
	create(t, s, taken)

	fresh := newNotification("alice", 2)
	dup := newNotification("alice", 3)
	dup.ID = taken.ID
	p := &plans{byTitle: map[string]herald.Plan{fresh.Title: {Deliveries: []*herald.Delivery{planned(herald.ChannelEmail, herald.DeliveryImmediate, t0)}}}}
	if _, err := s.CreateNotifications(ctx, asNew(fresh, dup), herald.CreateOptions{Planner: p}); err == nil {
		t.Fatal("a batch reusing an id was created")
	}
	ds, err := s.FindDeliveries(ctx, herald.DeliveryFilter{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Fatalf("a failed create left %d deliveries", len(ds))
	}
	if got := claim(t, s, t0.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("a failed create left %d claimable deliveries", len(got))
	}
}

func testClaimLeases(t *testing.T, s OutboxStore) {
	n := withDeliveries(t, s, "alice",
		planned(herald.ChannelEmail, herald.DeliveryImmediate, t0),
		planned(herald.ChannelSMS, herald.DeliveryImmediate, t0.Add(time.Hour)))
	due := n.Deliveries[0]

	got := claim(t, s, t0, 10)
	if len(got) != 1 || got[0].ID != due.ID {
		t.Fatalf("claim at t0 = %v, want [%s]", ids(got), due.ID)
	}
	c := got[0]
	if c.Attempts != 1 || c.LeaseUntil == nil || !c.LeaseUntil.Equal(t0.Add(lease)) {
		t.Fatalf("claimed delivery: attempts %d, lease %v; want 1, %v", c.Attempts, c.LeaseUntil, t0.Add(lease))
	}
	if c.Notification == nil || c.Notification.ID != n.ID || c.Notification.Title != n.Title || c.Notification.Message != n.Message {
		t.Fatalf("claimed delivery carries notification %+v, want %+v", c.Notification, n)
	}
	if again := claim(t, s, t0.Add(lease/2), 10); len(again) != 0 {
		t.Fatalf("a leased delivery was claimed again: %v", ids(again))
	}
	// The lease expires: a worker that died is replaced.
	again := claim(t, s, t0.Add(lease), 10)
	if len(again) != 1 || again[0].ID != due.ID || again[0].Attempts != 2 {
		t.Fatalf("claim after the lease = %+v, want %s at attempt 2", again, due.ID)
	}
	finish(t, s, again[0], herald.DeliveryResult{Status: herald.DeliverySent, At: t0.Add(lease + time.Second)})
	st := status(t, s, due)
	if st.Status != herald.DeliverySent || st.SentAt == nil || !st.SentAt.Equal(t0.Add(lease+time.Second)) || st.LeaseUntil != nil || st.Attempts != 2 {
		t.Fatalf("after sending: %+v", st)
	}
	if got := claim(t, s, t0.Add(30*time.Minute), 10); len(got) != 0 {
		t.Fatalf("a sent delivery was claimed: %v", ids(got))
	}
}

func testClaimOrderAndLimit(t *testing.T, s OutboxStore) {
	var want []string
	for i := range 5 {
		n := withDeliveries(t, s, fmt.Sprintf("u%d", i), planned(herald.ChannelEmail, herald.DeliveryImmediate, t0.Add(-time.Duration(i)*time.Minute)))
		want = append(want, n.Deliveries[0].ID)
	}
	slices.Reverse(want) // the earliest due first
	first := claim(t, s, t0, 2)
	second := claim(t, s, t0, 10)
	if got := append(ids(first), ids(second)...); !slices.Equal(got, want) {
		t.Fatalf("claims took %v, want %v in due order, 2 then 3", got, want)
	}
	if len(first) != 2 {
		t.Fatalf("claim with limit 2 took %d", len(first))
	}
}

func testFailedRetries(t *testing.T, s OutboxStore) {
	n := withDeliveries(t, s, "alice", planned(herald.ChannelSMS, herald.DeliveryImmediate, t0))
	c := claim(t, s, t0, 1)[0]
	finish(t, s, c, herald.DeliveryResult{Status: herald.DeliveryFailed, RetryAt: t0.Add(time.Minute), Error: "provider answered 503", At: t0})
	st := status(t, s, n.Deliveries[0])
	if st.Status != herald.DeliveryFailed || !st.DueAt.Equal(t0.Add(time.Minute)) || st.LastError != "provider answered 503" || st.LeaseUntil != nil {
		t.Fatalf("after a failure: %+v", st)
	}
	if got := claim(t, s, t0.Add(30*time.Second), 1); len(got) != 0 {
		t.Fatal("a failed delivery was retried before it was due")
	}
	retry := claim(t, s, t0.Add(time.Minute), 1)
	if len(retry) != 1 || retry[0].Attempts != 2 || retry[0].Status != herald.DeliveryFailed {
		t.Fatalf("retry claim = %+v", retry)
	}
	finish(t, s, retry[0], herald.DeliveryResult{Status: herald.DeliveryDead, Error: "gave up", At: t0.Add(time.Minute)})
	if st := status(t, s, n.Deliveries[0]); st.Status != herald.DeliveryDead || st.LastError != "gave up" {
		t.Fatalf("after dying: %+v", st)
	}
	if got := claim(t, s, t0.Add(time.Hour), 1); len(got) != 0 {
		t.Fatal("a dead delivery was claimed")
	}
}

func testFinishFenced(t *testing.T, s OutboxStore) {
	n := withDeliveries(t, s, "alice", planned(herald.ChannelEmail, herald.DeliveryImmediate, t0))
	old := claim(t, s, t0, 1)[0]
	cur := claim(t, s, t0.Add(lease), 1)[0] // the first worker's lease expired
	err := s.FinishDelivery(ctx, old.ID, old.Attempts, herald.DeliveryResult{Status: herald.DeliverySent, At: t0})
	wantCode(t, "FinishDelivery by an expired claim", err, herald.ECONFLICT)
	finish(t, s, cur, herald.DeliveryResult{Status: herald.DeliverySent, At: t0.Add(lease)})
	err = s.FinishDelivery(ctx, cur.ID, cur.Attempts, herald.DeliveryResult{Status: herald.DeliveryFailed, RetryAt: t0, At: t0})
	wantCode(t, "FinishDelivery of a sent delivery", err, herald.ECONFLICT)
	if st := status(t, s, n.Deliveries[0]); st.Status != herald.DeliverySent {
		t.Fatalf("status = %s, want sent", st.Status)
	}
	err = s.FinishDelivery(ctx, herald.NewID(), 1, herald.DeliveryResult{Status: herald.DeliverySent, At: t0})
	wantCode(t, "FinishDelivery of an unknown delivery", err, herald.ENOTFOUND)
}

func testClaimCancelsRead(t *testing.T, s OutboxStore) {
	read := withDeliveries(t, s, "alice",
		planned(herald.ChannelPush, herald.DeliveryEscalation, t0.Add(10*time.Minute)),
		planned(herald.ChannelEmail, herald.DeliveryImmediate, t0.Add(10*time.Minute)))
	unread := withDeliveries(t, s, "alice", planned(herald.ChannelPush, herald.DeliveryEscalation, t0.Add(10*time.Minute)))
	if _, _, err := s.MarkRead(ctx, "alice", read.ID, t0); err != nil {
		t.Fatal(err)
	}
	got := claim(t, s, t0.Add(10*time.Minute), 10)
	// The escalation of the read notification is cancelled; its immediate
	// delivery (not UnlessRead) and the unread one's escalation go out.
	want := []string{read.Deliveries[1].ID, unread.Deliveries[0].ID}
	if g := ids(got); !sameSet(g, want) {
		t.Fatalf("claimed %v, want %v", g, want)
	}
	if st := status(t, s, read.Deliveries[0]); st.Status != herald.DeliveryCancelled {
		t.Fatalf("escalation of a read notification: %+v", st)
	}
}

func testClaimCancelsDeleted(t *testing.T, s OutboxStore) {
	n := withDeliveries(t, s, "alice", planned(herald.ChannelEmail, herald.DeliveryImmediate, t0))
	if _, _, err := s.DeleteNotification(ctx, "alice", n.ID); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, s, t0, 10); len(got) != 0 {
		t.Fatalf("a deleted notification's delivery was claimed: %v", ids(got))
	}
	if st := status(t, s, n.Deliveries[0]); st.Status != herald.DeliveryCancelled {
		t.Fatalf("delivery of a deleted notification: %+v", st)
	}
}

func testCancelUnread(t *testing.T, s OutboxStore) {
	esc := func() *herald.Delivery {
		return planned(herald.ChannelPush, herald.DeliveryEscalation, t0.Add(time.Hour))
	}
	a := withDeliveries(t, s, "alice", esc(), planned(herald.ChannelEmail, herald.DeliveryImmediate, t0.Add(time.Hour)))
	b := withDeliveries(t, s, "alice", esc())
	c := withDeliveries(t, s, "alice", esc())
	bob := withDeliveries(t, s, "bob", esc())
	held := withDeliveries(t, s, "alice", planned(herald.ChannelPush, herald.DeliveryEscalation, t0))
	leased := claim(t, s, t0, 10)
	if len(leased) != 1 || leased[0].ID != held.Deliveries[0].ID {
		t.Fatalf("claim = %v", ids(leased))
	}

	// Unread: nothing to cancel.
	if n, err := s.CancelUnread(ctx, "alice", a.ID, t0); err != nil || n != 0 {
		t.Fatalf("CancelUnread of an unread notification = %d, %v", n, err)
	}
	if _, _, err := s.MarkRead(ctx, "alice", a.ID, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CancelUnread(ctx, "alice", a.ID, t0); err != nil || n != 1 {
		t.Fatalf("CancelUnread(a) = %d, %v; want 1", n, err)
	}
	if st := status(t, s, a.Deliveries[1]); st.Status != herald.DeliveryPending {
		t.Fatalf("an immediate delivery was cancelled: %+v", st)
	}
	if _, _, err := s.MarkAllRead(ctx, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.MarkAllRead(ctx, "bob", t0); err != nil {
		t.Fatal(err)
	}
	// b and c go; held is leased by a worker, and bob's are bob's.
	if n, err := s.CancelUnread(ctx, "alice", "", t0.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("CancelUnread(alice, all) = %d, %v; want 2", n, err)
	}
	for _, d := range []*herald.Delivery{b.Deliveries[0], c.Deliveries[0]} {
		if st := status(t, s, d); st.Status != herald.DeliveryCancelled {
			t.Fatalf("after CancelUnread: %+v", st)
		}
	}
	if st := status(t, s, held.Deliveries[0]); st.Status != herald.DeliveryPending || st.LeaseUntil == nil {
		t.Fatalf("a leased delivery was cancelled: %+v", st)
	}
	if st := status(t, s, bob.Deliveries[0]); st.Status != herald.DeliveryPending {
		t.Fatalf("another user's delivery was cancelled: %+v", st)
	}
}

func testClaimDigest(t *testing.T, s OutboxStore) {
	t1 := t0.Add(time.Hour)
	dig := func(due time.Time) *herald.Delivery { return planned(herald.ChannelEmail, herald.DeliveryDigest, due) }
	a1 := withDeliveries(t, s, "alice", dig(t1))
	a2 := withDeliveries(t, s, "alice", dig(t1))
	withDeliveries(t, s, "alice", dig(t1.Add(time.Hour))) // the next period
	b := withDeliveries(t, s, "bob", dig(t1.Add(-time.Minute)))
	if got := claim(t, s, t1.Add(2*time.Hour), 10); len(got) != 0 {
		t.Fatalf("ClaimDeliveries took digest items: %v", ids(got))
	}
	if got, err := s.ClaimDigest(ctx, t0, lease); err != nil || len(got) != 0 {
		t.Fatalf("ClaimDigest before any is due = %v, %v", ids(got), err)
	}
	first, err := s.ClaimDigest(ctx, t1, lease)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(first); !slices.Equal(g, []string{b.Deliveries[0].ID}) {
		t.Fatalf("first digest = %v, want bob's, the most overdue", g)
	}
	second, err := s.ClaimDigest(ctx, t1, lease)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(second); !sameSet(g, []string{a1.Deliveries[0].ID, a2.Deliveries[0].ID}) {
		t.Fatalf("second digest = %v, want alice's two due items", g)
	}
	for _, d := range second {
		if d.Attempts != 1 || d.LeaseUntil == nil || d.Notification == nil || d.Notification.UserID != "alice" {
			t.Fatalf("digest item %+v", d)
		}
	}
	if got, err := s.ClaimDigest(ctx, t1, lease); err != nil || len(got) != 0 {
		t.Fatalf("third digest = %v, %v; want none", ids(got), err)
	}
	finish(t, s, first[0], herald.DeliveryResult{Status: herald.DeliverySent, At: t1})
	// A read item leaves the digest.
	if _, _, err := s.MarkRead(ctx, "alice", a1.ID, t1); err != nil {
		t.Fatal(err)
	}
	for _, d := range second {
		finish(t, s, d, herald.DeliveryResult{Status: herald.DeliveryFailed, RetryAt: t1.Add(time.Minute), At: t1})
	}
	retry, err := s.ClaimDigest(ctx, t1.Add(time.Minute), lease)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(retry); !slices.Equal(g, []string{a2.Deliveries[0].ID}) {
		t.Fatalf("retried digest = %v, want only the unread item", g)
	}
}

func testConcurrentClaims(t *testing.T, s OutboxStore) {
	const n = 60
	ns := make([]*herald.Notification, n)
	for i := range ns {
		ns[i] = newNotification(fmt.Sprintf("u%d", i%7), i)
	}
	createWith(t, s, herald.CreateOptions{Planner: &plans{all: func() herald.Plan {
		return herald.Plan{Deliveries: []*herald.Delivery{planned(herald.ChannelEmail, herald.DeliveryImmediate, t0)}}
	}}}, ns...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := s.ClaimDeliveries(ctx, t0, lease, 3)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	if len(seen) != n {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("delivery %s claimed %d times", id, c)
		}
	}
}

func testConcurrentDigestClaims(t *testing.T, s OutboxStore) {
	const users, per = 5, 4
	var ns []*herald.Notification
	for u := range users {
		for i := range per {
			ns = append(ns, newNotification(fmt.Sprintf("u%d", u), i))
		}
	}
	createWith(t, s, herald.CreateOptions{Planner: &plans{all: func() herald.Plan {
		return herald.Plan{Deliveries: []*herald.Delivery{planned(herald.ChannelEmail, herald.DeliveryDigest, t0)}}
	}}}, ns...)
	var mu sync.Mutex
	digests := map[string]int{} // user -> digests claimed
	items := 0
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := s.ClaimDigest(ctx, t0, lease)
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				digests[ds[0].UserID]++
				items += len(ds)
				for _, d := range ds {
					if d.UserID != ds[0].UserID {
						errs <- fmt.Errorf("one digest mixes users %s and %s", ds[0].UserID, d.UserID)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if items != users*per || len(digests) != users {
		t.Fatalf("claimed %d items in digests %v, want %d items, one digest per user", items, digests, users*per)
	}
	for u, c := range digests {
		if c != 1 {
			t.Fatalf("user %s's digest was split in %d claims", u, c)
		}
	}
}

func testFindDeliveries(t *testing.T, s OutboxStore) {
	var all []string
	for i := range 5 {
		n := withDeliveries(t, s, "alice", planned(herald.ChannelEmail, herald.DeliveryImmediate, t0.Add(time.Duration(i)*time.Second)))
		all = append(all, n.Deliveries[0].ID)
		time.Sleep(2 * time.Millisecond) // ids order by creation time at millisecond grain
	}
	withDeliveries(t, s, "bob", planned(herald.ChannelEmail, herald.DeliveryImmediate, t0))
	slices.Reverse(all) // newest first
	c := claim(t, s, t0, 1)[0]
	finish(t, s, c, herald.DeliveryResult{Status: herald.DeliveryDead, Error: "x", At: t0})

	find := func(f herald.DeliveryFilter) []string {
		t.Helper()
		ds, err := s.FindDeliveries(ctx, f)
		if err != nil {
			t.Fatalf("FindDeliveries(%+v): %v", f, err)
		}
		if ds == nil {
			t.Fatalf("FindDeliveries(%+v) returned nil, want an empty slice", f)
		}
		for _, d := range ds {
			if f.UserID != "" && d.UserID != f.UserID {
				t.Fatalf("FindDeliveries(%+v) returned %s's delivery", f, d.UserID)
			}
		}
		return ids(ds)
	}
	if got := find(herald.DeliveryFilter{UserID: "alice"}); !slices.Equal(got, all) {
		t.Fatalf("alice's deliveries = %v, want %v", got, all)
	}
	page1 := find(herald.DeliveryFilter{UserID: "alice", Limit: 2})
	page2 := find(herald.DeliveryFilter{UserID: "alice", Limit: 2, Before: page1[1]})
	if !slices.Equal(page1, all[:2]) || !slices.Equal(page2, all[2:4]) {
		t.Fatalf("pages %v %v, want %v %v", page1, page2, all[:2], all[2:4])
	}
	if got := find(herald.DeliveryFilter{UserID: "alice", Status: herald.DeliveryDead}); !slices.Equal(got, []string{c.ID}) {
		t.Fatalf("dead deliveries = %v, want [%s]", got, c.ID)
	}
	if got := find(herald.DeliveryFilter{UserID: "carol"}); len(got) != 0 {
		t.Fatalf("carol has %v", got)
	}
	if got := find(herald.DeliveryFilter{UserID: "bob", NotificationID: c.NotificationID}); len(got) != 0 {
		t.Fatalf("bob sees alice's delivery through its notification id: %v", got)
	}
	if got := find(herald.DeliveryFilter{NotificationID: "not-a-uuid"}); len(got) != 0 {
		t.Fatalf("a malformed notification id found %v", got)
	}
}

func testCountAndPurge(t *testing.T, s OutboxStore) {
	for i := range 6 {
		withDeliveries(t, s, "alice", planned(herald.ChannelEmail, herald.DeliveryImmediate, t0.Add(time.Duration(i)*time.Second)))
	}
	ds := claim(t, s, t0.Add(time.Minute), 4) // the first four
	finish(t, s, ds[0], herald.DeliveryResult{Status: herald.DeliverySent, At: t0})
	finish(t, s, ds[1], herald.DeliveryResult{Status: herald.DeliveryDead, Error: "x", At: t0})
	finish(t, s, ds[2], herald.DeliveryResult{Status: herald.DeliveryFailed, RetryAt: t0.Add(time.Hour), At: t0})
	finish(t, s, ds[3], herald.DeliveryResult{Status: herald.DeliveryCancelled, At: t0.Add(2 * time.Hour)})
	counts, err := s.CountDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[herald.DeliveryStatus]int{herald.DeliveryPending: 2, herald.DeliveryFailed: 1, herald.DeliveryDead: 1}
	for st, n := range want {
		if counts[st] != n {
			t.Fatalf("counts = %v, want %v", counts, want)
		}
	}
	// Purge drops finished deliveries updated before the cut: the sent and
	// dead ones, not the cancelled one finished later, nor the live ones.
	n, err := s.PurgeDeliveries(ctx, t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PurgeDeliveries = %d, %v; want 2", n, err)
	}
	left, err := s.FindDeliveries(ctx, herald.DeliveryFilter{UserID: "alice"})
	if err != nil || len(left) != 4 {
		t.Fatalf("after purge %d deliveries left (%v), want 4", len(left), err)
	}
	for _, d := range left {
		if d.ID == ds[0].ID || d.ID == ds[1].ID {
			t.Fatalf("purged delivery %s is still there", d.ID)
		}
	}
}

// sameSet reports whether a and b hold the same ids in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// testPlannerReadsPreferences: the store hands the planner each user's saved
// preferences, and push subscriptions only when the planner uses them, read
// in the create's transaction; a user without preferences gets the zero ones.
func testPlannerReadsPreferences(t *testing.T, s OutboxStore) {
	if _, err := s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error {
		p.Email = "alice@example.com"
		p.Types = map[string]map[herald.Channel]bool{"test": {herald.ChannelInApp: false}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if err := s.SavePushSubscription(ctx, subscription("alice", i)); err != nil {
			t.Fatal(err)
		}
	}
	p := &plans{push: true}
	createWith(t, s, herald.CreateOptions{Planner: p}, newNotification("alice", 1), newNotification("bob", 1), newNotification("alice", 2))
	if got := p.seen["alice"]; got == nil || got.Email != "alice@example.com" || got.Types["test"][herald.ChannelInApp] {
		t.Fatalf("the planner saw alice's preferences as %+v", got)
	}
	if got := p.seen["bob"]; got == nil || got.UserID != "bob" || got.Email != "" || got.Types != nil {
		t.Fatalf("the planner saw bob's preferences as %+v, want the zero ones", got)
	}
	if p.subs["alice"] != 2 || p.subs["bob"] != 0 || p.calls != 3 {
		t.Fatalf("the planner saw %v push subscriptions in %d calls", p.subs, p.calls)
	}
	noPush := &plans{}
	createWith(t, s, herald.CreateOptions{Planner: noPush}, newNotification("alice", 3))
	if noPush.subs["alice"] != 0 {
		t.Fatalf("a planner that does not use push was given %d subscriptions", noPush.subs["alice"])
	}
}
