package ws_test

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
)

// countMsg is a versioned unread count message for alice.
func countMsg(count int, version int64) *herald.Message {
	return &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Latest: true, Version: version,
		Payload: fmt.Appendf(nil, `{"type":"notification:unread_count","count":%d,"version":%d}`, count, version)}
}

// TestCountVersionsNeverGoBack: a count older than one the connection was
// already given, queued or sent, is dropped, as counts published by several
// nodes may arrive out of order; "connected" carries the version of its count.
func TestCountVersionsNeverGoBack(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	// Two notifications, so that the greeting's version is at least 2 and
	// the stale one below (version-1) is versioned: 0 means unversioned.
	notify(t, e, "alice", "zero")
	n := notify(t, e, "alice", "one")
	cl, hello := e.connect("alice")
	if hello["unreadCount"] != float64(2) || hello["unreadVersion"] == nil || hello["unreadVersion"].(float64) < 2 {
		t.Fatalf("connected = %v, want unreadCount 2 with its version", hello)
	}
	v := int64(hello["unreadVersion"].(float64))

	// Older than the greeting's: dropped. Then newer ones, out of order.
	for _, m := range []*herald.Message{countMsg(9, v-1), countMsg(5, v+2), countMsg(4, v+1), countMsg(5, v+2), countMsg(7, v+4), countMsg(6, v+3)} {
		e.hub.Deliver(m)
	}
	cl.send(map[string]any{"type": "ping"})
	var got []int64
	for {
		m := cl.read()
		if m["type"] == "pong" {
			break
		}
		if m["type"] != "notification:unread_count" {
			t.Fatalf("got %v", m)
		}
		got = append(got, int64(m["version"].(float64)))
	}
	if len(got) == 0 || got[len(got)-1] != v+4 {
		t.Fatalf("versions received %v, want them to end on %d", got, v+4)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("versions received %v: one went back", got)
		}
	}
	for _, g := range got {
		if g == v-1 || g == v+1 || g == v+3 {
			t.Fatalf("versions received %v include a stale one", got)
		}
	}

	// A real change now has a smaller version than the fake ones above: its
	// read message arrives, its count does not.
	if _, err := e.inbox.MarkRead(t.Context(), "alice", n.ID); err != nil {
		t.Fatal(err)
	}
	if m := cl.readType(herald.TypeNotificationRead); m["notificationId"] != n.ID {
		t.Fatalf("read message %v", m)
	}
	cl.send(map[string]any{"type": "ping"})
	if m := cl.read(); m["type"] != "pong" {
		t.Fatalf("a stale message reached the client: %v", m)
	}
}
