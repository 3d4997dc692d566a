package ws_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// countingInbox is the real inbox, counting the List calls replays make and
// the most that ran at once.
type countingInbox struct {
	herald.Inbox
	calls, running, peak atomic.Int64
}

func (c *countingInbox) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	c.calls.Add(1)
	n := c.running.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	defer c.running.Add(-1)
	time.Sleep(time.Millisecond) // a store round trip, so that reads overlap when unbounded
	return c.Inbox.List(ctx, f)
}

// TestMassResyncIsBounded: after a broker outage, a resync of 5,000
// connections (1,000 users with 5 tabs each) reads the store once per user,
// never more than MaxReplays reads at once, closes no socket, and gets every
// lost notification to every tab once, followed by "resumed".
func TestMassResyncIsBounded(t *testing.T) {
	users, tabs := 1000, 5
	if testing.Short() {
		users = 100
	}
	const maxReplays = 4
	counting := &countingInbox{}
	e := newEnv(t, hub.Config{MaxConnections: users*tabs + 10, MaxPerUser: tabs}, func(c *ws.Config) {
		counting.Inbox = c.Inbox
		c.Inbox = counting
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
		c.MaxReplays = maxReplays
		c.ResyncJitter = 500 * time.Millisecond
	})
	conns := make([]*rfcConn, 0, users*tabs)
	for u := range users {
		user := fmt.Sprint("u", u)
		tok := e.token(user)
		for range tabs {
			c := rfcDial(t, e.urlFor(user, tok), nil)
			c.nextType("connected")
			conns = append(conns, c)
		}
	}
	// The outage: one notification per user stored, its push lost.
	for u := range users {
		lost := []*herald.NewNotification{{UserID: fmt.Sprint("u", u), Type: "t", Title: "lost"}}
		if _, err := e.store.CreateNotifications(context.Background(), lost, herald.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	counting.calls.Store(0)
	e.ws.Resync()

	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i := 0; i < len(conns); i += 100 { // read in parallel batches
		wg.Add(1)
		go func(cs []*rfcConn) {
			defer wg.Done()
			for _, c := range cs {
				if err := expectResynced(c); err != nil {
					errs <- err
					return
				}
			}
		}(conns[i:min(i+100, len(conns))])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := e.hub.Stats().TotalConnections; got != users*tabs {
		t.Fatalf("%d connections left of %d: the resync closed some", got, users*tabs)
	}
	if got := counting.calls.Load(); got != int64(users) {
		t.Errorf("%d store reads for %d users' resync, want one per user", got, users)
	}
	if got := counting.peak.Load(); got > maxReplays {
		t.Errorf("%d store reads ran at once, want at most %d", got, maxReplays)
	}
	t.Logf("%d connections resynced with %d store reads, at most %d at once", len(conns), counting.calls.Load(), counting.peak.Load())
}

// expectResynced reads the lost notification and then "resumed" from c.
func expectResynced(c *rfcConn) error {
	var got []string
	for len(got) < 2 {
		m, err := c.readMessage(20 * time.Second)
		if err != nil {
			return fmt.Errorf("after %v: %w", got, err)
		}
		v, err := m.obj()
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprint(v["type"]))
		if v["type"] == "resumed" && v["replayed"] != float64(1) {
			return fmt.Errorf("resumed %v, want replayed 1", v)
		}
	}
	if got[0] != "notification:new" || got[1] != "resumed" {
		return fmt.Errorf("got %v, want a notification:new then resumed", got)
	}
	return nil
}

// TestMassResumeLeavesLiveWorkAlone: while a mass resync waits its turn at
// the store, a notification created for a user outside it (a POST) is
// stored and delivered live at once: bounded replays leave the store and the
// hub to the live work.
func TestMassResumeLeavesLiveWorkAlone(t *testing.T) {
	users := 500
	if testing.Short() {
		users = 100
	}
	counting := &countingInbox{}
	slow := &slowInbox{countingInbox: counting, delay: 20 * time.Millisecond}
	e := newEnv(t, hub.Config{MaxConnections: users + 10}, func(c *ws.Config) {
		counting.Inbox = c.Inbox
		c.Inbox = slow
		c.ConnectRate, c.ConnectBurst = 1e6, 1e6
		c.MaxReplays = 2
		c.ResyncJitter = -1 // all at once: the most pressure
	})
	conns := make([]*rfcConn, 0, users)
	for u := range users {
		user := fmt.Sprint("u", u)
		c := rfcDial(t, e.urlFor(user, e.token(user)), nil)
		c.nextType("connected")
		conns = append(conns, c)
	}
	counting.calls.Store(0)
	e.ws.Resync() // users×20ms of store reads, two at a time: seconds of work queued

	bob, _ := e.connect("bob") // not part of the resync
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.inbox.Create(ctx, []*herald.NewNotification{{UserID: "bob", Type: "t", Title: "live"}}); err != nil {
		t.Fatalf("creating a notification during the mass resync: %v", err)
	}
	m := bob.readType("notification:new")
	if done := counting.calls.Load(); done >= int64(users) {
		t.Fatalf("the live notification waited for the whole resync (%d of %d replays read)", done, users)
	}
	if m["replayed"] == true {
		t.Fatalf("got %v, want a live notification", m)
	}
	for i, c := range conns { // the whole resync takes seconds: wait for it
		for {
			m, err := c.readMessage(60 * time.Second)
			if err != nil {
				t.Fatalf("connection %d waiting for resumed: %v", i, err)
			}
			if v, _ := m.obj(); v["type"] == "resumed" {
				break
			}
		}
	}
}

// slowInbox adds a store's round trip to each replay read.
type slowInbox struct {
	*countingInbox
	delay time.Duration
}

func (s *slowInbox) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	time.Sleep(s.delay)
	return s.countingInbox.List(ctx, f)
}
