package herald

import (
	"encoding/json"
	"errors"
	"strconv"
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
	return appendWireTime(make([]byte, 0, len(TimeLayout)), time.Time(t))
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

// errYears refuses a time that TimeLayout cannot write: its four-digit year.
var errYears = errors.New("herald: time outside the years 0 to 9999")

// wirePtr is WireTime for an optional time: nil stays nil (and is omitted).
func wirePtr(t *time.Time) *WireTime {
	if t == nil {
		return nil
	}
	w := WireTime(*t)
	return &w
}

// MarshalJSON encodes n with its times in TimeLayout. Every push of a
// notification and every answer holding one calls it, so it writes the
// fields itself rather than through reflection, with encoding/json's order,
// omissions and escaping: FuzzNotificationJSON holds it to the bytes
// json.Marshal gives for the same fields.
func (n Notification) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 240+len(n.ID)+len(n.UserID)+len(n.Type)+len(n.Title)+len(n.Message)+len(n.Link)+len(n.Data))
	b = appendField(b, `{"id":`, n.ID)
	b = strconv.AppendInt(append(b, `,"seq":`...), n.Seq, 10)
	b = appendField(b, `,"userId":`, n.UserID)
	b = appendField(b, `,"type":`, n.Type)
	b = appendField(b, `,"title":`, n.Title)
	b = appendField(b, `,"message":`, n.Message)
	if n.Link != "" {
		b = appendField(b, `,"link":`, n.Link)
	}
	if len(n.Data) != 0 {
		b = append(b, `,"data":`...)
		if plainJSON(n.Data) {
			b = append(b, n.Data...)
		} else {
			// Checked, compacted and escaped as encoding/json does
			// with a RawMessage.
			d, err := json.Marshal(n.Data)
			if err != nil {
				return nil, err
			}
			b = append(b, d...)
		}
	}
	b = strconv.AppendBool(append(b, `,"read":`...), n.Read)
	var err error
	if n.ReadAt != nil {
		if b, err = appendWireTime(append(b, `,"readAt":"`...), *n.ReadAt); err != nil {
			return nil, err
		}
		b = append(b, '"')
	}
	if b, err = appendWireTime(append(b, `,"createdAt":"`...), n.CreatedAt); err != nil {
		return nil, err
	}
	if b, err = appendWireTime(append(b, `","timestamp":"`...), n.Timestamp); err != nil {
		return nil, err
	}
	return append(b, '"', '}'), nil
}

// appendField appends name and s as a JSON string. A string of printable
// ASCII that encoding/json leaves as it is (no quote, backslash, or <, >
// and &, which it escapes for HTML) is copied; any other goes through
// json.Marshal, so that every escape is encoding/json's own.
func appendField(b []byte, name, s string) []byte {
	b = append(b, name...)
	for i := 0; i < len(s); i++ {
		if !asIs[s[i]] {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// asIs holds the bytes encoding/json writes unchanged inside a string:
// printable ASCII but the quote, the backslash and <, > and &.
var asIs = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// plainJSON reports whether data is valid JSON that encoding/json would
// write unchanged: no byte to compact away (whitespace) or to escape (<, >,
// &, and the lead byte of U+2028 and U+2029), as the data of notifications
// stored through the API is.
func plainJSON(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2:
			return false
		}
	}
	return json.Valid(data)
}

// appendWireTime appends t in TimeLayout, written digit by digit, which
// time.AppendFormat takes several times longer to do. It refuses a year
// TimeLayout cannot write.
func appendWireTime(b []byte, t time.Time) ([]byte, error) {
	u := t.UTC()
	year, month, day := u.Date()
	if year < 0 || year > 9999 {
		return nil, errYears
	}
	hour, minute, second := u.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), second, 2)
	b = appendDigits(append(b, '.'), u.Nanosecond()/1e6, 3)
	return append(b, 'Z'), nil
}

// appendDigits appends v, at least 0 and below 10^width, in width digits
// (width at most 4).
func appendDigits(b []byte, v, width int) []byte {
	b = append(b, "0000"[:width]...)
	for i := len(b) - 1; v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
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
