package client

import (
	"encoding/json"
	"time"
)

// Notification is one entry of a user's inbox as the server sends it, in a
// notification:new message or a REST answer.
type Notification struct {
	ID        string          `json:"id"`
	Seq       int64           `json:"seq"`
	UserID    string          `json:"userId"`
	Type      string          `json:"type"`
	Title     string          `json:"title"`
	Message   string          `json:"message"`
	Link      string          `json:"link,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Read      bool            `json:"read"`
	ReadAt    *time.Time      `json:"readAt,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	Timestamp time.Time       `json:"timestamp"`

	// Replayed is set on a notification that reached the client through a
	// resume: it was created while the client was away.
	Replayed bool `json:"-"`
}
