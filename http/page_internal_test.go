package http

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// pageNotifications are notifications with every field set or left out,
// and text encoding/json escapes (HTML, control characters, invalid UTF-8).
func pageNotifications() []*herald.Notification {
	at := time.Date(2026, 12, 7, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	read := at.Add(time.Minute)
	return []*herald.Notification{
		{ID: "a", Seq: 3, UserID: "u", Type: "t", Title: "<b>Tom & Jerry</b>", Message: "line\nbreak \u2028 \xff", CreatedAt: at, Timestamp: at},
		{ID: "b", Seq: 2, UserID: "u", Type: "t", Title: "", Message: "m", Link: "/x?a=1&b=2", Data: json.RawMessage(` { "k" : [1, "<"] } `),
			Read: true, ReadAt: &read, CreatedAt: at, Timestamp: at},
		{ID: "c", Seq: 1, UserID: "u", Type: "t", CreatedAt: time.Time{}, Timestamp: at},
	}
}

// The page's own encoding gives json.Marshal's bytes, for every shape of
// page: empty, one, several, with and without a next cursor.
func TestNotificationPageEncodes(t *testing.T) {
	ns := pageNotifications()
	cursor := "2"
	for _, p := range []notificationPage{
		{},
		{Notifications: []*herald.Notification{}, UnreadCount: 0, UnreadVersion: 0},
		{Notifications: ns[:1], UnreadCount: 1, UnreadVersion: 9},
		{Notifications: ns, NextCursor: &cursor, UnreadCount: 12, UnreadVersion: 1 << 40},
	} {
		got, err := p.encode()
		if err != nil {
			t.Fatal(err)
		}
		if p.Notifications == nil {
			p.Notifications = []*herald.Notification{} // the answer's empty list is [], not null
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encode:\n got %s\nwant %s", got, want)
		}
	}
	bad := notificationPage{Notifications: []*herald.Notification{{ID: "y", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := bad.encode(); err == nil {
		t.Error("a time past year 9999 encoded")
	}
}

// BenchmarkNotificationPage encodes a page of 20 notifications.
func BenchmarkNotificationPage(b *testing.B) {
	var ns []*herald.Notification
	for len(ns) < 20 {
		ns = append(ns, pageNotifications()...)
	}
	p := notificationPage{Notifications: ns[:20], UnreadCount: 20, UnreadVersion: 20}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
