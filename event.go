package herald

import "context"

// Event is a domain event from a backend, such as "booking:confirmed", which
// templates turn into notifications. ID, when given, makes a redelivered event
// create nothing new.
type Event struct {
	ID   string         `json:"id,omitempty"`
	Name string         `json:"event"`
	Data map[string]any `json:"data"`
}

// EventHandler turns events into notifications and creates them, returning
// one Created per notification (Replayed for a redelivered event).
type EventHandler interface {
	HandleEvent(ctx context.Context, e *Event) ([]Created, error)
}
