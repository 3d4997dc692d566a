package ws_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// stalledInbox is the real inbox with List and MarkRead held until the
// caller's context ends: a store call that does not come back, to see
// whether the connection's end cancels it. Every other method is the real
// one.
type stalledInbox struct {
	herald.Inbox
	entered chan struct{} // a List call is waiting
	ended   chan error    // the context error it ended with
}

func (s *stalledInbox) List(ctx context.Context, _ herald.NotificationFilter) ([]*herald.Notification, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return nil, ctx.Err()
}

func (s *stalledInbox) MarkRead(ctx context.Context, _, _ string) (herald.Unread, error) {
	_, err := s.List(ctx, herald.NotificationFilter{})
	return herald.Unread{}, err
}

func stalledEnv(t *testing.T, mod func(*ws.Config)) (*env, *stalledInbox) {
	st := &stalledInbox{entered: make(chan struct{}, 1), ended: make(chan error, 1)}
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		st.Inbox = c.Inbox
		c.Inbox = st
		if mod != nil {
			mod(c)
		}
	})
	return e, st
}

// resumeUntilStore sends a resume from the start and waits until its replay
// is in the store, as entered tells.
func resumeUntilStore(t *testing.T, cl *client, entered <-chan struct{}) {
	t.Helper()
	cl.send(map[string]any{"type": "resume", "since": 0})
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("resume never read the store")
	}
}

// waitCancelled asserts that the stalled store call ended by cancellation,
// long before its store timeout (10s) would have ended it.
func waitCancelled(t *testing.T, st *stalledInbox) {
	t.Helper()
	select {
	case err := <-st.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the stalled store call ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled store call still running after its connection ended")
	}
}

// TestReplayEndsWithItsConnection: a client that vanishes while its resume
// waits on the store is terminated by the heartbeat, and that cancels the
// store read instead of leaving it to run out its timeout.
func TestReplayEndsWithItsConnection(t *testing.T) {
	e, st := stalledEnv(t, func(c *ws.Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	cl, _ := e.connect("alice")
	resumeUntilStore(t, cl, st.entered)
	cl.c.CloseNow() // gone without a close frame; nobody answers pings
	waitCancelled(t, st)
}

// TestShutdownCancelsReplays: Shutdown ends a replay waiting on the store at
// once, and the connection then closes with 1001 well within Shutdown's
// deadline.
func TestShutdownCancelsReplays(t *testing.T) {
	e, st := stalledEnv(t, nil)
	cl, _ := e.connect("alice")
	resumeUntilStore(t, cl, st.entered)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		done <- e.ws.Shutdown(ctx)
	}()
	waitCancelled(t, st)
	if code, _ := cl.closeCode(); code != 1001 {
		t.Fatalf("closed with %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// failingInbox is the real inbox whose first failures List calls fail as a
// store outage would.
type failingInbox struct {
	herald.Inbox
	failures atomic.Int64
}

func (f *failingInbox) List(ctx context.Context, nf herald.NotificationFilter) ([]*herald.Notification, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, herald.Errorf(herald.EINTERNAL, "store unavailable")
	}
	return f.Inbox.List(ctx, nf)
}

// TestReplayRetriesInsteadOfClosing: a replay whose store reads fail a few
// times retries them, counts each retry, and completes on the same
// connection.
func TestReplayRetriesInsteadOfClosing(t *testing.T) {
	failing := &failingInbox{}
	failing.failures.Store(2)
	metrics := ws.NewMetrics()
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		failing.Inbox = c.Inbox
		c.Inbox = failing
		c.Metrics = metrics
	})
	n := notify(t, e, "alice", "missed")
	cl, _ := e.connect("alice")
	cl.send(map[string]any{"type": "resume", "since": 0})
	m := cl.readType("notification:new")
	if m["notification"].(map[string]any)["id"] != n.ID {
		t.Fatalf("got %v", m)
	}
	if m := cl.readType("resumed"); m["replayed"] != float64(1) {
		t.Fatalf("resumed %v", m)
	}
	if got := counterValue(t, metrics, "herald_ws_replay_retries_total"); got != 2 {
		t.Fatalf("herald_ws_replay_retries_total = %v, want 2", got)
	}
	cl.send(map[string]any{"type": "ping"})
	cl.readType("pong")
}

// counterValue gathers m and returns the counter called name.
func counterValue(t *testing.T, m *ws.Metrics, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestMarkReadEndsWithItsConnection: a mark_read waiting on the store is
// cancelled when its connection ends, as a replay's reads are, though the
// store call's context is not derived from the session's.
func TestMarkReadEndsWithItsConnection(t *testing.T) {
	e, st := stalledEnv(t, func(c *ws.Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	cl, _ := e.connect("alice")
	cl.send(map[string]any{"type": "mark_read", "notificationId": "n1"})
	select {
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("mark_read never reached the store")
	}
	cl.c.CloseNow() // gone without a close frame; nobody answers pings
	waitCancelled(t, st)
}

// gatedInbox is the real inbox whose List calls wait until open is closed.
type gatedInbox struct {
	herald.Inbox
	entered chan struct{}
	open    chan struct{}
}

func (g *gatedInbox) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	g.entered <- struct{}{}
	<-g.open
	return g.Inbox.List(ctx, f)
}

// TestCountsHeldDuringAReplayCoalesce: unread counts (Latest messages) that
// arrive while a replay waits on the store replace each other among the held
// messages, as in the queue, instead of filling the held limit (4 × the queue)
// and closing a client that did nothing wrong; the newest is sent after the
// replay.
func TestCountsHeldDuringAReplayCoalesce(t *testing.T) {
	g := &gatedInbox{entered: make(chan struct{}, 1), open: make(chan struct{})}
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		g.Inbox = c.Inbox
		c.Inbox = g
		c.QueueSize = 8
	})
	cl, _ := e.connect("alice")
	resumeUntilStore(t, cl, g.entered)
	const n = 1000
	for i := 1; i <= n; i++ {
		m := &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Latest: true, Version: int64(i),
			Payload: fmt.Appendf(nil, `{"type":"notification:unread_count","count":%d}`, i)}
		if e.hub.Deliver(m) != 1 {
			t.Fatalf("count %d refused during the replay", i)
		}
	}
	close(g.open)
	for {
		m := cl.read()
		if m["type"] == "notification:unread_count" && m["count"] == float64(n) {
			return
		}
	}
}
