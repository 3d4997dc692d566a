package inbox_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/inbox"
)

// TestConcurrentChangesConvergeOnTheCount runs rounds of concurrent changes
// for a few users and checks after each round that the count of the greatest
// version published to each user is the count in the store (a tab that keeps
// the newest version ends on the truth, in whatever order counts arrive), and
// that each user's new notifications were published in seq order. The store
// and publisher pause between steps so that goroutines overtake one another as
// much as possible.
func TestConcurrentChangesConvergeOnTheCount(t *testing.T) {
	ctx := context.Background()
	st := newHookStore(nil)
	st.afterWrite, st.afterCount = jitter, jitter
	rec := &orderRecorder{}
	svc, err := inbox.New(inbox.Config{Store: st, Publisher: rec})
	if err != nil {
		t.Fatal(err)
	}
	users := []string{"alice", "bob", "carol"}
	var (
		idsMu sync.Mutex
		ids   = map[string][]string{}
	)
	pick := func(r *rand.Rand, user string) string {
		idsMu.Lock()
		defer idsMu.Unlock()
		if len(ids[user]) == 0 {
			return "none"
		}
		return ids[user][r.IntN(len(ids[user]))]
	}
	op := func(r *rand.Rand) {
		user := users[r.IntN(len(users))]
		switch r.IntN(6) {
		case 0, 1, 2:
			batch := []*herald.NewNotification{note(user, "x")}
			if r.IntN(3) == 0 { // now and then a batch for two users
				batch = append(batch, note(users[r.IntN(len(users))], "y"))
			}
			res, err := svc.Create(ctx, batch)
			if err != nil {
				t.Error(err)
				return
			}
			idsMu.Lock()
			for _, c := range res {
				ids[c.Notification.UserID] = append(ids[c.Notification.UserID], c.Notification.ID)
			}
			idsMu.Unlock()
		case 3:
			if _, err := svc.MarkRead(ctx, user, pick(r, user)); err != nil && herald.CodeOf(err) != herald.ENOTFOUND {
				t.Error(err)
			}
		case 4:
			if _, _, err := svc.MarkAllRead(ctx, user); err != nil {
				t.Error(err)
			}
		case 5:
			if _, err := svc.Delete(ctx, user, pick(r, user)); err != nil && herald.CodeOf(err) != herald.ENOTFOUND {
				t.Error(err)
			}
		}
	}

	const rounds, workers, ops = 25, 8, 4
	for round := range rounds {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for range ops {
					op(r)
				}
			})
		}
		wg.Wait()

		last := rec.lastCounts(t)
		for _, u := range users {
			want, err := svc.UnreadCount(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := last[u]; ok && (got.Count != want.Count || got.Version != want.Version) {
				t.Fatalf("round %d: newest count published to %s is %+v, store has %+v", round, u, got, want)
			}
		}
	}
	rec.wantSeqOrder(t)
	if len(rec.lastCounts(t)) != len(users) {
		t.Fatal("some user never received a count")
	}
}

// jitter pauses for a random few microseconds, or just yields, so that
// goroutines overtake one another between a commit, the count read and the
// publish. The test does not depend on the pauses; they only make a wrong
// order likely to show.
func jitter() {
	if rand.IntN(2) == 0 {
		runtime.Gosched()
		return
	}
	time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
}

// orderRecorder records the order of publishes and pauses inside Publish.
type orderRecorder struct {
	mu   sync.Mutex
	msgs []*herald.Message
}

func (r *orderRecorder) Publish(ctx context.Context, m *herald.Message) (int, error) {
	jitter()
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return 1, nil
}

// lastCounts returns the unread count of the greatest version published to
// each user, as a client keeps it.
func (r *orderRecorder) lastCounts(t *testing.T) map[string]herald.Unread {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := map[string]herald.Unread{}
	for _, m := range r.msgs {
		var body struct {
			Type    string `json:"type"`
			Count   int    `json:"count"`
			Version int64  `json:"version"`
		}
		if err := json.Unmarshal(m.Payload, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != herald.TypeUnreadCount {
			continue
		}
		if body.Version != m.Version || body.Version == 0 {
			t.Fatalf("count message with version %d in its payload and Message.Version %d", body.Version, m.Version)
		}
		if u := (herald.Unread{Count: body.Count, Version: body.Version}); u.Newer(last[m.To.Name]) {
			last[m.To.Name] = u
		}
	}
	return last
}

// wantSeqOrder fails the test unless each user's notification:new messages
// were published in ascending seq order.
func (r *orderRecorder) wantSeqOrder(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	last := map[string]int64{}
	n := 0
	for _, m := range r.msgs {
		if m.Seq == 0 {
			continue
		}
		n++
		if m.Seq <= last[m.To.Name] {
			t.Fatalf("%s: notification seq %d published after seq %d", m.To.Name, m.Seq, last[m.To.Name])
		}
		last[m.To.Name] = m.Seq
	}
	if n == 0 {
		t.Fatal("no notification was published")
	}
}
