package fcm

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Message is an FCM HTTP v1 message, the fields Herald sets.
type Message struct {
	Token        string            `json:"token"`
	Notification *Notification     `json:"notification,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Android      *Android          `json:"android,omitempty"`
	APNs         *APNs             `json:"apns,omitempty"`
}

// Notification is the visible part of a message.
type Notification struct {
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
}

// Android is the Android-specific part of a message.
type Android struct {
	CollapseKey  string               `json:"collapse_key,omitempty"`
	Priority     string               `json:"priority"` // HIGH or NORMAL
	TTL          string               `json:"ttl"`
	Notification *AndroidNotification `json:"notification,omitempty"`
}

// AndroidNotification carries the badge count and the channel's tag.
type AndroidNotification struct {
	Tag               string `json:"tag,omitempty"`
	NotificationCount *int   `json:"notification_count,omitempty"`
}

// APNs is the part of a message FCM passes to APNs for iOS devices.
type APNs struct {
	Headers map[string]string `json:"headers,omitempty"`
	Payload map[string]any    `json:"payload,omitempty"`
}

// alertMessage is the message of m's notification.
func alertMessage(m *herald.Outbound, life time.Duration) *Message {
	n := m.Notifications[0]
	prio, apnsPrio := "NORMAL", "5"
	if m.Delivery.Critical || m.Delivery.Kind == herald.DeliveryEscalation {
		prio, apnsPrio = "HIGH", "10"
	}
	data := map[string]string{"id": n.ID, "type": n.Type, "deliveryId": m.Delivery.ID}
	if n.Seq > 0 {
		data["seq"] = strconv.FormatInt(n.Seq, 10)
	}
	if n.Link != "" {
		data["link"] = n.Link
	}
	aps := map[string]any{"thread-id": n.Type}
	if m.Unread != nil {
		aps["badge"] = *m.Unread
	}
	return &Message{
		Token:        m.Device.Token,
		Notification: &Notification{Title: clip(n.Title, 256), Body: clip(n.Message, 2048)},
		Data:         data,
		Android: &Android{CollapseKey: n.ID, Priority: prio, TTL: ttl(life),
			Notification: &AndroidNotification{Tag: n.Type, NotificationCount: m.Unread}},
		APNs: &APNs{Headers: map[string]string{"apns-priority": apnsPrio, "apns-collapse-id": n.ID}, Payload: map[string]any{"aps": aps}},
	}
}

// badgeMessage is a data-only message that carries the new count.
func badgeMessage(d *herald.Device, unread int, life time.Duration) *Message {
	return &Message{
		Token:   d.Token,
		Data:    map[string]string{"type": "herald.badge", "unread": strconv.Itoa(unread)},
		Android: &Android{CollapseKey: "herald-badge", Priority: "NORMAL", TTL: ttl(life)},
		APNs: &APNs{Headers: map[string]string{"apns-priority": "5", "apns-push-type": "background"},
			Payload: map[string]any{"aps": map[string]any{"badge": unread, "content-available": 1}}},
	}
}

// clip shortens s to at most n bytes at a rune boundary, marking the cut,
// so a message stays under FCM's 4 KB payload.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
