package herald

import "time"

// Message types of the wire protocol (docs/protocol.md). The first group comes
// from clients, the second from the server.
const (
	TypePing        = "ping"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeMarkRead    = "mark_read"
	TypeResume      = "resume"
	TypeAuth        = "auth"         // first-message authentication, and in-band token refresh
	TypeClientNote  = "notification" // a client event for the application (design document)
	TypeCustomEvent = "custom_event" // a client event with payload.eventType (design document)

	TypeConnected          = "connected"
	TypeAuthenticated      = "authenticated" // a refreshed token was accepted
	TypeAck                = "ack"           // a client event was handed to the application
	TypePong               = "pong"
	TypeSubscribed         = "subscribed"
	TypeUnsubscribed       = "unsubscribed"
	TypeError              = "error"
	TypeNotificationNew    = "notification:new"
	TypeNotificationRead   = "notification:read"
	TypeNotificationDelete = "notification:deleted"
	TypeUnreadCount        = "notification:unread_count"
)

// TimeLayout formats wire timestamps as JavaScript's Date.toISOString does:
// UTC with milliseconds, e.g. 2025-11-10T08:15:30.123Z.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t for the wire in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
