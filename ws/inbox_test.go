package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

func TestMarkReadSyncsTabs(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	tab1, _ := e.connect("alice")
	tab2, _ := e.connect("alice")
	n := notify(t, e, "alice", "hello")
	for _, tab := range []*client{tab1, tab2} {
		m := tab.readType("notification:new")
		if got := m["notification"].(map[string]any)["id"]; got != n.ID {
			t.Fatalf("notification id %v, want %s", got, n.ID)
		}
		if c := tab.readType("notification:unread_count"); c["count"] != float64(1) {
			t.Fatalf("count %v, want 1", c["count"])
		}
	}

	tab1.send(map[string]any{"type": "mark_read", "notificationId": n.ID})
	for _, tab := range []*client{tab1, tab2} {
		if m := tab.readType("notification:read"); m["notificationId"] != n.ID {
			t.Errorf("read message %v", m)
		}
		if c := tab.readType("notification:unread_count"); c["count"] != float64(0) {
			t.Errorf("count %v, want 0", c["count"])
		}
	}
	// Marking twice is harmless: no error comes back.
	tab1.send(map[string]any{"type": "mark_read", "notificationId": n.ID})
	tab1.send(map[string]any{"type": "ping"})
	if m := tab1.read(); m["type"] != "pong" {
		t.Errorf("after a second mark_read got %v, want only the pong", m)
	}
}

func TestMarkReadOfAnotherUser(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	n := notify(t, e, "alice", "private")
	mallory, _ := e.connect("mallory")
	mallory.send(map[string]any{"type": "mark_read", "notificationId": n.ID})
	if m := mallory.read(); m["type"] != "error" || m["code"] != "not_found" {
		t.Fatalf("got %v, want a not_found error", m)
	}
	if u, _ := e.inbox.UnreadCount(context.Background(), "alice"); u.Count != 1 {
		t.Fatalf("alice's unread count changed to %d", u.Count)
	}
	for _, bad := range []any{nil, 42, ""} {
		mallory.send(map[string]any{"type": "mark_read", "notificationId": bad})
		if m := mallory.read(); m["type"] != "error" || m["code"] != "invalid" {
			t.Errorf("notificationId %v: got %v", bad, m)
		}
	}
}

func TestResumeReplaysInOrder(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	var seqs []int64
	for i := range 450 { // more than two replay pages
		seqs = append(seqs, notify(t, e, "alice", fmt.Sprint(i)).Seq)
	}
	cl, hello := e.connect("alice", "since", fmt.Sprint(seqs[9]))
	if hello["unreadCount"] != float64(450) {
		t.Errorf("unreadCount %v", hello["unreadCount"])
	}
	for _, want := range seqs[10:] {
		m := cl.read()
		if m["type"] != "notification:new" || m["replayed"] != true {
			t.Fatalf("got %v, want replayed notification %d", m, want)
		}
		if got := int64(m["notification"].(map[string]any)["seq"].(float64)); got != want {
			t.Fatalf("seq %d, want %d", got, want)
		}
	}
	if m := cl.read(); m["type"] != "resumed" || m["lastSeq"] != float64(seqs[len(seqs)-1]) || m["replayed"] != float64(440) {
		t.Fatalf("got %v, want resumed", m)
	}
	// A resume message on an open connection does the same.
	cl.send(map[string]any{"type": "resume", "since": seqs[447]})
	for _, want := range seqs[448:] {
		m := cl.readType("notification:new")
		if got := int64(m["notification"].(map[string]any)["seq"].(float64)); got != want {
			t.Fatalf("seq %d, want %d", got, want)
		}
	}
	cl.readType("resumed")
}

// TestReplayWaitsForTheQueue: a replay longer than the connection's queue
// waits for the writer to drain it, batch after batch, rather than closing
// the client as too slow: each wait ends when a batch is written (a wait
// that ran out the write timeout would close the connection with 4000).
func TestReplayWaitsForTheQueue(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.QueueSize = 4 })
	var seqs []int64
	for i := range 200 {
		seqs = append(seqs, notify(t, e, "alice", fmt.Sprint(i)).Seq)
	}
	cl, _ := e.connect("alice", "since", "0")
	for _, want := range seqs {
		m := cl.read()
		if m["type"] != "notification:new" {
			t.Fatalf("got %v, want replayed notification %d", m, want)
		}
		if got := int64(m["notification"].(map[string]any)["seq"].(float64)); got != want {
			t.Fatalf("seq %d, want %d", got, want)
		}
	}
	if m := cl.read(); m["type"] != "resumed" || m["replayed"] != float64(len(seqs)) {
		t.Fatalf("got %v, want resumed", m)
	}
}

