package herald

import (
	"context"
	"time"
)

// Channel is a way of reaching a user. The inbox itself is ChannelInApp; the
// others leave the process: a Delivery carries one notification over one of
// them.
type Channel string

// The channels.
const (
	ChannelInApp   Channel = "in_app"
	ChannelEmail   Channel = "email"
	ChannelSMS     Channel = "sms"
	ChannelPush    Channel = "push"
	ChannelWebhook Channel = "webhook"
)

// Channels lists every channel, in_app first.
var Channels = []Channel{ChannelInApp, ChannelEmail, ChannelSMS, ChannelPush, ChannelWebhook}

// Valid reports whether c is one of Channels.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// DeliveryStatus is where a Delivery stands. A delivery starts pending, goes
// to failed after an attempt that will be retried, and ends sent, dead (no
// more attempts) or cancelled (no longer wanted: read in the app before it was
// due, its notification deleted, or its contact point gone).
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliverySent      DeliveryStatus = "sent"
	DeliveryDead      DeliveryStatus = "dead"
	DeliveryCancelled DeliveryStatus = "cancelled"
)

// Final reports whether s is an end state: sent, dead or cancelled.
func (s DeliveryStatus) Final() bool {
	return s == DeliverySent || s == DeliveryDead || s == DeliveryCancelled
}

// DeliveryKind says why a Delivery was planned.
type DeliveryKind string

// The delivery kinds.
const (
	// DeliveryImmediate goes out as soon as it is due: at once, or when the
	// user's quiet hours end.
	DeliveryImmediate DeliveryKind = "immediate"
	// DeliveryEscalation goes out only if the notification is still unread
	// in the app when it falls due.
	DeliveryEscalation DeliveryKind = "escalation"
	// DeliveryDigest is one item of a user's periodic digest email: every
	// digest delivery of a user due at once goes out in one email.
	DeliveryDigest DeliveryKind = "digest"
)

// Delivery is one row of the durable outbox: one notification to be sent over
// one channel (to one push subscription, for push). Planned deliveries are
// written in the same transaction as their notification, so a notification
// never exists without its deliveries nor the other way round.
//
// Workers claim due deliveries with a lease: a claim adds one to Attempts and
// sets LeaseUntil, and only the claim with the current Attempts may record the
// outcome. A worker that dies mid-attempt leaves a lease that expires, and the
// delivery is claimed again; its ID is the idempotency key every channel
// passes on where the provider takes one, so the retry is not a second send.
type Delivery struct {
	ID             string       `json:"id"`
	NotificationID string       `json:"notificationId"`
	UserID         string       `json:"userId"`
	Type           string       `json:"type"` // the notification's type
	Channel        Channel      `json:"channel"`
	Kind           DeliveryKind `json:"kind"`
	Target         string       `json:"target,omitempty"` // the push subscription or device id, for push
	// Critical copies the notification's flag, for the providers' priority.
	Critical bool `json:"critical,omitempty"`
	// UnlessRead cancels the delivery if the notification is read before it
	// goes out: escalations, digests, and deliveries held by quiet hours.
	UnlessRead bool           `json:"unlessRead"`
	Status     DeliveryStatus `json:"status"`
	Attempts   int            `json:"attempts"`
	// DueAt is when the delivery may next be attempted.
	DueAt      time.Time  `json:"dueAt"`
	LeaseUntil *time.Time `json:"leaseUntil,omitempty"` // set while a worker holds it
	LastError  string     `json:"lastError,omitempty"`  // safe text, never a secret
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	SentAt     *time.Time `json:"sentAt,omitempty"`

	// Notification is the notification to send, filled in by the claims and
	// nil elsewhere.
	Notification *Notification `json:"-"`
}

// DeliveryResult is the outcome of one attempt, recorded by FinishDelivery.
type DeliveryResult struct {
	// Status is DeliverySent, DeliveryFailed (to be retried at RetryAt),
	// DeliveryDead or DeliveryCancelled.
	Status  DeliveryStatus
	RetryAt time.Time // for DeliveryFailed
	Error   string    // safe text for LastError
	At      time.Time // when the attempt ended
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	UserID         string // required unless NotificationID is set
	NotificationID string
	Status         DeliveryStatus // "" for every status
	Before         string         // a delivery id: return older ones (the cursor)
	Limit          int            // 0 means 50; at most 500
}

