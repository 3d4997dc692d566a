package inbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/inbox"
)

// recorder is a herald.Publisher that keeps every message it is given.
type recorder struct {
	mu     sync.Mutex
	msgs   []*herald.Message
	ctxErr []error // the publish context's error at each call
	fail   error   // returned by Publish when set
}

func (r *recorder) Publish(ctx context.Context, m *herald.Message) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.ctxErr = append(r.ctxErr, ctx.Err())
	return 1, r.fail
}

// take returns the messages published so far, decoded, and forgets them.
func (r *recorder) take(t *testing.T) []wire {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]wire, len(r.msgs))
	for i, m := range r.msgs {
		if m.To.Kind != herald.ToUser {
			t.Fatalf("message %d goes to audience kind %d, want ToUser", i, m.To.Kind)
		}
		if err := json.Unmarshal(m.Payload, &out[i]); err != nil {
			t.Fatalf("message %d is not JSON: %v: %s", i, err, m.Payload)
		}
		out[i].to, out[i].seq, out[i].raw = m.To.Name, m.Seq, string(m.Payload)
	}
	r.msgs, r.ctxErr = nil, nil
	return out
}

// wire is a published message as a client decodes it.
type wire struct {
	Type           string               `json:"type"`
	Notification   *herald.Notification `json:"notification"`
	NotificationID string               `json:"notificationId"`
	All            bool                 `json:"all"`
	Count          *int                 `json:"count"`
	Timestamp      string               `json:"timestamp"`

	to  string
	seq int64
	raw string
}

var clock = time.Date(2025, 11, 10, 8, 15, 30, 123_000_000, time.UTC)

const wantStamp = "2025-11-10T08:15:30.123Z"

