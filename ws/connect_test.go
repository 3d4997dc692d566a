package ws_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// readCountingInbox is the real inbox, counting the reads a connect makes.
type readCountingInbox struct {
	herald.Inbox
	unread, list atomic.Int64
}

func (r *readCountingInbox) UnreadCount(ctx context.Context, user string) (herald.Unread, error) {
	r.unread.Add(1)
	return r.Inbox.UnreadCount(ctx, user)
}

func (r *readCountingInbox) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	r.list.Add(1)
	return r.Inbox.List(ctx, f)
}

// TestConnectIsOneStoreRead: a connect without since costs one store round
// trip — the unread count with its version and last seq, which also gives
// the connection its resume point — and no notification query.
func TestConnectIsOneStoreRead(t *testing.T) {
	counting := &readCountingInbox{}
	e := newEnv(t, hub.Config{}, func(c *ws.Config) {
		counting.Inbox = c.Inbox
		c.Inbox = counting
	})
	notify(t, e, "alice", "one")
	const n = 10
	for i := range n {
		_, hello := e.connect(fmt.Sprint("u", i%3))
		if hello["unreadCount"] == nil {
			t.Fatalf("connected without its unread count: %v", hello)
		}
	}
	if u, l := counting.unread.Load(), counting.list.Load(); u != n || l != 0 {
		t.Fatalf("%d connects made %d unread reads and %d notification queries, want %d and 0", n, u, l, n)
	}
}
