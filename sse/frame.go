package sse

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
)

// heartbeat is the comment a stream sends at each heartbeat interval, so that
// proxies and clients see traffic on an idle stream.
var heartbeat = []byte(": heartbeat\n\n")

// event renders one SSE event: the event name, the id when not "", and data
// split into data: lines at line breaks (JSON from the server has none
// outside strings, but a backend's payload may be indented).
func event(name, id string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(name)+len(id)+24)
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, '\n')
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		b = append(b, "data: "...)
		b = append(b, data[:i]...)
		b = append(b, '\n')
		data = data[i+1:]
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}

// head is what a server message says about itself that the event's name
// and id come from.
type head struct {
	Type         string `json:"type"`
	LastSeq      int64  `json:"lastSeq"`
	Notification struct {
		Seq int64 `json:"seq"`
	} `json:"notification"`
}

// describe returns the event name and id of a server message: its type, and
// the notification's seq (notification:new) or the replay's end (resumed).
// A payload without a usable type is a plain "message" event.
func describe(data []byte, seq int64) (name, id string) {
	var h head
	if json.Unmarshal(data, &h) != nil || h.Type == "" || bytes.ContainsAny([]byte(h.Type), "\r\n") {
		h.Type = "message"
	}
	switch {
	case seq > 0:
	case h.Type == herald.TypeNotificationNew:
		seq = h.Notification.Seq
	case h.Type == session.TypeResumed:
		seq = h.LastSeq
	}
	if seq > 0 {
		id = strconv.FormatInt(seq, 10)
	}
	return h.Type, id
}

// eventKey names the SSE rendering of a message among its encodings
// (herald.Message.Encoded): a delivery to many streams renders it once, as
// the WebSocket path encodes each format once.
type eventKey struct{}

// eventOf returns m's event, rendered on the first request only.
func eventOf(m *herald.Message) []byte {
	return m.Encoded(eventKey{}, func(payload []byte) any {
		name, id := describe(payload, m.Seq)
		return event(name, id, payload)
	}).([]byte)
}

// closeEvent is the final event of a stream the server ends.
func closeEvent(code int, reason string) []byte {
	data, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}{"close", code, reason})
	return event("close", "", data)
}
