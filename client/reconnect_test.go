package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// TestReconnectBackoffAndResume kills the server under a connected client,
// watches the backoff sequence and the reconnecting events while it is
// down, restarts it on the same port and database, creates notifications
// while the client still waits, and checks the client receives each of
// them, and every other, exactly once.
func TestReconnectBackoffAndResume(t *testing.T) {
	h := startHerald(t, nil)
	clock := newManualClock()
	c, rec := newClient(t, client.Options{
		URL:         h.wsURL(),
		TokenSource: client.StaticToken(h.token("alice", time.Hour)),
		Clock:       clock,
		Jitter:      -1, // exact delays, to compare
		RefreshAt:   -1, // the clock sees backoff waits only
	})
	if err := c.ConnectWithRetry(ctxT(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := c.State(); got != client.StateConnected {
		t.Fatalf("State() = %s after ConnectWithRetry, want connected", got)
	}
	// Every connect resumes (the first from seq 0) and ends its replay with
	// "resumed"; a notification created before that may be read by the
	// replay and come marked replayed, so each step waits for it.
	rec.until(t, 10*time.Second, "the first connect's resumed", func(r *recorder) bool { return r.countRawLocked("resumed") == 1 })
	ids := map[string]bool{}
	ids[h.notify("alice", "before the outage").ID] = true
	rec.until(t, 10*time.Second, "the first notification", func(r *recorder) bool { return len(r.messages) == 1 })

	h.kill()
	rec.until(t, 10*time.Second, "disconnected", func(r *recorder) bool { return len(r.disconnected) == 1 })
	if got := c.State(); got != client.StateReconnecting {
		t.Errorf("State() = %s while the server is down, want reconnecting", got)
	}
	if c.IsConnected() {
		t.Error("IsConnected() = true while the server is down")
	}

	// Each wait is fired at once; the dial after it fails, and the next
	// wait is twice as long, up to the 30s cap.
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	var last *clockWait
	for i, d := range want {
		w := clock.next(t)
		if w.d != d*time.Second {
			t.Fatalf("wait %d = %v, want %v (sequence so far ok up to %d)", i+1, w.d, d*time.Second, i)
		}
		rec.until(t, 10*time.Second, "the reconnecting event", func(r *recorder) bool { return len(r.reconnecting) == i+1 })
		if i < len(want)-1 {
			w.fire()
		} else {
			last = w // the client waits on this one while the server comes back
		}
	}
	rec.get(func(r *recorder) {
		for i, n := range r.reconnecting {
			if n != i+1 {
				t.Errorf("reconnecting attempts = %v, want 1, 2, 3, …", r.reconnecting)
				break
			}
		}
		for _, e := range r.errors[1:] { // the first is the lost connection
			if e.Type != client.ErrNetwork {
				t.Errorf("a failed attempt reported %v, want a network_error", e)
			}
		}
	})

	h.restart()
	for _, title := range []string{"missed 1", "missed 2", "missed 3", "missed 4", "missed 5"} {
		ids[h.notify("alice", title).ID] = true
	}
	last.fire()
	rec.until(t, 15*time.Second, "the missed notifications", func(r *recorder) bool { return len(r.messages) == 6 })
	clock.none(t)
	if got := c.State(); got != client.StateConnected {
		t.Errorf("State() = %s after the reconnection, want connected", got)
	}

	rec.until(t, 10*time.Second, "the reconnection's resumed", func(r *recorder) bool { return r.countRawLocked("resumed") == 2 })

	// Live again; then ask the server to replay everything, which a
	// client without de-duplication would hand to the application twice.
	ids[h.notify("alice", "after").ID] = true
	rec.until(t, 10*time.Second, "the live notification", func(r *recorder) bool { return len(r.messages) == 7 })
	if err := c.Send(ctxT(t, 5*time.Second), map[string]any{"type": "resume", "since": 0}); err != nil {
		t.Fatal(err)
	}
	rec.until(t, 10*time.Second, "the explicit resume's answer", func(r *recorder) bool { return r.countRawLocked("resumed") == 3 })

	rec.get(func(r *recorder) {
		if len(r.messages) != 7 {
			t.Errorf("the application saw %d notifications, want 7", len(r.messages))
		}
		seen := map[string]int{}
		for _, n := range r.messages {
			seen[n.ID]++
		}
		for id := range ids {
			if seen[id] != 1 {
				t.Errorf("notification %s seen %d times, want once", id, seen[id])
			}
		}
		for _, n := range r.messages[1:6] {
			if !n.Replayed {
				t.Errorf("notification %q created during the outage was not marked replayed", n.Title)
			}
		}
		if r.messages[0].Replayed || r.messages[6].Replayed {
			t.Error("a live notification was marked replayed")
		}
		if r.connected != 2 || len(r.disconnected) != 1 {
			t.Errorf("connected %d times and disconnected %d times, want 2 and 1", r.connected, len(r.disconnected))
		}
		if ce, ok := r.disconnected[0].(*client.Error); !ok || ce.Type != client.ErrNetwork {
			t.Errorf("disconnected with %v, want a network_error", r.disconnected[0])
		}
	})
	if c.LastSeq() != 7 {
		t.Errorf("LastSeq() = %d, want 7", c.LastSeq())
	}
}

// TestMaxAttempts: with MaxAttempts set, the client gives up after that
// many failed reconnections and ConnectWithRetry says so.
func TestMaxAttempts(t *testing.T) {
	h := startHerald(t, nil)
	h.kill()
	clock := newManualClock()
	c, rec := newClient(t, client.Options{
		URL:         h.wsURL(),
		TokenSource: client.StaticToken(h.token("bob", time.Hour)),
		Clock:       clock,
		MaxAttempts: 3,
		Since:       new(int64),
	})
	errc := make(chan error, 1)
	go func() { errc <- c.ConnectWithRetry(context.Background()) }()
	for i := 0; i < 3; i++ {
		w := clock.next(t)
		// With the default jitter of 0.2, each delay is in [0.8d, d].
		d := time.Second << i
		if w.d > d || w.d < d*8/10 {
			t.Errorf("wait %d = %v, want within [%v, %v]", i+1, w.d, d*8/10, d)
		}
		w.fire()
	}
	select {
	case err := <-errc:
		var e *client.Error
		if !asClientError(err, &e) || e.Type != client.ErrClosed {
			t.Errorf("ConnectWithRetry = %v, want a closed error after giving up", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ConnectWithRetry did not give up")
	}
	if got := c.State(); got != client.StateDisconnected {
		t.Errorf("State() = %s after giving up, want disconnected", got)
	}
	rec.get(func(r *recorder) {
		if len(r.reconnecting) != 3 {
			t.Errorf("reconnecting events %v, want 3", r.reconnecting)
		}
	})
}

// TestConnectFailsWithoutRetry: Connect makes one attempt.
func TestConnectFailsWithoutRetry(t *testing.T) {
	h := startHerald(t, nil)
	h.kill()
	clock := newManualClock()
	c, _ := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("bob", time.Hour)), Clock: clock})
	err := c.Connect(ctxT(t, 10*time.Second))
	if !client.IsNetwork(err) {
		t.Fatalf("Connect to a stopped server = %v, want a network_error", err)
	}
	clock.none(t)
	if c.State() != client.StateDisconnected {
		t.Errorf("State() = %s, want disconnected", c.State())
	}
}

func (r *recorder) countRawLocked(typ string) int {
	n := 0
	for _, m := range r.raw {
		var v struct {
			Type string `json:"type"`
		}
		if json.Unmarshal([]byte(m), &v) == nil && v.Type == typ {
			n++
		}
	}
	return n
}
