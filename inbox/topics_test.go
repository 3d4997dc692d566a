package inbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/memory"
)

// runTopics runs svc's fan-out until the test ends.
func runTopics(t *testing.T, svc *inbox.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitDone waits until the send is done.
func waitDone(t *testing.T, svc *inbox.Service, topic, id string) *herald.TopicSend {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		send, err := svc.TopicSend(context.Background(), topic, id)
		if err != nil {
			t.Fatal(err)
		}
		if send.Status == herald.TopicSendDone {
			return send
		}
		if time.Now().After(deadline) {
			t.Fatalf("the send is still %+v", send)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTopicSendReachesEveryMember: a send is stored before SendToTopic
// returns, then Run creates each member's copy and publishes it with the
// member's count, member after member, chunk after chunk.
func TestTopicSendReachesEveryMember(t *testing.T) {
	ctx := context.Background()
	st := memory.NewStore(memory.Config{})
	rec := &recorder{}
	// AfterCreate runs on Run's goroutine after a chunk commits, so it can
	// still be running for the last chunk when the send already reads done.
	chunks := make(chan int, 16)
	svc, err := inbox.New(inbox.Config{Store: st, Publisher: rec, TopicChunk: 4, AfterCreate: func(res []herald.Created) { chunks <- len(res) }})
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := range 10 {
		members = append(members, fmt.Sprintf("m%02d", i))
	}
	if n, err := svc.AddTopicMembers(ctx, "trip:42", members); err != nil || n != 10 {
		t.Fatalf("AddTopicMembers = %d, %v", n, err)
	}
	send, replayed, err := svc.SendToTopic(ctx, "trip:42", &herald.NewNotification{Type: "trip", Title: "Gate changed", IdempotencyKey: "gate-1"})
	if err != nil || replayed || send.Members != 10 || send.Status != herald.TopicSendPending {
		t.Fatalf("SendToTopic = %+v, %v, %v", send, replayed, err)
	}
	// Nothing is published before Run serves it; the send is durable.
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("published %d messages before the fan-out", len(msgs))
	}
	runTopics(t, svc)
	waitDone(t, svc, "trip:42", send.ID)
	var after []int
	for sum := 0; sum < len(members); {
		select {
		case n := <-chunks:
			after = append(after, n)
			sum += n
		case <-time.After(10 * time.Second):
			t.Fatalf("AfterCreate saw only chunks of %v", after)
		}
	}
	msgs := rec.take(t)
	if len(msgs) != 20 {
		t.Fatalf("published %d messages, want a notification and a count for each of 10 members", len(msgs))
	}
	for i, m := range members {
		n, c := msgs[2*i], msgs[2*i+1]
		if n.to != m || n.Type != herald.TypeNotificationNew || n.Notification.Title != "Gate changed" || n.seq != 1 {
			t.Fatalf("message %d = %+v, want %s's copy", 2*i, n, m)
		}
		if c.to != m || c.Type != herald.TypeUnreadCount || *c.Count != 1 || c.version == 0 {
			t.Fatalf("message %d = %+v, want %s's count", 2*i+1, c, m)
		}
	}
	if fmt.Sprint(after) != "[4 4 2]" {
		t.Fatalf("AfterCreate saw chunks of %v, want [4 4 2]", after)
	}
	// A retry with the key returns the send and sends nothing again.
	again, replayed, err := svc.SendToTopic(ctx, "trip:42", &herald.NewNotification{Type: "trip", Title: "Gate changed", IdempotencyKey: "gate-1"})
	if err != nil || !replayed || again.ID != send.ID || again.Delivered != 10 {
		t.Fatalf("a retried send = %+v, %v, %v", again, replayed, err)
	}
	time.Sleep(20 * time.Millisecond)
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("a retried send published %d messages", len(msgs))
	}
}

// TestTopicSendResumesOnAnotherService: a send stored by one service and
// left pending (as by a node that stopped) is fanned out by the next one
// that runs, once.
func TestTopicSendResumesOnAnotherService(t *testing.T) {
	ctx := context.Background()
	st := memory.NewStore(memory.Config{})
	first, err := inbox.New(inbox.Config{Store: st, TopicChunk: 3})
	if err != nil {
		t.Fatal(err)
	}
	first.AddTopicMembers(ctx, "team", []string{"a", "b", "c", "d", "e"})
	send, _, err := first.SendToTopic(ctx, "team", &herald.NewNotification{Type: "t", Title: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	// One chunk served by hand, then the service is gone.
	if _, done, err := st.FanOutTopicSend(ctx, send.ID, 3, herald.CreateOptions{}); err != nil || done {
		t.Fatalf("first chunk: %v, done %v", err, done)
	}
	second, err := inbox.New(inbox.Config{Store: st, TopicChunk: 3, TopicPoll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runTopics(t, second)
	if got := waitDone(t, second, "team", send.ID); got.Delivered != 5 {
		t.Fatalf("delivered %d, want 5", got.Delivered)
	}
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		if n, _ := second.UnreadCount(ctx, u); n.Count != 1 {
			t.Fatalf("%s has %d unread, want 1", u, n.Count)
		}
	}
}

// TestTopicValidation: names, members and notifications are checked before
// the store sees them.
func TestTopicValidation(t *testing.T) {
	ctx := context.Background()
	svc, err := inbox.New(inbox.Config{Store: memory.NewStore(memory.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "-lead", "has space", "slash/y", "ü", strings.Repeat("t", herald.MaxTopicLen+1)} {
		_, err := svc.AddTopicMembers(ctx, bad, []string{"a"})
		wantCode(t, err, herald.EINVALID)
		_, _, err = svc.SendToTopic(ctx, bad, &herald.NewNotification{Type: "t", Title: "x"})
		wantCode(t, err, herald.EINVALID)
	}
	for _, ok := range []string{"a", "trip:123", "team.sales", "user@example.com", "A_b-9", strings.Repeat("t", herald.MaxTopicLen)} {
		if _, err := svc.AddTopicMembers(ctx, ok, []string{"a"}); err != nil {
			t.Errorf("topic %q refused: %v", ok, err)
		}
	}
	_, err = svc.AddTopicMembers(ctx, "team", []string{"ok", "tab\tin"})
	wantCode(t, err, herald.EINVALID)
	_, err = svc.AddTopicMembers(ctx, "team", make([]string, herald.MaxTopicMembersPerCall+1))
	wantCode(t, err, herald.ETOOLARGE)
	for _, n := range []*herald.NewNotification{
		{Type: "t"},                          // no title
		{Type: "t", Title: "x", UserID: "u"}, // members are the users
		{Type: "t", Title: "x", ID: "01234567-89ab-cdef-0123-456789abcdef"}, // each copy has its own id
		{Type: "t", Title: "x", Data: []byte(`[1]`)},
	} {
		_, _, err := svc.SendToTopic(ctx, "team", n)
		wantCode(t, err, herald.EINVALID)
	}
	_, err = svc.TopicMembers(ctx, "team", "", herald.MaxTopicPage+1)
	wantCode(t, err, herald.EINVALID)
	_, err = svc.TopicSend(ctx, "team", "")
	wantCode(t, err, herald.EINVALID)
}