// DeliveryStore is the durable outbox. The sqlite, postgres and memory stores
// implement it; CreateNotifications writes the Deliveries of each new
// notification in the same transaction as the notification.
type DeliveryStore interface {
	// ClaimDeliveries leases up to limit deliveries due at now (pending or
	// failed, DueAt <= now, no live lease; digests excepted), oldest due
	// first: each claimed delivery gets Attempts+1, LeaseUntil now+lease and
	// its Notification. A due delivery whose notification was deleted, or
	// was read when it is UnlessRead, is cancelled instead.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Delivery, error)
	// ClaimDigest leases, the same way, every due digest delivery of one
	// user (the one whose digest is the most overdue), oldest first. Two
	// workers never hold parts of one user's digest at once. It returns none
	// when no digest is due.
	ClaimDigest(ctx context.Context, now time.Time, lease time.Duration) ([]*Delivery, error)
	// FinishDelivery records the outcome of attempt number attempt of
	// delivery id and releases its lease. It is ECONFLICT when that attempt
	// no longer holds the delivery (another claim followed an expired
	// lease, or it was cancelled) and ENOTFOUND when there is no such
	// delivery.
	FinishDelivery(ctx context.Context, id string, attempt int, r DeliveryResult) error
	// CancelUnread cancels userID's pending UnlessRead deliveries whose
	// notification is read or gone (only those of notificationID, when not
	// empty), unless a worker holds them. It returns how many it cancelled.
	CancelUnread(ctx context.Context, userID, notificationID string, at time.Time) (int, error)
	// FindDeliveries returns the deliveries f selects, newest first.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)
	// CountDeliveries returns how many deliveries are pending, failed and
	// dead, for metrics.
	CountDeliveries(ctx context.Context) (map[DeliveryStatus]int, error)
	// PurgeDeliveries deletes sent and cancelled deliveries, and dead ones,
	// last updated before before; it returns how many went.
	PurgeDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Outbound is one message a ChannelSender sends: the delivery (whose ID is
// the idempotency key), the notification (several, for a digest) and the
// contact point of its channel.
type Outbound struct {
	Delivery      *Delivery
	Notifications []*Notification
	// Digest says Notifications are the items of one digest email.
	Digest bool
	// The contact point, by channel.
	Email         string
	Phone         string
	WebhookURL    string
	WebhookSecret string
	Push          *PushSubscription
	Device        *Device
	// Unread is the user's exact unread count when the message was sent,
	// for a mobile badge (nil when it could not be read).
	Unread *int
	// TimeZone is the user's IANA time zone name ("" for UTC), for rendering
	// times.
	TimeZone string
}

// ChannelSender sends over one channel: email, SMS, web push or webhook, or
// to one mobile platform.
//
// Its errors say whether a retry may help: an *Error with code EINVALID,
// EUNPROCESSABLE, EFORBIDDEN or ENOTFOUND is permanent (the address or
// subscription is refused or gone; ENOTFOUND on push means the subscription
// expired and is removed), anything else is retried with backoff. An error
// with a RetryAfter() time.Duration method asks for a later retry.
type ChannelSender interface {
	Send(ctx context.Context, m *Outbound) error
}

// Plan is how one new notification reaches its user beyond storing it.
type Plan struct {
	// Silent says the user switched in_app off for the notification's type:
	// it is stored read and silent, so it neither counts as unread nor
	// reaches a socket, and serves only the deliveries over other channels.
	Silent bool
	// Deliveries are the outbox rows to write with the notification.
	Deliveries []*Delivery
}

// Planner plans new notifications: a pure decision from the notification,
// its user's preferences and push targets, and the time. Stores call it
// inside the transaction that stores the notification, with the preferences
// read in that transaction, so the plan and the notification are written
// together. The delivery package's Planner implements it.
type Planner interface {
	// Plan plans n for a user with preferences prefs (never nil: the zero
	// Preferences when none were saved) and push targets (browsers'
	// subscriptions and mobile devices), at now. It must not change prefs,
	// which a store may share between calls.
	Plan(n *NewNotification, prefs *Preferences, targets PushTargets, now time.Time) Plan
	// UsesPush reports whether Plan reads push targets; when false, stores
	// pass none and do not read them.
	UsesPush() bool
}