func newService(t *testing.T) (*inbox.Service, *hookStore, *recorder) {
	t.Helper()
	st := newHookStore(nil)
	rec := &recorder{}
	svc, err := inbox.New(inbox.Config{Store: st, Publisher: rec, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, rec
}

func note(user, title string) *herald.Notification {
	return &herald.Notification{UserID: user, Type: "test", Title: title, Message: "m", Data: json.RawMessage(`{"k":1}`)}
}

func wantCode(t *testing.T, err error, code herald.ErrorCode) {
	t.Helper()
	if got := herald.CodeOf(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := inbox.New(inbox.Config{}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

func TestCreatePushesEachNewNotificationThenTheCount(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	in := []*herald.Notification{note("alice", "a1"), note("bob", "b1"), note("alice", "a2")}
	got, err := svc.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d notifications, want 3", len(got))
	}
	for i, n := range got {
		if n.ID == "" || n.Seq == 0 || n.CreatedAt.IsZero() || !n.Timestamp.Equal(n.CreatedAt) {
			t.Errorf("notification %d not stored: %+v", i, n)
		}
		if n.Title != in[i].Title {
			t.Errorf("notification %d is %q, want %q (order kept)", i, n.Title, in[i].Title)
		}
		if in[i].ID != "" || in[i].Seq != 0 {
			t.Errorf("caller's notification %d was modified: %+v", i, in[i])
		}
	}

	msgs := rec.take(t)
	var summary []string
	for _, m := range msgs {
		s := m.to + " " + m.Type
		switch m.Type {
		case herald.TypeNotificationNew:
			s += " " + m.Notification.Title
			if m.Timestamp != wantStamp {
				t.Errorf("timestamp %q, want %q", m.Timestamp, wantStamp)
			}
			if m.seq != m.Notification.Seq || m.seq == 0 {
				t.Errorf("Message.Seq %d, notification seq %d", m.seq, m.Notification.Seq)
			}
			if string(m.Notification.Data) != `{"k":1}` {
				t.Errorf("data %s", m.Notification.Data)
			}
		case herald.TypeUnreadCount:
			s += " " + strconv.Itoa(*m.Count)
			if m.seq != 0 {
				t.Errorf("count message has Seq %d", m.seq)
			}
		}
		summary = append(summary, s)
	}
	want := []string{
		"alice notification:new a1",
		"alice notification:new a2",
		"alice notification:unread_count 2",
		"bob notification:new b1",
		"bob notification:unread_count 1",
	}
	if strings.Join(summary, "\n") != strings.Join(want, "\n") {
		t.Fatalf("published:\n%s\nwant:\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	if raw := msgs[2].raw; raw != `{"type":"notification:unread_count","count":2}` {
		t.Errorf("count payload %s", raw)
	}
}

func TestCreateValidates(t *testing.T) {
	ctx := context.Background()
	svc, st, rec := newService(t)
	bad := note("alice", "")
	_, err := svc.Create(ctx, []*herald.Notification{bad})
	wantCode(t, err, herald.EINVALID)
	if msg := herald.ErrorMessage(err); msg != "title is required" {
		t.Errorf("single create error %q", msg)
	}
	_, err = svc.Create(ctx, []*herald.Notification{note("alice", "ok"), bad})
	wantCode(t, err, herald.EINVALID)
	if msg := herald.ErrorMessage(err); msg != "notifications[1]: title is required" {
		t.Errorf("batch error %q", msg)
	}
	_, err = svc.Create(ctx, []*herald.Notification{note("alice", "ok"), nil})
	wantCode(t, err, herald.EINVALID)
	big := make([]*herald.Notification, inbox.MaxBatch+1)
	for i := range big {
		big[i] = note("alice", "x")
	}
	_, err = svc.Create(ctx, big)
	wantCode(t, err, herald.ETOOLARGE)

	if n, _ := st.UnreadCount(ctx, "alice"); n != 0 {
		t.Fatalf("a refused batch stored %d notifications", n)
	}
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("a refused batch published %d messages", len(msgs))
	}
	got, err := svc.Create(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty batch: %v, %v", got, err)
	}
}

func TestCreateIdempotentPushesOnlyNewOnes(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	first := note("alice", "once")
	first.IdempotencyKey = "k1"
	a, err := svc.Create(ctx, []*herald.Notification{first})
	if err != nil {
		t.Fatal(err)
	}
	rec.take(t)

	again := note("alice", "once, retried")
	again.IdempotencyKey = "k1"
	b, err := svc.Create(ctx, []*herald.Notification{again, note("alice", "fresh")})
	if err != nil {
		t.Fatal(err)
	}
	if b[0].ID != a[0].ID || b[0].Title != "once" || !b[0].Replayed {
		t.Fatalf("replayed create returned %+v, want the stored %+v marked Replayed", b[0], a[0])
	}
	if a[0].Replayed || b[1].Replayed {
		t.Fatal("a new notification is marked Replayed")
	}
	msgs := rec.take(t)
	if len(msgs) != 2 || msgs[0].Notification == nil || msgs[0].Notification.Title != "fresh" || *msgs[1].Count != 2 {
		t.Fatalf("published %+v, want only the fresh one and count 2", msgs)
	}

	// A batch that creates nothing publishes nothing.
	if _, err := svc.Create(ctx, []*herald.Notification{again}); err != nil {
		t.Fatal(err)
	}
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("a replay published %d messages", len(msgs))
	}
}

func TestPublishFailureDoesNotFailTheChange(t *testing.T) {
	ctx := context.Background()
	st := newHookStore(nil)
	rec := &recorder{fail: errors.New("broker down")}
	var logs bytes.Buffer
	svc, err := inbox.New(inbox.Config{Store: st, Publisher: rec, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := svc.Create(ctx, []*herald.Notification{note("alice", "a")})
	if err != nil {
		t.Fatalf("Create failed on a publish failure: %v", err)
	}
	if err := svc.MarkRead(ctx, "alice", ns[0].ID); err != nil {
		t.Fatalf("MarkRead failed on a publish failure: %v", err)
	}
	if n, _ := svc.UnreadCount(ctx, "alice"); n != 0 {
		t.Fatalf("unread %d after mark read", n)
	}
	if !strings.Contains(logs.String(), "broker down") {
		t.Fatalf("publish failure not logged: %q", logs.String())
	}
}

func TestNilPublisherOnlyCommits(t *testing.T) {
	ctx := context.Background()
	svc, err := inbox.New(inbox.Config{Store: newHookStore(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := svc.Create(ctx, []*herald.Notification{note("alice", "a")})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, "alice", ns[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestPushFollowsCommitEvenIfCallerGoesAway(t *testing.T) {
	st := newHookStore(nil)
	rec := &recorder{}
	svc, err := inbox.New(inbox.Config{Store: st, Publisher: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.afterWrite = cancel // the caller leaves right after the commit
	if _, err := svc.Create(ctx, []*herald.Notification{note("alice", "a")}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 2 {
		t.Fatalf("published %d messages after the caller left, want 2", len(rec.msgs))
	}
	for i, err := range rec.ctxErr {
		if err != nil {
			t.Errorf("publish %d ran with a dead context: %v", i, err)
		}
	}
}

func TestMarkRead(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	ns, err := svc.Create(ctx, []*herald.Notification{note("alice", "a"), note("alice", "b")})
	if err != nil {
		t.Fatal(err)
	}
	rec.take(t)

	if err := svc.MarkRead(ctx, "alice", ns[0].ID); err != nil {
		t.Fatal(err)
	}
	msgs := rec.take(t)
	if len(msgs) != 2 {
		t.Fatalf("published %d messages, want 2", len(msgs))
	}
	want := `{"type":"notification:read","notificationId":"` + ns[0].ID + `","timestamp":"` + wantStamp + `"}`
	if msgs[0].raw != want {
		t.Errorf("read message %s, want %s", msgs[0].raw, want)
	}
	if msgs[1].Type != herald.TypeUnreadCount || *msgs[1].Count != 1 {
		t.Errorf("count message %s, want count 1", msgs[1].raw)
	}

	// Marking again is harmless and, since nothing changed, silent.
	if err := svc.MarkRead(ctx, "alice", ns[0].ID); err != nil {
		t.Fatalf("second MarkRead: %v", err)
	}
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("second MarkRead published %d messages", len(msgs))
	}

	wantCode(t, svc.MarkRead(ctx, "mallory", ns[1].ID), herald.ENOTFOUND)
	wantCode(t, svc.MarkRead(ctx, "alice", ""), herald.EINVALID)
	wantCode(t, svc.MarkRead(ctx, "", ns[1].ID), herald.EINVALID)
	wantCode(t, svc.MarkRead(ctx, "alice", strings.Repeat("x", inbox.MaxIDLen+1)), herald.EINVALID)
	if n, _ := svc.UnreadCount(ctx, "alice"); n != 1 {
		t.Fatalf("another user's MarkRead changed alice's count to %d", n)
	}
}

func TestMarkAllRead(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	if _, err := svc.Create(ctx, []*herald.Notification{note("alice", "a"), note("alice", "b"), note("bob", "c")}); err != nil {
		t.Fatal(err)
	}
	rec.take(t)
	n, err := svc.MarkAllRead(ctx, "alice")
	if err != nil || n != 2 {
		t.Fatalf("MarkAllRead = %d, %v; want 2", n, err)
	}
	msgs := rec.take(t)
	want := `{"type":"notification:read","all":true,"timestamp":"` + wantStamp + `"}`
	if len(msgs) != 2 || msgs[0].raw != want || *msgs[1].Count != 0 || msgs[1].to != "alice" {
		t.Fatalf("published %+v", msgs)
	}
	if n, err := svc.MarkAllRead(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("second MarkAllRead = %d, %v", n, err)
	}
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("MarkAllRead changing nothing published %d messages", len(msgs))
	}
	if n, _ := svc.UnreadCount(ctx, "bob"); n != 1 {
		t.Fatalf("bob's count %d, want 1", n)
	}
	_, err = svc.MarkAllRead(ctx, "")
	wantCode(t, err, herald.EINVALID)
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	ns, err := svc.Create(ctx, []*herald.Notification{note("alice", "a"), note("alice", "b")})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.MarkRead(ctx, "alice", ns[1].ID); err != nil {
		t.Fatal(err)
	}
	rec.take(t)

	if err := svc.Delete(ctx, "alice", ns[0].ID); err != nil {
		t.Fatal(err)
	}
	msgs := rec.take(t)
	want := `{"type":"notification:deleted","notificationId":"` + ns[0].ID + `","timestamp":"` + wantStamp + `"}`
	if len(msgs) != 2 || msgs[0].raw != want || *msgs[1].Count != 0 {
		t.Fatalf("deleting an unread one published %+v", msgs)
	}
	if err := svc.Delete(ctx, "alice", ns[1].ID); err != nil {
		t.Fatal(err)
	}
	if msgs := rec.take(t); len(msgs) != 1 || msgs[0].Type != herald.TypeNotificationDelete {
		t.Fatalf("deleting a read one published %+v, want only the deletion", msgs)
	}
	wantCode(t, svc.Delete(ctx, "alice", ns[1].ID), herald.ENOTFOUND)
	wantCode(t, svc.Delete(ctx, "alice", ""), herald.EINVALID)
}

func TestListAndUnreadCount(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	batch := make([]*herald.Notification, inbox.DefaultLimit+10)
	for i := range batch {
		batch[i] = note("alice", "n")
	}
	if _, err := svc.Create(ctx, batch); err != nil {
		t.Fatal(err)
	}
	ns, err := svc.List(ctx, herald.NotificationFilter{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != inbox.DefaultLimit {
		t.Fatalf("default page has %d notifications, want %d", len(ns), inbox.DefaultLimit)
	}
	if ns[0].Seq < ns[1].Seq || !ns[0].Timestamp.Equal(ns[0].CreatedAt) {
		t.Fatalf("page not newest first or Timestamp unset: %+v", ns[:2])
	}
	if ns, err := svc.List(ctx, herald.NotificationFilter{UserID: "alice", Limit: inbox.MaxLimit}); err != nil || len(ns) != len(batch) {
		t.Fatalf("List(limit max) = %d, %v", len(ns), err)
	}
	for _, f := range []herald.NotificationFilter{
		{UserID: ""},
		{UserID: "alice", Limit: -1},
		{UserID: "alice", Limit: inbox.MaxLimit + 1},
		{UserID: "alice", Before: -1},
		{UserID: "alice", Since: -5},
		{UserID: strings.Repeat("u", herald.MaxUserIDLen+1)},
	} {
		_, err := svc.List(ctx, f)
		wantCode(t, err, herald.EINVALID)
	}
	if n, err := svc.UnreadCount(ctx, "alice"); err != nil || n != len(batch) {
		t.Fatalf("UnreadCount = %d, %v", n, err)
	}
	_, err = svc.UnreadCount(ctx, "")
	wantCode(t, err, herald.EINVALID)
}
