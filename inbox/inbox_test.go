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
		out[i].to, out[i].seq, out[i].raw, out[i].version = m.To.Name, m.Seq, string(m.Payload), m.Version
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
	Version        int64                `json:"version"`
	Timestamp      string               `json:"timestamp"`

	to      string
	seq     int64
	raw     string
	version int64 // Message.Version
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

func note(user, title string) *herald.NewNotification {
	return &herald.NewNotification{UserID: user, Type: "test", Title: title, Message: "m", Data: json.RawMessage(`{"k":1}`)}
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
	in := []*herald.NewNotification{note("alice", "a1"), note("bob", "b1"), note("alice", "a2")}
	res, err := svc.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d notifications, want 3", len(res))
	}
	for i, c := range res {
		n := c.Notification
		if c.Replayed {
			t.Errorf("notification %d is marked Replayed", i)
		}
		if n.ID == "" || n.Seq == 0 || n.CreatedAt.IsZero() || !n.Timestamp.Equal(n.CreatedAt) {
			t.Errorf("notification %d not stored: %+v", i, n)
		}
		if n.Title != in[i].Title {
			t.Errorf("notification %d is %q, want %q (order kept)", i, n.Title, in[i].Title)
		}
		if in[i].ID != "" {
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
			if m.version == 0 || m.version != m.Version {
				t.Errorf("count message has Message.Version %d and version %d in its payload", m.version, m.Version)
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
	if raw, want := msgs[2].raw, `{"type":"notification:unread_count","count":2,"version":`+strconv.FormatInt(res[2].Unread.Version, 10)+`}`; raw != want {
		t.Errorf("count payload %s, want %s", raw, want)
	}
	if res[0].Unread != res[2].Unread || res[0].Unread.Count != 2 || res[1].Unread.Count != 1 {
		t.Errorf("Unread of the results: %+v, %+v, %+v", res[0].Unread, res[1].Unread, res[2].Unread)
	}
}

func TestCreateValidates(t *testing.T) {
	ctx := context.Background()
	svc, st, rec := newService(t)
	bad := note("alice", "")
	_, err := svc.Create(ctx, []*herald.NewNotification{bad})
	wantCode(t, err, herald.EINVALID)
	if msg := herald.ErrorMessage(err); msg != "title is required" {
		t.Errorf("single create error %q", msg)
	}
	_, err = svc.Create(ctx, []*herald.NewNotification{note("alice", "ok"), bad})
	wantCode(t, err, herald.EINVALID)
	if msg := herald.ErrorMessage(err); msg != "notifications[1]: title is required" {
		t.Errorf("batch error %q", msg)
	}
	_, err = svc.Create(ctx, []*herald.NewNotification{note("alice", "ok"), nil})
	wantCode(t, err, herald.EINVALID)
	big := make([]*herald.NewNotification, inbox.MaxBatch+1)
	for i := range big {
		big[i] = note("alice", "x")
	}
	_, err = svc.Create(ctx, big)
	wantCode(t, err, herald.ETOOLARGE)

	if u, _ := st.UnreadCount(ctx, "alice"); u.Count != 0 {
		t.Fatalf("a refused batch stored %d notifications", u.Count)
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
	a, err := svc.Create(ctx, []*herald.NewNotification{first})
	if err != nil {
		t.Fatal(err)
	}
	rec.take(t)

	again := note("alice", "once, retried")
	again.IdempotencyKey = "k1"
	b, err := svc.Create(ctx, []*herald.NewNotification{again, note("alice", "fresh")})
	if err != nil {
		t.Fatal(err)
	}
	if b[0].Notification.ID != a[0].Notification.ID || b[0].Notification.Title != "once" || !b[0].Replayed {
		t.Fatalf("replayed create returned %+v, want the stored %+v marked Replayed", b[0], a[0])
	}
	if b[0].Unread != (herald.Unread{}) {
		t.Errorf("a replay carries Unread %+v, want none", b[0].Unread)
	}
	if a[0].Replayed || b[1].Replayed {
		t.Fatal("a new notification is marked Replayed")
	}
	msgs := rec.take(t)
	if len(msgs) != 2 || msgs[0].Notification == nil || msgs[0].Notification.Title != "fresh" || *msgs[1].Count != 2 {
		t.Fatalf("published %+v, want only the fresh one and count 2", msgs)
	}

	// A batch that creates nothing publishes nothing.
	if _, err := svc.Create(ctx, []*herald.NewNotification{again}); err != nil {
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
	ns, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a")})
	if err != nil {
		t.Fatalf("Create failed on a publish failure: %v", err)
	}
	if _, err := svc.MarkRead(ctx, "alice", ns[0].Notification.ID); err != nil {
		t.Fatalf("MarkRead failed on a publish failure: %v", err)
	}
	if u, _ := svc.UnreadCount(ctx, "alice"); u.Count != 0 {
		t.Fatalf("unread %d after mark read", u.Count)
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
	ns, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, "alice", ns[0].Notification.ID); err != nil {
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
	if _, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a")}); err != nil {
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
	res, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a"), note("alice", "b")})
	if err != nil {
		t.Fatal(err)
	}
	rec.take(t)
	ids := []string{res[0].Notification.ID, res[1].Notification.ID}

	u, err := svc.MarkRead(ctx, "alice", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if u.Count != 1 || u.Version <= res[0].Unread.Version {
		t.Errorf("MarkRead returned %+v after the create's %+v; want count 1 and a greater version", u, res[0].Unread)
	}
	msgs := rec.take(t)
	if len(msgs) != 2 {
		t.Fatalf("published %d messages, want 2", len(msgs))
	}
	want := `{"type":"notification:read","notificationId":"` + ids[0] + `","timestamp":"` + wantStamp + `"}`
	if msgs[0].raw != want {
		t.Errorf("read message %s, want %s", msgs[0].raw, want)
	}
	if msgs[1].Type != herald.TypeUnreadCount || *msgs[1].Count != 1 || msgs[1].Version != u.Version || msgs[1].version != u.Version {
		t.Errorf("count message %s (version %d), want count 1 version %d", msgs[1].raw, msgs[1].version, u.Version)
	}

	// Marking again is harmless and, since nothing changed, silent.
	if u, err := svc.MarkRead(ctx, "alice", ids[0]); err != nil || u != (herald.Unread{}) {
		t.Fatalf("second MarkRead: %+v, %v", u, err)
	}
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("second MarkRead published %d messages", len(msgs))
	}

	for _, c := range []struct {
		user, id string
		code     herald.ErrorCode
	}{
		{"mallory", ids[1], herald.ENOTFOUND},
		{"alice", "", herald.EINVALID},
		{"", ids[1], herald.EINVALID},
		{"alice", strings.Repeat("x", inbox.MaxIDLen+1), herald.EINVALID},
	} {
		_, err := svc.MarkRead(ctx, c.user, c.id)
		wantCode(t, err, c.code)
	}
	if u, _ := svc.UnreadCount(ctx, "alice"); u.Count != 1 {
		t.Fatalf("another user's MarkRead changed alice's count to %d", u.Count)
	}
}

func TestMarkAllRead(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	if _, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a"), note("alice", "b"), note("bob", "c")}); err != nil {
		t.Fatal(err)
	}
	rec.take(t)
	n, u, err := svc.MarkAllRead(ctx, "alice")
	if err != nil || n != 2 || u.Count != 0 || u.Version == 0 {
		t.Fatalf("MarkAllRead = %d, %+v, %v; want 2 and count 0", n, u, err)
	}
	msgs := rec.take(t)
	want := `{"type":"notification:read","all":true,"timestamp":"` + wantStamp + `"}`
	if len(msgs) != 2 || msgs[0].raw != want || *msgs[1].Count != 0 || msgs[1].Version != u.Version || msgs[1].to != "alice" {
		t.Fatalf("published %+v", msgs)
	}
	if n, u, err := svc.MarkAllRead(ctx, "alice"); err != nil || n != 0 || u != (herald.Unread{}) {
		t.Fatalf("second MarkAllRead = %d, %+v, %v", n, u, err)
	}
	if msgs := rec.take(t); len(msgs) != 0 {
		t.Fatalf("MarkAllRead changing nothing published %d messages", len(msgs))
	}
	if u, _ := svc.UnreadCount(ctx, "bob"); u.Count != 1 {
		t.Fatalf("bob's count %d, want 1", u.Count)
	}
	_, _, err = svc.MarkAllRead(ctx, "")
	wantCode(t, err, herald.EINVALID)
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	res, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "a"), note("alice", "b")})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{res[0].Notification.ID, res[1].Notification.ID}
	if _, err := svc.MarkRead(ctx, "alice", ids[1]); err != nil {
		t.Fatal(err)
	}
	rec.take(t)

	u, err := svc.Delete(ctx, "alice", ids[0])
	if err != nil || u.Count != 0 || u.Version == 0 {
		t.Fatalf("Delete of an unread one = %+v, %v", u, err)
	}
	msgs := rec.take(t)
	want := `{"type":"notification:deleted","notificationId":"` + ids[0] + `","timestamp":"` + wantStamp + `"}`
	if len(msgs) != 2 || msgs[0].raw != want || *msgs[1].Count != 0 || msgs[1].Version != u.Version {
		t.Fatalf("deleting an unread one published %+v", msgs)
	}
	if u, err := svc.Delete(ctx, "alice", ids[1]); err != nil || u != (herald.Unread{}) {
		t.Fatalf("Delete of a read one = %+v, %v", u, err)
	}
	if msgs := rec.take(t); len(msgs) != 1 || msgs[0].Type != herald.TypeNotificationDelete {
		t.Fatalf("deleting a read one published %+v, want only the deletion", msgs)
	}
	_, err = svc.Delete(ctx, "alice", ids[1])
	wantCode(t, err, herald.ENOTFOUND)
	_, err = svc.Delete(ctx, "alice", "")
	wantCode(t, err, herald.EINVALID)
}

func TestListAndUnreadCount(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	batch := make([]*herald.NewNotification, inbox.DefaultLimit+10)
	for i := range batch {
		batch[i] = note("alice", "n")
	}
	res, err := svc.Create(ctx, batch)
	if err != nil {
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
	u, err := svc.UnreadCount(ctx, "alice")
	if err != nil || u.Count != len(batch) || u.Version != res[0].Unread.Version || u.LastSeq != int64(len(batch)) {
		t.Fatalf("UnreadCount = %+v, %v; want count %d, the create's version %d and last seq %d", u, err, len(batch), res[0].Unread.Version, len(batch))
	}
	_, err = svc.UnreadCount(ctx, "")
	wantCode(t, err, herald.EINVALID)
}

// silencer plans notifications titled "quiet" silent, as a user who switched
// in_app off for them.
type silencer struct{}

func (silencer) Plan(n *herald.NewNotification, _ *herald.Preferences, _ herald.PushTargets, _ time.Time) herald.Plan {
	return herald.Plan{Silent: n.Title == "quiet"}
}

func (silencer) UsesPush() bool { return false }

// TestSilentNotificationIsNotPushed: a notification planned silent is
// stored read and publishes only a seq marker (no payload, so connections
// record the seq and send nothing), and no count unless one that shows came
// with it.
func TestSilentNotificationIsNotPushed(t *testing.T) {
	ctx := context.Background()
	st := newHookStore(nil)
	rec := &recorder{}
	svc, err := inbox.New(inbox.Config{Store: st, Publisher: rec, Planner: silencer{}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Create(ctx, []*herald.NewNotification{note("alice", "quiet")})
	if err != nil {
		t.Fatal(err)
	}
	if n := res[0].Notification; !n.Silent || !n.Read {
		t.Fatalf("stored %+v, want silent and read", n)
	}
	rec.mu.Lock()
	msgs := rec.msgs
	rec.msgs = nil
	rec.mu.Unlock()
	if len(msgs) != 1 || msgs[0].Seq != res[0].Notification.Seq || len(msgs[0].Payload) != 0 {
		t.Fatalf("a silent create published %+v, want one seq marker", msgs)
	}
	res, err = svc.Create(ctx, []*herald.NewNotification{note("alice", "quiet"), note("alice", "loud")})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	msgs = rec.msgs
	rec.mu.Unlock()
	if len(msgs) != 3 || msgs[0].Seq != res[0].Notification.Seq || len(msgs[0].Payload) != 0 {
		t.Fatalf("a mixed create published %d messages, the first %+v; want the marker first", len(msgs), msgs[0])
	}
	rec.mu.Lock()
	rec.msgs = msgs[1:]
	rec.mu.Unlock()
	got := rec.take(t)
	if got[0].Type != herald.TypeNotificationNew || got[0].Notification.Title != "loud" || got[1].Type != herald.TypeUnreadCount || *got[1].Count != 1 {
		t.Fatalf("a mixed create published %+v, want the loud one and count 1", got)
	}
	if u, _ := svc.UnreadCount(ctx, "alice"); u.Count != 1 {
		t.Fatalf("unread = %d, want 1", u.Count)
	}
}

// TestCreateEncodesEachNotificationOnce: a new notification is encoded once;
// its message is made around those bytes and is byte for byte what encoding
// the whole message gives (escaping included), and the result carries the
// same bytes in Encoded for the API's answer. A replay carries none.
func TestCreateEncodesEachNotificationOnce(t *testing.T) {
	ctx := context.Background()
	svc, _, rec := newService(t)
	n := note("alice", "<b>Tom & Jerry</b> \u2028 é \u0007")
	n.Link = "/a?b=1&c=<2>"
	n.IdempotencyKey = "k"
	res, err := svc.Create(ctx, []*herald.NewNotification{n, note("bob", "plain")})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	msgs := rec.msgs
	rec.mu.Unlock()
	for i, c := range res {
		want, err := json.Marshal(c.Notification)
		if err != nil {
			t.Fatal(err)
		}
		if cap(c.Encoded) != len(c.Encoded) {
			t.Errorf("result %d: Encoded has room to grow (%d of %d): an answer's newline would be appended in place", i, len(c.Encoded), cap(c.Encoded))
		}
		if !bytes.Equal(c.Encoded, want) {
			t.Errorf("result %d: Encoded %s, want %s", i, c.Encoded, want)
		}
		var payload []byte
		for _, m := range msgs {
			if m.Seq == c.Notification.Seq && m.To.Name == c.Notification.UserID {
				payload = m.Payload
			}
		}
		whole, err := json.Marshal(struct {
			Type         string               `json:"type"`
			Notification *herald.Notification `json:"notification"`
			Timestamp    string               `json:"timestamp"`
		}{herald.TypeNotificationNew, c.Notification, wantStamp})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(payload, whole) {
			t.Errorf("result %d: message\n%s\nwant\n%s", i, payload, whole)
		}
	}
	again, err := svc.Create(ctx, []*herald.NewNotification{n})
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Replayed || again[0].Encoded != nil {
		t.Errorf("a replay: Replayed %v, Encoded %s; want true and none", again[0].Replayed, again[0].Encoded)
	}
}
