package client_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// TestProtocol drives the socket methods against a real server: Send,
// Subscribe and Unsubscribe with the server's answers, and what backends
// send through the server API arriving on OnRaw.
func TestProtocol(t *testing.T) {
	h := startHerald(t, nil)
	api := h.api()
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("frank", time.Hour))})
	if err := c.Send(ctxT(t, time.Second), map[string]string{"type": "ping"}); !client.IsNetwork(err) {
		t.Errorf("Send before connecting = %v, want a network_error", err)
	}
	if err := c.Connect(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctxT(t, time.Second)); err == nil {
		t.Error("a second Connect succeeded, want an error")
	}
	rec.until(t, 5*time.Second, "connected", func(r *recorder) bool { return r.connected == 1 })

	ctx := ctxT(t, 20*time.Second)
	if err := c.Send(ctx, map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	rec.until(t, 5*time.Second, "pong", func(r *recorder) bool { return r.countRawLocked("pong") == 1 })
	if err := c.Send(ctx, "not json"); err == nil {
		t.Error("Send of invalid JSON succeeded")
	}

	if err := c.Subscribe(ctx, "news"); err != nil {
		t.Fatalf("Subscribe(news) = %v", err)
	}
	err := c.Subscribe(ctx, "user:someone-else")
	if e, ok := err.(*client.Error); !ok || e.Type != client.ErrServer || e.Code != "forbidden" {
		t.Errorf("Subscribe(user:someone-else) = %v, want a forbidden server_error", err)
	}
	if err := c.Subscribe(ctx, "bad channel!"); err == nil || client.IsNetwork(err) {
		t.Errorf("Subscribe(bad channel!) = %v, want an invalid-channel error", err)
	}
	if n, err := api.SendToChannel(ctx, "news", map[string]string{"type": "headline", "text": "hello"}); err != nil || n != 1 {
		t.Fatalf("SendToChannel = %d, %v; want delivered to 1", n, err)
	}
	rec.until(t, 5*time.Second, "the channel message", func(r *recorder) bool { return r.countRawLocked("headline") == 1 })

	if err := c.Unsubscribe(ctx, "news"); err != nil {
		t.Fatalf("Unsubscribe = %v", err)
	}
	if n, err := api.SendToChannel(ctx, "news", map[string]string{"type": "headline"}); err != nil || n != 0 {
		t.Errorf("SendToChannel after Unsubscribe = %d, %v; want delivered to 0", n, err)
	}
	if n, err := api.SendToUser(ctx, "frank", map[string]string{"type": "direct"}); err != nil || n != 1 {
		t.Errorf("SendToUser = %d, %v", n, err)
	}
	if n, err := api.Broadcast(ctx, map[string]string{"type": "everyone"}, "frank"); err != nil || n != 0 {
		t.Errorf("Broadcast excluding frank = %d, %v; want 0", n, err)
	}
	if n, err := api.Broadcast(ctx, map[string]string{"type": "everyone"}, ""); err != nil || n != 1 {
		t.Errorf("Broadcast = %d, %v; want 1", n, err)
	}
	rec.until(t, 5*time.Second, "the direct and broadcast messages", func(r *recorder) bool {
		return r.countRawLocked("direct") == 1 && r.countRawLocked("everyone") == 1
	})
	if got := rec.countRaw("headline"); got != 1 {
		t.Errorf("%d headlines received, want 1 (none after Unsubscribe)", got)
	}
	st, err := api.Stats(ctx)
	if err != nil || st.TotalConnections != 1 || st.TotalUsers != 1 || st.Timestamp.IsZero() {
		t.Errorf("Stats = %+v, %v", st, err)
	}

	c.Disconnect()
	if c.State() != client.StateDisconnected {
		t.Errorf("State() after Disconnect = %s", c.State())
	}
	rec.until(t, 5*time.Second, "disconnected", func(r *recorder) bool { return len(r.disconnected) == 1 })
	rec.get(func(r *recorder) {
		if r.disconnected[0] != nil {
			t.Errorf("OnDisconnected after Disconnect got %v, want nil", r.disconnected[0])
		}
	})
	c.Disconnect() // idempotent
}