// TestResumeBoundary creates notifications while a client resumes: every
// one must arrive exactly once, in seq order, whether by replay or live.
func TestResumeBoundary(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	const before, during = 300, 300
	for i := range before {
		notify(t, e, "alice", fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range during {
			if _, err := e.inbox.Create(context.Background(), []*herald.NewNotification{{UserID: "alice", Type: "t", Title: fmt.Sprint("live", i)}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	cl, _ := e.connect("alice", "since", "0")
	var last int64
	for last < before+during {
		m := cl.read()
		if m["type"] != "notification:new" {
			continue
		}
		seq := int64(m["notification"].(map[string]any)["seq"].(float64))
		if seq != last+1 {
			t.Fatalf("got seq %d after %d: a gap or a duplicate at the replay boundary", seq, last)
		}
		last = seq
	}
	wg.Wait()
	if m, err := cl.tryRead(200 * 1e6); err == nil && m["type"] == "notification:new" {
		t.Fatalf("extra notification after the last: %v", m)
	}
}

// TestResync: notifications whose live push was lost (as in a broker outage)
// reach every connection once when the server resyncs, with or without since.
func TestResync(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	first := notify(t, e, "alice", "seen")
	live, _ := e.connect("alice")                                    // no since: live only
	resumed, _ := e.connect("alice", "since", fmt.Sprint(first.Seq)) // resumed at the latest
	resumed.readType("resumed")
	lost := []*herald.NewNotification{{UserID: "alice", Type: "t", Title: "lost 1"}, {UserID: "alice", Type: "t", Title: "lost 2"}}
	if _, err := e.store.CreateNotifications(context.Background(), lost, herald.CreateOptions{}); err != nil { // stored, never pushed
		t.Fatal(err)
	}
	e.ws.Resync()
	for _, cl := range []*client{live, resumed} {
		for _, want := range lost {
			m := cl.readType("notification:new")
			if got := m["notification"].(map[string]any)["title"]; got != want.Title {
				t.Fatalf("got %v, want %s", got, want.Title)
			}
		}
		if m := cl.readType("resumed"); m["replayed"] != float64(2) {
			t.Fatalf("resumed %v", m)
		}
	}
	e.ws.Resync() // nothing more to send
	for _, cl := range []*client{live, resumed} {
		if m := cl.read(); m["type"] != "resumed" || m["replayed"] != float64(0) {
			t.Fatalf("second resync sent %v", m)
		}
	}
}

// TestLatePublishAfterReplay: a notification committed before the replay read
// the store but published after live delivery resumed arrives once; live
// notifications no replay covered arrive even when they overtake each other,
// as publishes from different nodes may.
func TestLatePublishAfterReplay(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	res, err := e.store.CreateNotifications(context.Background(), []*herald.NewNotification{{UserID: "alice", Type: "t", Title: "committed, push delayed"}}, herald.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := []*herald.Notification{res[0].Notification}
	cl, _ := e.connect("alice", "since", "0")
	if m := cl.readType("notification:new"); m["replayed"] != true {
		t.Fatalf("got %v", m)
	}
	cl.readType("resumed")
	push := func(seq int64, title string) {
		e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Seq: seq,
			Payload: fmt.Appendf(nil, `{"type":"notification:new","notification":{"seq":%d,"title":%q}}`, seq, title)})
	}
	push(stored[0].Seq, "late duplicate")
	push(stored[0].Seq+2, "from node B")
	push(stored[0].Seq+1, "from node A, overtaken")
	for _, want := range []string{"from node B", "from node A, overtaken"} {
		m := cl.readType("notification:new")
		if got := m["notification"].(map[string]any)["title"]; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	push(stored[0].Seq+1, "duplicate of A")
	cl.send(map[string]any{"type": "ping"})
	if m := cl.read(); m["type"] != "pong" {
		t.Fatalf("got %v, want only the pong", m)
	}
}

// corruptInbox is the real inbox, except that List returns the notifications
// titled "corrupt" with data that is not JSON, as a store whose rows were
// damaged outside Herald would.
type corruptInbox struct{ herald.Inbox }

func (c corruptInbox) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	ns, err := c.Inbox.List(ctx, f)
	for i, n := range ns {
		if n.Title == "corrupt" {
			cp := *n
			cp.Data = json.RawMessage(`{"broken`)
			ns[i] = &cp
		}
	}
	return ns, err
}

// TestReplaySkipsANotificationItCannotEncode: a stored notification whose
// data cannot be encoded is left out of a replay, for every tab, while the
// notifications around it are replayed, the sessions stay open, and a later
// resume leaves it out again.
func TestReplaySkipsANotificationItCannotEncode(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.Inbox = corruptInbox{c.Inbox} })
	tabs := []*client{}
	for range 2 {
		cl, _ := e.connect("alice")
		tabs = append(tabs, cl)
	}
	lost := []*herald.NewNotification{
		{UserID: "alice", Type: "t", Title: "before"},
		{UserID: "alice", Type: "t", Title: "corrupt"},
		{UserID: "alice", Type: "t", Title: "after"},
	}
	res, err := e.store.CreateNotifications(context.Background(), lost, herald.CreateOptions{}) // stored, never pushed
	if err != nil {
		t.Fatal(err)
	}
	e.ws.Resync()
	for i, cl := range tabs {
		for _, want := range []string{"before", "after"} {
			m := cl.read()
			if m["type"] != "notification:new" || m["notification"].(map[string]any)["title"] != want {
				t.Fatalf("tab %d: got %v, want the replay of %q", i, m, want)
			}
		}
		if m := cl.read(); m["type"] != "resumed" || m["replayed"] != float64(2) || m["lastSeq"] != float64(res[2].Notification.Seq) {
			t.Fatalf("tab %d: got %v, want resumed after 2 at seq %d", i, m, res[2].Notification.Seq)
		}
	}
	live := notify(t, e, "alice", "live")
	for i, cl := range tabs {
		if m := cl.readType("notification:new"); m["notification"].(map[string]any)["seq"] != float64(live.Seq) {
			t.Fatalf("tab %d: got %v, want the live notification", i, m)
		}
	}
	tabs[1].send(map[string]any{"type": "resume", "since": res[0].Notification.Seq})
	for _, want := range []string{"after", "live"} {
		if m := tabs[1].readType("notification:new"); m["notification"].(map[string]any)["title"] != want {
			t.Fatalf("resume: got %v, want the replay of %q", m, want)
		}
	}
	if m := tabs[1].readType("resumed"); m["replayed"] != float64(2) {
		t.Fatalf("resume: got %v, want resumed after 2", m)
	}
}
