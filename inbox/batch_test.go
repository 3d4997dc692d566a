package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/inbox"
)

// batchRecorder is a recorder that takes batches too, and keeps their sizes.
type batchRecorder struct {
	recorder
	batches []int
}

func (r *batchRecorder) PublishBatch(ctx context.Context, ms []*herald.Message) (int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, len(ms))
	r.mu.Unlock()
	for _, m := range ms {
		r.Publish(ctx, m)
	}
	return 1, nil
}

// With a Publisher that takes batches, a create publishes each user's
// notifications and count as one batch, for the user's connections to write
// together, in the order one-by-one publishing has.
func TestCreatePublishesEachUsersMessagesAsOneBatch(t *testing.T) {
	ctx := context.Background()
	rec := &batchRecorder{}
	svc, err := inbox.New(inbox.Config{Store: newHookStore(nil), Publisher: rec, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a1"), note("bob", "b1"), note("alice", "a2")}); err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 2 || rec.batches[0] != 3 || rec.batches[1] != 2 {
		t.Fatalf("batches of %v messages, want [3 2]: alice's two notifications and count, then bob's", rec.batches)
	}
	var got []string
	for _, m := range rec.take(t) {
		s := m.to + " " + m.Type
		if m.Notification != nil {
			s += " " + m.Notification.Title
		}
		got = append(got, s)
	}
	want := []string{
		"alice notification:new a1", "alice notification:new a2", "alice notification:unread_count",
		"bob notification:new b1", "bob notification:unread_count",
	}
	if len(got) != len(want) {
		t.Fatalf("published %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("published %q, want %q", got, want)
		}
	}
}