// TestInbox uses the inbox methods with the user's token and the
// notification-creating server API methods with the API key.
func TestInbox(t *testing.T) {
	h := startHerald(t, nil)
	api := h.api()
	ctx := ctxT(t, 30*time.Second)
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("grace", time.Hour))})
	if err := c.ConnectWithRetry(ctx); err != nil {
		t.Fatal(err)
	}
	one, err := api.CreateNotification(ctx, client.NewNotification{UserID: "grace", Type: "trip_update", Title: "Trip Started",
		Message: "Your driver has started the trip", Link: "/trips/123", Data: json.RawMessage(`{"tripId":"123"}`)})
	if err != nil {
		t.Fatal(err)
	}
	again, err := api.CreateNotification(ctx, client.NewNotification{UserID: "grace", Type: "t", Title: "keyed", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	replay, err := api.CreateNotification(ctx, client.NewNotification{UserID: "grace", Type: "t", Title: "keyed", IdempotencyKey: "k1"})
	if err != nil || replay.ID != again.ID {
		t.Errorf("a retried create with the same key gave %v, %v; want the first notification back", replay, err)
	}
	batch, err := api.CreateNotifications(ctx, []client.NewNotification{
		{UserID: "grace", Type: "t", Title: "b1"}, {UserID: "grace", Type: "t", Title: "b2"}})
	if err != nil || len(batch) != 2 || batch[1].Seq <= batch[0].Seq {
		t.Fatalf("CreateNotifications = %v, %v", batch, err)
	}
	evs, err := api.RaiseEvent(ctx, client.Event{Name: "booking:confirmed", Data: map[string]any{
		"userId": "grace", "vehicleName": "Tesla Model 3", "bookingId": "b-1"}})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Message, "Tesla Model 3") {
		t.Fatalf("RaiseEvent = %v, %v", evs, err)
	}
	if _, err := api.RaiseEvent(ctx, client.Event{Name: "no:such-event", Data: map[string]any{"userId": "grace"}}); err == nil {
		t.Error("RaiseEvent of an unknown event succeeded")
	} else if e := err.(*client.Error); e.Type != client.ErrServer || e.Status != 422 {
		t.Errorf("RaiseEvent of an unknown event = %v, want a 422 server_error", err)
	}
	rec.until(t, 10*time.Second, "five notifications", func(r *recorder) bool { return len(r.messages) == 5 })
	rec.get(func(r *recorder) {
		n := r.messages[0]
		if n.ID != one.ID || n.Link != "/trips/123" || string(n.Data) != `{"tripId":"123"}` || n.CreatedAt.IsZero() {
			t.Errorf("first notification = %+v, want the created one", n)
		}
	})

	if n, err := c.UnreadCount(ctx); err != nil || n != 5 {
		t.Errorf("UnreadCount = %d, %v; want 5", n, err)
	}
	page, err := c.List(ctx, client.ListOptions{Limit: 3})
	if err != nil || len(page.Notifications) != 3 || page.NextCursor == 0 || page.UnreadCount != 5 {
		t.Fatalf("List(limit 3) = %+v, %v", page, err)
	}
	rest, err := c.List(ctx, client.ListOptions{Limit: 3, Before: page.NextCursor})
	if err != nil || len(rest.Notifications) != 2 || rest.NextCursor != 0 || rest.Notifications[1].ID != one.ID {
		t.Fatalf("second page = %+v, %v", rest, err)
	}

	if err := c.MarkRead(ctx, one.ID); err != nil {
		t.Fatal(err)
	}
	rec.until(t, 5*time.Second, "notification:read", func(r *recorder) bool { return r.countRawLocked("notification:read") == 1 })
	if err := c.MarkRead(ctx, "no-such-id"); err == nil {
		t.Error("MarkRead of an unknown id succeeded")
	} else if e := err.(*client.Error); e.Code != "not_found" || e.Status != 404 {
		t.Errorf("MarkRead of an unknown id = %v, want not_found", err)
	}
	unread, err := c.List(ctx, client.ListOptions{UnreadOnly: true})
	if err != nil || len(unread.Notifications) != 4 {
		t.Errorf("List(unread) = %v, %v; want 4", unread, err)
	}
	if err := c.Delete(ctx, batch[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := c.MarkAllRead(ctx); err != nil || n != 3 {
		t.Errorf("MarkAllRead = %d, %v; want 3", n, err)
	}
	if n, err := c.UnreadCount(ctx); err != nil || n != 0 {
		t.Errorf("UnreadCount after MarkAllRead = %d, %v", n, err)
	}

	// The inbox refuses another user's token, and the server API the
	// user's token.
	other := client.NewInbox(h.httpURL(), client.StaticToken(issue(t, "wrong-secret-wrong-secret-wrong-secret", "grace", time.Hour)), nil)
	if _, err := other.UnreadCount(ctx); !client.IsAuthentication(err) {
		t.Errorf("UnreadCount with a forged token = %v, want authentication_failed", err)
	}
	userAPI, _ := client.NewAPI(client.APIConfig{URL: h.httpURL(), Auth: client.StaticToken(h.token("grace", time.Hour))})
	if _, err := userAPI.Stats(ctx); !client.IsAuthentication(err) {
		t.Errorf("Stats with a user token = %v, want authentication_failed", err)
	}
}

// TestUserMismatch: a token for another user than Options.UserID fails
// with authentication_failed, whichever way it is presented.
func TestUserMismatch(t *testing.T) {
	h := startHerald(t, nil)
	for _, mode := range []client.AuthMode{client.AuthMessage, client.AuthQuery, client.AuthHeader} {
		c, _ := newClient(t, client.Options{URL: h.wsURL(), UserID: "heidi", Auth: mode,
			TokenSource: client.StaticToken(h.token("ivan", time.Hour)), RefreshAt: -1})
		err := c.Connect(ctxT(t, 10*time.Second))
		if !client.IsAuthentication(err) {
			t.Errorf("mode %d: Connect with another user's token = %v, want authentication_failed", mode, err)
		}
		if c.State() != client.StateDisconnected {
			t.Errorf("mode %d: State() = %s", mode, c.State())
		}
	}
}

// TestDisconnectFromHandler: a handler may call Disconnect.
func TestDisconnectFromHandler(t *testing.T) {
	h := startHerald(t, nil)
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("judy", time.Hour))})
	c.OnMessage(func(client.Notification) { c.Disconnect() })
	if err := c.ConnectWithRetry(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	h.notify("judy", "bye")
	rec.until(t, 10*time.Second, "disconnected", func(r *recorder) bool { return len(r.disconnected) == 1 })
	if c.State() != client.StateDisconnected {
		t.Errorf("State() = %s", c.State())
	}
}

