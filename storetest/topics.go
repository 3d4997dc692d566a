package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TopicsStore is what the topics suite needs of a store: notifications,
// topics, and the outbox and preferences a member's copy is planned with.
type TopicsStore interface {
	OutboxStore
	herald.TopicStore
}

// RunTopics runs the topics suite, each case with its own store.
func RunTopics(t *testing.T, open func(t *testing.T) TopicsStore) {
	runCases(t, open, []suiteCase[TopicsStore]{
		{"Membership", testTopicMembership},
		{"FanOutInChunks", testTopicFanOut},
		{"IdempotentSend", testTopicIdempotentSend},
		{"EmptyTopic", testTopicEmpty},
		{"PlannedPerMember", testTopicPlannedPerMember},
		{"MembersChangingDuringFanOut", testTopicMembersChanging},
		{"ConcurrentFanOut", testTopicConcurrentFanOut},
	})
}

// users returns n user ids u000…, in order.
func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%03d", i)
	}
	return out
}

func addMembers(t *testing.T, s TopicsStore, topic string, ids []string) int {
	t.Helper()
	n, err := s.AddTopicMembers(ctx, topic, ids)
	if err != nil {
		t.Fatalf("AddTopicMembers: %v", err)
	}
	return n
}

// allMembers pages through topic's members by size.
func allMembers(t *testing.T, s TopicsStore, topic string, size int) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		page, err := s.FindTopicMembers(ctx, topic, after, size)
		if err != nil {
			t.Fatalf("FindTopicMembers: %v", err)
		}
		out = append(out, page...)
		if len(page) < size {
			return out
		}
		after = page[len(page)-1]
	}
}

// newSend stores a send of a notification titled title to topic.
func newSend(t *testing.T, s TopicsStore, topic, title, key string) *herald.TopicSend {
	t.Helper()
	send := &herald.TopicSend{Topic: topic, Notification: herald.NewNotification{Type: "trip", Title: title, Message: "m",
		Data: []byte(`{"trip":7}`), IdempotencyKey: key}}
	if _, err := s.CreateTopicSend(ctx, send); err != nil {
		t.Fatalf("CreateTopicSend: %v", err)
	}
	return send
}

// fanOutAll fans send out by chunks of size until done and returns every
// result.
func fanOutAll(t *testing.T, s TopicsStore, id string, size int, opts herald.CreateOptions) []herald.Created {
	t.Helper()
	var out []herald.Created
	for range 1000 {
		res, done, err := s.FanOutTopicSend(ctx, id, size, opts)
		if err != nil {
			t.Fatalf("FanOutTopicSend: %v", err)
		}
		if len(res) > size {
			t.Fatalf("a chunk of %d made %d copies", size, len(res))
		}
		out = append(out, res...)
		if done {
			return out
		}
	}
	t.Fatal("the fan-out never finished")
	return nil
}

func testTopicMembership(t *testing.T, s TopicsStore) {
	all := users(23)
	if n := addMembers(t, s, "trip:1", all[:15]); n != 15 {
		t.Fatalf("added %d, want 15", n)
	}
	// Adding again is idempotent; repeats within a call count once.
	if n := addMembers(t, s, "trip:1", append(all[10:], all[20], all[20])); n != 8 {
		t.Fatalf("added %d, want the 8 new ones", n)
	}
	addMembers(t, s, "trip:2", all[:3]) // another topic
	if got := allMembers(t, s, "trip:1", 4); !slices.Equal(got, all) {
		t.Fatalf("members by pages of 4 = %v, want %v", got, all)
	}
	n, err := s.RemoveTopicMembers(ctx, "trip:1", []string{all[0], all[5], "nobody", all[5]})
	if err != nil || n != 2 {
		t.Fatalf("RemoveTopicMembers = %d, %v; want the 2 members", n, err)
	}
	got := allMembers(t, s, "trip:1", 100)
	if len(got) != 21 || slices.Contains(got, all[0]) || slices.Contains(got, all[5]) {
		t.Fatalf("members after removing = %v", got)
	}
	if got := allMembers(t, s, "trip:2", 100); !slices.Equal(got, all[:3]) {
		t.Fatalf("the other topic's members = %v", got)
	}
	if got := allMembers(t, s, "nothing", 10); len(got) != 0 {
		t.Fatalf("an unknown topic has members %v", got)
	}
}

