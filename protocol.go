package herald

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