// TestSubscriptionsRestored: after a reconnection the client is subscribed
// to the channels it had joined.
func TestSubscriptionsRestored(t *testing.T) {
	h := startHerald(t, nil)
	api := h.api()
	c, rec := newClient(t, client.Options{URL: h.wsURL(), TokenSource: client.StaticToken(h.token("kim", time.Hour)),
		InitialBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	ctx := ctxT(t, 30*time.Second)
	if err := c.ConnectWithRetry(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "alerts"); err != nil {
		t.Fatal(err)
	}
	h.kill()
	rec.until(t, 10*time.Second, "a few reconnection attempts", func(r *recorder) bool { return len(r.reconnecting) >= 3 })
	h.restart()
	rec.until(t, 10*time.Second, "the reconnection", func(r *recorder) bool { return r.connected == 2 })
	rec.until(t, 10*time.Second, "the restored subscription", func(r *recorder) bool { return r.countRawLocked("subscribed") == 2 })
	if n, err := api.SendToChannel(ctx, "alerts", map[string]string{"type": "alert"}); err != nil || n != 1 {
		t.Fatalf("SendToChannel after the reconnection = %d, %v; want 1", n, err)
	}
	rec.until(t, 5*time.Second, "the alert", func(r *recorder) bool { return r.countRawLocked("alert") == 1 })
}

// TestHeartbeatTimeout: a link that goes silent without closing (a dead
// NAT entry) is noticed by the missing server pings, dropped and replaced.
func TestHeartbeatTimeout(t *testing.T) {
	h := startHerald(t, map[string]string{"WS_HEARTBEAT_INTERVAL": "100"})
	proxy := newBlackhole(t, h.addr())
	c, rec := newClient(t, client.Options{URL: "ws://" + proxy.addr() + "/ws", APIURL: h.httpURL(),
		TokenSource: client.StaticToken(h.token("liam", time.Hour)), HeartbeatTimeout: 600 * time.Millisecond,
		InitialBackoff: 20 * time.Millisecond})
	if err := c.ConnectWithRetry(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // longer than the timeout: the pings keep it alive
	rec.get(func(r *recorder) {
		if len(r.disconnected) != 0 {
			t.Fatalf("disconnected while the server pinged: %v", r.disconnected)
		}
	})
	proxy.Freeze()
	rec.until(t, 10*time.Second, "the disconnection", func(r *recorder) bool { return len(r.disconnected) == 1 })
	proxy.Thaw()
	rec.until(t, 10*time.Second, "the reconnection", func(r *recorder) bool { return r.connected == 2 })
	rec.get(func(r *recorder) {
		e, ok := r.disconnected[0].(*client.Error)
		if !ok || e.Type != client.ErrNetwork || !strings.Contains(e.Message, "heartbeat") {
			t.Errorf("disconnected with %v, want a network_error naming the heartbeat", r.disconnected[0])
		}
	})
}