func testTopicFanOut(t *testing.T, s TopicsStore) {
	members := users(25)
	addMembers(t, s, "team", members)
	createN(t, s, members[3], 2) // a member with notifications of their own
	send := newSend(t, s, "team", "Team update", "")
	if send.ID == "" || send.Members != 25 || send.Status != herald.TopicSendPending || send.CreatedAt.IsZero() {
		t.Fatalf("stored send %+v", send)
	}
	if pending, err := s.PendingTopicSends(ctx, 10); err != nil || !slices.Equal(pending, []string{send.ID}) {
		t.Fatalf("PendingTopicSends = %v, %v", pending, err)
	}
	var committed [][]herald.Created
	var mu sync.Mutex
	opts := herald.CreateOptions{Committed: func(res []herald.Created) { mu.Lock(); committed = append(committed, res); mu.Unlock() }}

	res, done, err := s.FanOutTopicSend(ctx, send.ID, 10, opts)
	if err != nil || done || len(res) != 10 {
		t.Fatalf("first chunk = %d copies, done %v, %v", len(res), done, err)
	}
	got, err := s.FindTopicSend(ctx, "team", send.ID)
	if err != nil || got.Delivered != 10 || got.Status != herald.TopicSendPending {
		t.Fatalf("send after one chunk = %+v, %v", got, err)
	}
	res = append(res, fanOutAll(t, s, send.ID, 10, opts)...)
	if len(res) != 25 {
		t.Fatalf("the fan-out made %d copies, want 25", len(res))
	}
	mu.Lock()
	if len(committed) != 3 {
		t.Fatalf("Committed ran %d times for 3 chunks", len(committed))
	}
	mu.Unlock()
	for i, c := range res {
		n := c.Notification
		if n.UserID != members[i] || n.Title != "Team update" || string(n.Data) != `{"trip":7}` || n.Type != "trip" || c.Replayed || n.Read {
			t.Fatalf("copy %d = %+v", i, n)
		}
		want := 1
		if n.UserID == members[3] {
			want = 3
		}
		if c.Unread.Count != want || c.Unread.Version == 0 {
			t.Fatalf("copy for %s carries Unread %+v, want count %d", n.UserID, c.Unread, want)
		}
		if stored := all(t, s, n.UserID); stored[len(stored)-1].ID != n.ID {
			t.Fatalf("%s's newest notification is not the copy", n.UserID)
		}
		wantUnread(t, s, n.UserID, want)
	}
	got, err = s.FindTopicSend(ctx, "team", send.ID)
	if err != nil || got.Delivered != 25 || got.Status != herald.TopicSendDone || got.Members != 25 {
		t.Fatalf("send after the fan-out = %+v, %v", got, err)
	}
	if pending, err := s.PendingTopicSends(ctx, 10); err != nil || len(pending) != 0 {
		t.Fatalf("a done send is still pending: %v, %v", pending, err)
	}
	// A done send fans out nothing more.
	if res, done, err := s.FanOutTopicSend(ctx, send.ID, 10, opts); err != nil || !done || len(res) != 0 {
		t.Fatalf("fanning out a done send = %d, %v, %v", len(res), done, err)
	}
	if _, err := s.FindTopicSend(ctx, "other", send.ID); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("the send found under another topic: %v", err)
	}
	if _, err := s.FindTopicSend(ctx, "team", "not-an-id"); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("FindTopicSend of a malformed id = %v", err)
	}
	// Exactly a chunk's worth of members: the last chunk is empty and ends it.
	addMembers(t, s, "pair", members[:2])
	pair := newSend(t, s, "pair", "two", "")
	if res := fanOutAll(t, s, pair.ID, 2, herald.CreateOptions{}); len(res) != 2 {
		t.Fatalf("a two-member topic by chunks of two made %d copies", len(res))
	}
}

func testTopicIdempotentSend(t *testing.T, s TopicsStore) {
	addMembers(t, s, "team", users(3))
	first := newSend(t, s, "team", "once", "evt-1")
	again := &herald.TopicSend{Topic: "team", Notification: herald.NewNotification{Type: "trip", Title: "twice", IdempotencyKey: "evt-1"}}
	replayed, err := s.CreateTopicSend(ctx, again)
	if err != nil || !replayed || again.ID != first.ID || again.Notification.Title != "once" {
		t.Fatalf("a send with a known key = %+v, replayed %v, %v; want the first", again, replayed, err)
	}
	other := newSend(t, s, "other", "same key, other topic", "evt-1")
	if other.ID == first.ID {
		t.Fatal("a key of one topic replayed a send of another")
	}
	fanOutAll(t, s, first.ID, 10, herald.CreateOptions{})
	if replayed, err := s.CreateTopicSend(ctx, again); err != nil || !replayed || again.Status != herald.TopicSendDone || again.Delivered != 3 {
		t.Fatalf("a retry after the fan-out = %+v, %v, %v", again, replayed, err)
	}
	for _, u := range users(3) {
		wantUnread(t, s, u, 1)
	}
}

