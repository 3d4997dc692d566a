package herald

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Notification is one entry of a user's inbox. Its Seq orders a user's
// notifications and only grows, so a client that remembers the last Seq it saw
// can ask for exactly what it missed: the inbox is the resume log.
//
// The JSON field names are those the design documents' clients read; Timestamp
// repeats CreatedAt under the name the browser client expects.
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

	// IdempotencyKey makes a retried create return the first result instead of
	// creating a second notification. It is unique per user and not exposed.
	IdempotencyKey string `json:"-"`
	// Replayed is set on a notification Inbox.Create returns when its
	// IdempotencyKey matched one stored earlier, so the call created nothing:
	// the REST API answers such a retry 200 instead of 201. It is not stored.
	Replayed bool `json:"-"`

	// Critical marks a notification that must not wait: it ignores the
	// user's quiet hours and the digest. It steers planning and is not stored.
	Critical bool `json:"-"`
	// Deliveries are the outbox rows planned for the notification over the
	// other channels (see Delivery). Store.CreateNotifications writes them in
	// the same transaction as a new notification, filling in their ID,
	// NotificationID, UserID, Type, Status and times, and returns them so; a
	// replayed notification comes back without them. Only CreateNotifications
	// reads or returns them.
	Deliveries []*Delivery `json:"-"`
}

// Limits on notification fields, enforced by Validate.
const (
	MaxUserIDLen  = 128
	MaxTypeLen    = 64
	MaxTitleLen   = 256
	MaxMessageLen = 4096
	MaxLinkLen    = 2048
	MaxDataLen    = 16 << 10
	MaxKeyLen     = 128
)

// Validate reports the first field of n that breaks its limits, as an EINVALID
// or ETOOLARGE *Error naming the field.
func (n *Notification) Validate() error {
	switch {
	case n.UserID == "":
		return Errorf(EINVALID, "userId is required")
	case !ValidUserID(n.UserID):
		return CheckUserID("userId", n.UserID)
	case n.Type == "":
		return Errorf(EINVALID, "type is required")
	case len(n.Type) > MaxTypeLen:
		return Errorf(EINVALID, "type is longer than %d bytes", MaxTypeLen)
	case n.Title == "":
		return Errorf(EINVALID, "title is required")
	case len(n.Title) > MaxTitleLen:
		return Errorf(EINVALID, "title is longer than %d bytes", MaxTitleLen)
	case len(n.Message) > MaxMessageLen:
		return Errorf(EINVALID, "message is longer than %d bytes", MaxMessageLen)
	case len(n.Link) > MaxLinkLen:
		return Errorf(EINVALID, "link is longer than %d bytes", MaxLinkLen)
	case len(n.Data) > MaxDataLen:
		return Errorf(ETOOLARGE, "data is larger than %d bytes", MaxDataLen)
	case len(n.IdempotencyKey) > MaxKeyLen:
		return Errorf(EINVALID, "idempotency key is longer than %d bytes", MaxKeyLen)
	}
	for _, f := range []struct{ name, v string }{
		{"type", n.Type}, {"title", n.Title}, {"message", n.Message},
		{"link", n.Link}, {"idempotency key", n.IdempotencyKey},
	} {
		if !utf8.ValidString(f.v) || strings.IndexByte(f.v, 0) >= 0 {
			return Errorf(EINVALID, "%s must be UTF-8 text without NUL bytes", f.name)
		}
	}
	if len(n.Data) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(n.Data, &obj); err != nil || obj == nil {
			return Errorf(EINVALID, "data must be a JSON object")
		}
	}
	return nil
}

// NotificationFilter selects a page of a user's notifications, newest first
// unless Since is set.
type NotificationFilter struct {
	UserID     string
	UnreadOnly bool
	// Before returns notifications with Seq < Before (0: from the newest).
	Before int64
	// Since returns notifications with Seq > Since in ascending order; it is the
	// resume query, and it overrides Before.
	Since int64
	// Ascending asks for the resume query even when Since is 0 (everything,
	// oldest first); Since > 0 implies it.
	Ascending bool
	Limit     int // 0 means a default of 50
}

// Store persists notifications. Implementations: sqlite (the default) and
// postgres. They share one test suite in storetest.
type Store interface {
	// CreateNotifications stores ns in one transaction, assigning ID (when
	// empty), Seq and CreatedAt. A notification whose IdempotencyKey was seen
	// before for its user is replaced by the stored one and not created again;
	// created reports which were new.
	CreateNotifications(ctx context.Context, ns []*Notification) (created []bool, err error)
	// MarkRead marks one of userID's notifications read. Another user's id is
	// ENOTFOUND. Marking twice is not an error; changed says whether it was unread.
	MarkRead(ctx context.Context, userID, id string, at time.Time) (changed bool, err error)
	// MarkAllRead marks all of userID's notifications read and returns how many changed.
	MarkAllRead(ctx context.Context, userID string, at time.Time) (int, error)
	// DeleteNotification removes one of userID's notifications; ENOTFOUND otherwise.
	// wasUnread says whether the unread count moved.
	DeleteNotification(ctx context.Context, userID, id string) (wasUnread bool, err error)
	// FindNotifications returns a page selected by f.
	FindNotifications(ctx context.Context, f NotificationFilter) ([]*Notification, error)
	// UnreadCount returns the exact number of userID's unread notifications.
	UnreadCount(ctx context.Context, userID string) (int, error)
	// Close releases the store's resources.
	Close() error
}

// Inbox is the notification service the transports use: it persists through a
// Store and then tells the user's connections, so pushes always follow commits.
type Inbox interface {
	// Create stores ns and returns the stored notifications in order; one whose
	// IdempotencyKey was seen before comes back as first stored, with Replayed set.
	Create(ctx context.Context, ns []*Notification) ([]*Notification, error)
	MarkRead(ctx context.Context, userID, id string) error
	MarkAllRead(ctx context.Context, userID string) (int, error)
	Delete(ctx context.Context, userID, id string) error
	List(ctx context.Context, f NotificationFilter) ([]*Notification, error)
	UnreadCount(ctx context.Context, userID string) (int, error)
}
