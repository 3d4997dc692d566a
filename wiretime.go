package herald

import (
	"encoding/json"
	"errors"
	"time"
)

// TimeLayout formats wire timestamps as JavaScript's Date.toISOString does:
// UTC with milliseconds, e.g. 2025-11-10T08:15:30.123Z. Every time Herald
// sends, in a socket message, an API answer or a webhook body, has this one
// form (docs/protocol.md), so a client parses them all the same way and
// compares them as strings.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t for the wire in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// WireTime is a time.Time that encodes as TimeLayout instead of Go's
// default RFC 3339 with however many fractional digits the clock gave (a
// stored time read back from SQLite had none, a fresh one nine). It decodes
// any RFC 3339 time. The JSON methods of the wire types use it for their
// time fields.
type WireTime time.Time

// MarshalText renders t in TimeLayout, which encoding/json writes as a
// string. Like time.Time's, it refuses a year beyond four digits, which has
// no such form. (A text marshaler rather than a JSON one: encoding/json
// checks and copies what a MarshalJSON returns, which cost as much as the
// formatting, three times per notification.)
func (t WireTime) MarshalText() ([]byte, error) {
	u := time.Time(t).UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return nil, errors.New("herald: time outside the years 0 to 9999")
	}
	return u.AppendFormat(make([]byte, 0, len(TimeLayout)), TimeLayout), nil
}

// UnmarshalJSON decodes an RFC 3339 time, with or without fractions.
func (t *WireTime) UnmarshalJSON(b []byte) error {
	var tt time.Time
	if err := json.Unmarshal(b, &tt); err != nil {
		return err
	}
	*t = WireTime(tt)
	return nil
}

// wirePtr is WireTime for an optional time: nil stays nil (and is omitted).
func wirePtr(t *time.Time) *WireTime {
	if t == nil {
		return nil
	}
	w := WireTime(*t)
	return &w
}

// MarshalJSON encodes n with its times in TimeLayout.
func (n Notification) MarshalJSON() ([]byte, error) {
	type plain Notification
	return json.Marshal(struct {
		plain
		ReadAt    *WireTime `json:"readAt,omitempty"`
		CreatedAt WireTime  `json:"createdAt"`
		Timestamp WireTime  `json:"timestamp"`
	}{plain(n), wirePtr(n.ReadAt), WireTime(n.CreatedAt), WireTime(n.Timestamp)})
}

// MarshalJSON encodes d with its times in TimeLayout.
func (d Delivery) MarshalJSON() ([]byte, error) {
	type plain Delivery
	return json.Marshal(struct {
		plain
		DueAt      WireTime  `json:"dueAt"`
		LeaseUntil *WireTime `json:"leaseUntil,omitempty"`
		CreatedAt  WireTime  `json:"createdAt"`
		UpdatedAt  WireTime  `json:"updatedAt"`
		SentAt     *WireTime `json:"sentAt,omitempty"`
	}{plain(d), WireTime(d.DueAt), wirePtr(d.LeaseUntil), WireTime(d.CreatedAt), WireTime(d.UpdatedAt), wirePtr(d.SentAt)})
}

// MarshalJSON encodes e with its time in TimeLayout.
func (e ClientEvent) MarshalJSON() ([]byte, error) {
	type plain ClientEvent
	return json.Marshal(struct {
		plain
		ReceivedAt WireTime `json:"receivedAt"`
	}{plain(e), WireTime(e.ReceivedAt)})
}

// MarshalJSON encodes s with its time in TimeLayout.
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		plain
		Timestamp WireTime `json:"timestamp"`
	}{plain(s), WireTime(s.Timestamp)})
}

// MarshalJSON encodes s with its times in TimeLayout.
func (s TopicSend) MarshalJSON() ([]byte, error) {
	type plain TopicSend
	return json.Marshal(struct {
		plain
		CreatedAt WireTime `json:"createdAt"`
		UpdatedAt WireTime `json:"updatedAt"`
	}{plain(s), WireTime(s.CreatedAt), WireTime(s.UpdatedAt)})
}

// MarshalJSON encodes s with its time in TimeLayout.
func (s PushSubscription) MarshalJSON() ([]byte, error) {
	type plain PushSubscription
	return json.Marshal(struct {
		plain
		Created WireTime `json:"createdAt"`
	}{plain(s), WireTime(s.Created)})
}

// MarshalJSON encodes s with its node and its time in TimeLayout (without
// it the embedded Stats' method would drop Node).
func (s NodeStats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		Node string `json:"node"`
		plain
		Timestamp WireTime `json:"timestamp"`
	}{s.Node, plain(s.Stats), WireTime(s.Timestamp)})
}
