package session

import (
	"encoding/json"

	"github.com/heraldhq/herald"
)

// inbound is a client message. Fields a type does not use are ignored, as the
// design document's server does.
type inbound struct {
	Type           string          `json:"-"`
	RawType        json.RawMessage `json:"type"`
	Channel        json.RawMessage `json:"channel"`
	NotificationID json.RawMessage `json:"notificationId"`
	Since          json.RawMessage `json:"since"`
	Payload        json.RawMessage `json:"payload"`
	Ref            json.RawMessage `json:"ref"`
	Token          json.RawMessage `json:"token"`
}

var errUnprocessable = herald.Errorf(herald.EINVALID, "Failed to process message")

// parseInbound decodes one client message. Anything but a JSON object with a
// string "type", nesting at most MaxDepth arrays and objects, is "Failed to
// process message": the depth is counted before decoding, so that the
// decoder's recursion is bounded by the protocol and not by the message size.
func parseInbound(data []byte) (*inbound, error) {
	if !isObject(data) || !WithinDepth(data, MaxDepth) {
		return nil, errUnprocessable
	}
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errUnprocessable
	}
	t, ok := stringField(m.RawType)
	if !ok {
		return nil, errUnprocessable
	}
	m.Type = t
	return &m, nil
}

// isObject reports whether data's first byte other than JSON whitespace opens
// an object.
func isObject(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// MaxDepth is how deeply a client message may nest arrays and objects,
// counting the message object itself, in every encoding. Deeper messages are
// answered "Failed to process message" before they are decoded.
const MaxDepth = 32

// WithinDepth reports whether data nests at most max arrays and objects. It
// counts brackets outside strings and validates nothing else: the decoder
// that runs next does.
func WithinDepth(data []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
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
		Reason    string `json:"reason,omitempty"` // why the server ended a subscription by itself
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

// AuthToken reads the token of a first-message auth, {"type":"auth","token":…};
// ok is false for any other message.
func AuthToken(data []byte) (token string, ok bool) {
	in, err := parseInbound(data)
	if err != nil || in.Type != herald.TypeAuth {
		return "", false
	}
	token, _ = stringField(in.Token)
	return token, true
}

// Encode renders one of the server's messages as JSON.
func Encode(v any) []byte { return encode(v) }

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("session: encoding a server message: " + err.Error()) // our own types always encode
	}
	return b
}
