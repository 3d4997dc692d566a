package apns

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Payload is the JSON an app receives: Apple's aps dictionary and Herald's
// keys beside it, which the app reads to open the notification.
type Payload struct {
	APS        APS    `json:"aps"`
	ID         string `json:"id"`
	Seq        string `json:"seq,omitempty"`
	Link       string `json:"link,omitempty"`
	DeliveryID string `json:"deliveryId"`
}

// APS is the aps dictionary of an alert.
type APS struct {
	Alert    Alert  `json:"alert"`
	Badge    *int   `json:"badge,omitempty"`
	Sound    string `json:"sound,omitempty"`
	ThreadID string `json:"thread-id,omitempty"`
}

// Alert is the visible part of a notification.
type Alert struct {
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
}

// alertPayload encodes m's notification, shortening the body when the
// payload would pass MaxPayload.
func alertPayload(m *herald.Outbound) ([]byte, error) {
	n := m.Notifications[0]
	p := Payload{
		APS:        APS{Alert: Alert{Title: n.Title, Body: n.Message}, Badge: m.Unread, Sound: "default", ThreadID: n.Type},
		ID:         n.ID,
		Link:       n.Link,
		DeliveryID: m.Delivery.ID,
	}
	if n.Seq > 0 {
		p.Seq = strconv.FormatInt(n.Seq, 10)
	}
	b, err := json.Marshal(p)
	for err == nil && len(b) > MaxPayload && p.APS.Alert.Body != "" {
		body := p.APS.Alert.Body
		cut := max(len(body)-(len(b)-MaxPayload)-8, 0)
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		if cut == 0 {
			p.APS.Alert.Body = ""
		} else {
			p.APS.Alert.Body = body[:cut] + "…"
		}
		b, err = json.Marshal(p)
	}
	if err == nil && len(b) > MaxPayload {
		return nil, herald.Errorf(herald.EUNPROCESSABLE, "the notification is too large for an APNs payload")
	}
	return b, err
}
