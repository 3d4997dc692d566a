package ws

import (
	"encoding/json"
	"strings"

	"github.com/heraldhq/herald"
)

// inbound is a client message. Fields a type does not use are ignored, as the
// design document's server does.
type inbound struct {
	Type           string          `json:"type"`
	Channel        json.RawMessage `json:"channel"`
	NotificationID json.RawMessage `json:"notificationId"`
	Since          json.RawMessage `json:"since"`
	Payload        json.RawMessage `json:"payload"`
	Ref            json.RawMessage `json:"ref"`
}

// parseInbound decodes one client message. The message must be a JSON object
// with a string "type"; anything else is "Failed to process message".
func parseInbound(data []byte) (*inbound, error) {
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, herald.Errorf(herald.EINVALID, "Failed to process message")
	}
	if strings.TrimSpace(string(data))[0] != '{' {
		return nil, herald.Errorf(herald.EINVALID, "Failed to process message")
	}
	return &m, nil
}

// stringField decodes a field that must be a JSON string; missing, null and
// other types report ok=false.
func stringField(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// intField decodes a field that must be a non-negative JSON integer.
func intField(raw json.RawMessage) (int64, bool) {
	var n int64
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// The server's messages. Timestamps are strings in herald.TimeLayout.
type (
	connectedMsg struct {
		Type          string `json:"type"`
		UserID        string `json:"userId"`
		Timestamp     string `json:"timestamp"`
		UnreadCount   *int   `json:"unreadCount,omitempty"`
		UnreadVersion int64  `json:"unreadVersion,omitempty"` // the version of unreadCount
	}
	stampedMsg struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
	}
	channelMsg struct {
		Type      string `json:"type"`
		Channel   string `json:"channel"`
		Timestamp string `json:"timestamp"`
	}
	errorMsg struct {
		Type    string           `json:"type"`
		Message string           `json:"message"`
		Code    herald.ErrorCode `json:"code,omitempty"`
		Channel string           `json:"channel,omitempty"`
		Ref     string           `json:"ref,omitempty"`
	}
	ackMsg struct {
		Type      string `json:"type"`
		ID        string `json:"id"`
		Ref       string `json:"ref,omitempty"`
		Timestamp string `json:"timestamp"`
	}
	notificationMsg struct {
		Type         string               `json:"type"`
		Notification *herald.Notification `json:"notification"`
		Timestamp    string               `json:"timestamp"`
		Replayed     bool                 `json:"replayed,omitempty"`
	}
	resumedMsg struct {
		Type      string `json:"type"`
		Since     int64  `json:"since"`
		LastSeq   int64  `json:"lastSeq"`
		Replayed  int    `json:"replayed"`
		Timestamp string `json:"timestamp"`
	}
)

// TypeResumed ends a replay: every missed notification has been sent, and
// what follows is live.
const TypeResumed = "resumed"

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("ws: encoding a server message: " + err.Error()) // our own types always encode
	}
	return b
}
