package herald

import (
	"context"
	"encoding/json"
	"time"
)

// ClientEvent is a message a connected client sends for the application
// rather than for Herald: the design document's {"type":"notification",
// "payload":…} and {"type":"custom_event","payload":{"eventType":…}}. Herald
// never delivers it to other users itself; the application decides.
type ClientEvent struct {
	ID         string          `json:"id"`   // assigned by Herald and acknowledged to the client
	Type       string          `json:"type"` // "notification" or "custom_event"
	EventType  string          `json:"eventType,omitempty"`
	UserID     string          `json:"userId"` // the authenticated sender, never taken from the payload
	Payload    json.RawMessage `json:"payload"`
	ReceivedAt time.Time       `json:"receivedAt"`
}

// ClientEventSink hands client events to the application: a backend URL, or a
// Redis stream. Accept returns once the event is durably handed over; an error
// is reported to the client, who may retry.
type ClientEventSink interface {
	Accept(ctx context.Context, e *ClientEvent) error
}
