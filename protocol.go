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

// NotificationMessage returns the notification:new message that carries
// encoded, a notification's own JSON (Notification.MarshalJSON):
// {"type":"notification:new","notification":…,"timestamp":…}, with
// "replayed":true when a replay resends it. These are the bytes json.Marshal
// gives for those fields in that order, put together around encoded rather
// than by json.Marshal, which would check and copy encoded again: that was
// as much work as encoding the notification. timestamp must need no
// escaping, as FormatTime's never does.
func NotificationMessage(encoded []byte, timestamp string, replayed bool) []byte {
	const head = `{"type":"` + TypeNotificationNew + `","notification":`
	b := make([]byte, 0, len(head)+len(encoded)+len(`,"timestamp":"","replayed":true}`)+len(timestamp))
	b = append(b, head...)
	b = append(b, encoded...)
	b = append(b, `,"timestamp":"`...)
	b = append(b, timestamp...)
	if replayed {
		return append(b, `","replayed":true}`...)
	}
	return append(b, `"}`...)
}
