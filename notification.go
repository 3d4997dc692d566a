package herald

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Notification is one entry of a user's inbox, as stored. Its Seq orders a
// user's notifications and only grows, so a client that remembers the last Seq
// it saw can ask for exactly what it missed: the inbox is the resume log.
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
	// Silent marks a notification its user does not see in the app (in_app
	// switched off for its type): it was stored read, for the deliveries
	// over other channels that refer to it, and is never pushed, replayed or
	// listed.
	Silent bool `json:"-"`
}

// NewNotification is a request to create one notification: what a backend
// sends, what an event template renders. It is apart from Notification, the
// stored entity, so that what a caller may set (no Seq, no read state) is all
// it can set. Inbox.Create validates it once, where it enters the inbox; the
// stores take it as valid.
type NewNotification struct {
	// ID, when set, is the notification's id (a UUID); empty makes a new one.
	ID      string          `json:"id,omitempty"`
	UserID  string          `json:"userId"`
	Type    string          `json:"type"`
	Title   string          `json:"title"`
	Message string          `json:"message"`
	Link    string          `json:"link,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	// IdempotencyKey makes a retry return the first notification instead of
	// creating a second one; it is unique per user.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Critical marks a notification that must not wait: it ignores the
	// user's quiet hours and the digest. It steers planning and is not stored.
	Critical bool `json:"critical,omitempty"`
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
func (n *NewNotification) Validate() error {
	switch {
	case n.ID != "" && !validID(n.ID):
		return Errorf(EINVALID, "id must be a UUID")
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
	if len(n.Data) > 0 && !isJSONObject(n.Data) {
		return Errorf(EINVALID, "data must be a JSON object")
	}
	return nil
}

// isJSONObject reports whether data is valid JSON whose value is an object.
func isJSONObject(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(data)
}

// validID reports whether id is a UUID in a form ParseID accepts.
func validID(id string) bool {
	_, err := ParseID(id)
	return err == nil
}

// Unread is a user's unread count as one change left it, with the version
// that orders it among the user's other counts. Stores keep both in one row
// per user and change them in the transaction of every change that moves the
// count, so Version grows with every such change, in commit order, whichever
// node committed it. A client that keeps the count of the greatest Version it
// has seen ends on the user's current count, in whatever order the counts
// reach it.
type Unread struct {
	Count int `json:"count"`
	// Version is 0 for a user who never had a notification, and grows by at
	// least one with each change of the count.
	Version int64 `json:"version"`
	// LastSeq is the greatest Seq ever given to one of the user's
	// notifications (0 for none): the resume point of a client that has seen
	// everything. It is filled in by UnreadCount.
	LastSeq int64 `json:"-"`
}

// Newer reports whether u is a later state than v: a greater Version.
func (u Unread) Newer(v Unread) bool { return u.Version > v.Version }

// Created is the outcome of creating one notification.
type Created struct {
	// Notification is the notification as stored.
	Notification *Notification
	// Replayed says its IdempotencyKey matched a notification stored
	// earlier, which Notification then is: the call created nothing, and the
	// REST API answers such a retry 200 instead of 201.
	Replayed bool
	// Deliveries are the outbox rows written with a new notification, with
	// their ID, NotificationID, UserID, Type, Status and times filled in; a
	// replay has none.
	Deliveries []*Delivery
	// Unread is the user's count as the create's transaction left it; the
	// zero Unread for a replay.
	Unread Unread
	// Encoded is Notification as JSON, encoded once for its notification:new
	// message (which holds the same bytes) so that an answer can reuse it;
	// nil when no message was made (a replay, a silent notification). Its
	// capacity is its length, so that appending to it copies.
	Encoded json.RawMessage
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
	// WithSilent includes silent notifications, which pages leave out: a
	// resume reads them to know their seqs were used, and sends none.
	WithSilent bool
	Limit      int // 0 means a default of 50
}

// Store persists notifications. Implementations: sqlite (the default) and
// postgres. They share one test suite in storetest.
type Store interface {
	// CreateNotifications stores ns, which Inbox.Create has validated, in one
	// transaction, assigning ID (when empty), Seq and CreatedAt, and returns one
	// Created per notification, in order. A notification whose IdempotencyKey
	// was seen before for its user is not created again: its Created holds the
	// stored one, Replayed. With opts.Planner, each new notification's
	// deliveries are planned from its user's preferences, read in the same
	// transaction, and written with it, and one planned Silent is stored read
	// and silent: it does not count as unread. Each new one's Created carries
	// its user's Unread as the transaction left it. ns is only read. When
	// opts.Committed is set, it is called once the transaction has committed
	// and before CreateNotifications returns (see CreateOptions).
	CreateNotifications(ctx context.Context, ns []*NewNotification, opts CreateOptions) ([]Created, error)
	// MarkRead marks one of userID's notifications read. Another user's id is
	// ENOTFOUND. Marking twice is not an error; changed says whether it was
	// unread, and then u is the count the change left.
	MarkRead(ctx context.Context, userID, id string, at time.Time) (u Unread, changed bool, err error)
	// MarkAllRead marks all of userID's notifications read and returns how
	// many changed and, when any did, the count the change left.
	MarkAllRead(ctx context.Context, userID string, at time.Time) (int, Unread, error)
	// DeleteNotification removes one of userID's notifications; ENOTFOUND
	// otherwise. wasUnread says whether the unread count moved, and then u is
	// the count the change left.
	DeleteNotification(ctx context.Context, userID, id string) (u Unread, wasUnread bool, err error)
	// FindNotifications returns a page selected by f.
	FindNotifications(ctx context.Context, f NotificationFilter) ([]*Notification, error)
	// UnreadCount returns userID's exact unread count, its version and the
	// user's LastSeq, from one read.
	UnreadCount(ctx context.Context, userID string) (Unread, error)
	// Close releases the store's resources.
	Close() error
}

// CreateOptions are the settings of one Store.CreateNotifications call.
type CreateOptions struct {
	// Planner, when set, plans each new notification's deliveries from its
	// user's preferences inside the create's transaction; a notification it
	// plans Silent is stored read and silent. Nil plans nothing: every
	// notification shows in the app and nothing leaves by other channels.
	Planner Planner
	// Committed, when set, is called with the results once they are
	// committed: the slice the call then returns, so that what Committed
	// fills in (the inbox's Created.Encoded) is in the results. Stores call
	// it in commit order: of two creates that touch
	// one user, the one that committed first (whose seqs and Unread.Version
	// are smaller) is handed over first, whichever caller wakes first. It
	// runs where the store orders its commits (under a lock, or on its
	// writer), so it must not block: the inbox only queues the messages to
	// publish, in the order they must leave.
	Committed func([]Created)
}

// Inbox is the notification service the transports use: it persists through a
// Store and then tells the user's connections, so pushes always follow commits.
// Each change returns the user's Unread as it left it.
type Inbox interface {
	// Create validates ns, stores them and returns one Created per
	// notification, in order; one whose IdempotencyKey was seen before comes
	// back as first stored, Replayed.
	Create(ctx context.Context, ns []*NewNotification) ([]Created, error)
	// MarkRead marks one notification read; marking a read one again
	// changes nothing and returns the zero Unread.
	MarkRead(ctx context.Context, userID, id string) (Unread, error)
	// MarkAllRead marks every unread notification read and says how many.
	MarkAllRead(ctx context.Context, userID string) (int, Unread, error)
	// Delete removes one notification; the Unread is zero unless it was unread.
	Delete(ctx context.Context, userID, id string) (Unread, error)
	List(ctx context.Context, f NotificationFilter) ([]*Notification, error)
	UnreadCount(ctx context.Context, userID string) (Unread, error)
}
