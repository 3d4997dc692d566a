package inbox

import (
	"encoding/json"
	"time"

	"github.com/heraldhq/herald"
)

// The server messages the Service publishes (docs/protocol.md). Each is
// encoded once and the bytes are shared by every recipient.

type readMessage struct {
	Type           string `json:"type"`
	NotificationID string `json:"notificationId,omitempty"`
	All            bool   `json:"all,omitempty"`
	Timestamp      string `json:"timestamp"`
}

type deletedMessage struct {
	Type           string `json:"type"`
	NotificationID string `json:"notificationId"`
	Timestamp      string `json:"timestamp"`
}

type countMessageBody struct {
	Type    string `json:"type"`
	Count   int    `json:"count"`
	Version int64  `json:"version"`
}

// newNotificationMessage returns {"type":"notification:new","notification":…,"timestamp":…}
// and, apart, the notification's own JSON that the message holds, encoded
// once (checked by TestCreateEncodesEachNotificationOnce).
func newNotificationMessage(n *herald.Notification, at time.Time) (msg, notification []byte, err error) {
	notification, err = n.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	return herald.NotificationMessage(notification, herald.FormatTime(at), false), notification, nil
}

// readOneMessage returns {"type":"notification:read","notificationId":…,"timestamp":…}.
func readOneMessage(id string, at time.Time) []byte {
	return mustMarshal(readMessage{Type: herald.TypeNotificationRead, NotificationID: id, Timestamp: herald.FormatTime(at)})
}

// readAllMessage returns {"type":"notification:read","all":true,"timestamp":…}.
func readAllMessage(at time.Time) []byte {
	return mustMarshal(readMessage{Type: herald.TypeNotificationRead, All: true, Timestamp: herald.FormatTime(at)})
}

// deletedMessageFor returns {"type":"notification:deleted","notificationId":…,"timestamp":…}.
func deletedMessageFor(id string, at time.Time) []byte {
	return mustMarshal(deletedMessage{Type: herald.TypeNotificationDelete, NotificationID: id, Timestamp: herald.FormatTime(at)})
}

// countMessage returns {"type":"notification:unread_count","count":n,"version":v}.
func countMessage(u herald.Unread) []byte {
	return mustMarshal(countMessageBody{Type: herald.TypeUnreadCount, Count: u.Count, Version: u.Version})
}

// mustMarshal encodes messages made only of strings, booleans and integers,
// which cannot fail to encode.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("inbox: encoding a fixed message: " + err.Error())
	}
	return b
}