func testTopicEmpty(t *testing.T, s TopicsStore) {
	send := newSend(t, s, "nobody-here", "alone", "")
	if send.Members != 0 || send.Status != herald.TopicSendDone {
		t.Fatalf("a send to an empty topic = %+v, want done with 0 members", send)
	}
	if res, done, err := s.FanOutTopicSend(ctx, send.ID, 10, herald.CreateOptions{}); err != nil || !done || len(res) != 0 {
		t.Fatalf("fanning out an empty topic = %d, %v, %v", len(res), done, err)
	}
}

// testTopicPlannedPerMember: each copy is planned with its member's
// preferences, in the chunk's transaction: one member's copy is silent, one
// gets an email.
func testTopicPlannedPerMember(t *testing.T, s TopicsStore) {
	members := users(6)
	addMembers(t, s, "team", members)
	if _, err := s.UpdatePreferences(ctx, members[2], func(p *herald.Preferences) error {
		p.Email = "u002@example.com"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	send := newSend(t, s, "team", "planned", "")
	p := &planByUser{silent: members[4], email: members[2]}
	res := fanOutAll(t, s, send.ID, 4, herald.CreateOptions{Planner: p})
	for _, c := range res {
		n := c.Notification
		switch n.UserID {
		case members[4]:
			if !n.Silent || !n.Read || c.Unread.Count != 0 {
				t.Fatalf("the silent member's copy = %+v, Unread %+v", n, c.Unread)
			}
			wantUnread(t, s, n.UserID, 0)
		case members[2]:
			if len(c.Deliveries) != 1 || c.Deliveries[0].Channel != herald.ChannelEmail || c.Deliveries[0].NotificationID != n.ID {
				t.Fatalf("the emailed member's copy has deliveries %+v", c.Deliveries)
			}
			wantUnread(t, s, n.UserID, 1)
		default:
			if n.Silent || len(c.Deliveries) != 0 {
				t.Fatalf("%s's copy = %+v with %d deliveries", n.UserID, n, len(c.Deliveries))
			}
		}
	}
	if p.emails != 1 {
		t.Fatalf("the planner saw the email address %d times, want once", p.emails)
	}
}

// planByUser silences one user's copies and emails another's, when the
// store handed it their saved address.
type planByUser struct {
	silent, email string
	mu            sync.Mutex
	emails        int
}

func (p *planByUser) Plan(n *herald.NewNotification, prefs *herald.Preferences, _ herald.PushTargets, now time.Time) herald.Plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case n.UserID == p.silent:
		return herald.Plan{Silent: true}
	case n.UserID == p.email && prefs.Email != "":
		p.emails++
		return herald.Plan{Deliveries: []*herald.Delivery{{Channel: herald.ChannelEmail, Kind: herald.DeliveryImmediate, DueAt: now}}}
	}
	return herald.Plan{}
}

func (p *planByUser) UsesPush() bool { return false }

// testTopicMembersChanging: members are served in id order as their turn
// comes, so one removed before its turn gets nothing and one added after the
// cursor gets its copy.
func testTopicMembersChanging(t *testing.T, s TopicsStore) {
	members := users(10)
	addMembers(t, s, "team", members[:8])
	send := newSend(t, s, "team", "moving", "")
	if _, _, err := s.FanOutTopicSend(ctx, send.ID, 4, herald.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveTopicMembers(ctx, "team", []string{members[6]}); err != nil {
		t.Fatal(err)
	}
	addMembers(t, s, "team", members[8:])
	res := fanOutAll(t, s, send.ID, 4, herald.CreateOptions{})
	var got []string
	for _, c := range res {
		got = append(got, c.Notification.UserID)
	}
	if want := []string{members[4], members[5], members[7], members[8], members[9]}; !slices.Equal(got, want) {
		t.Fatalf("the rest of the fan-out served %v, want %v", got, want)
	}
	wantUnread(t, s, members[6], 0)
}

// testTopicConcurrentFanOut fans one send out from several goroutines at
// once, as several nodes resuming it would: each member gets one copy.
func testTopicConcurrentFanOut(t *testing.T, s TopicsStore) {
	members := users(60)
	addMembers(t, s, "crowd", members)
	send := newSend(t, s, "crowd", "everyone", "")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				res, done, err := s.FanOutTopicSend(ctx, send.ID, 7, herald.CreateOptions{})
				if err != nil {
					t.Errorf("FanOutTopicSend: %v", err)
					return
				}
				if done {
					return
				}
				if len(res) == 0 {
					time.Sleep(time.Millisecond) // another one holds the send
				}
			}
			t.Error("the fan-out never finished")
		})
	}
	wg.Wait()
	for _, u := range members {
		wantUnreadStored(t, s, u, 1)
	}
	if got, err := s.FindTopicSend(ctx, "crowd", send.ID); err != nil || got.Delivered != 60 || got.Status != herald.TopicSendDone {
		t.Fatalf("send after concurrent fan-outs = %+v, %v", got, err)
	}
}
