package herald_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/wiretest"
)

// TestWireTimes encodes every wire type holding times, with times as the
// stores give them back (whole seconds from SQLite, nanoseconds from the
// clock, another zone from PostgreSQL): each comes out in the one format,
// and the other fields are still there.
func TestWireTimes(t *testing.T) {
	whole := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	nanos := time.Date(2026, 12, 6, 3, 0, 0, 123456789, time.UTC)
	zoned := time.Date(2026, 12, 6, 4, 0, 0, 5e6, time.FixedZone("CET", 3600))
	cases := map[string]struct {
		v    any
		want map[string]string // path -> wire time
		also string            // another field that must survive
	}{
		"notification": {herald.Notification{ID: "n1", Seq: 7, ReadAt: &zoned, CreatedAt: whole, Timestamp: nanos},
			map[string]string{".readAt": "2026-12-06T03:00:00.005Z", ".createdAt": "2026-12-06T03:00:00.000Z", ".timestamp": "2026-12-06T03:00:00.123Z"}, `"seq":7`},
		"unread notification": {&herald.Notification{ID: "n2", CreatedAt: nanos, Timestamp: nanos},
			map[string]string{".createdAt": "2026-12-06T03:00:00.123Z", ".timestamp": "2026-12-06T03:00:00.123Z"}, `"read":false`},
		"delivery": {herald.Delivery{ID: "d1", DueAt: whole, LeaseUntil: &nanos, CreatedAt: zoned, UpdatedAt: whole},
			map[string]string{".dueAt": "2026-12-06T03:00:00.000Z", ".leaseUntil": "2026-12-06T03:00:00.123Z", ".createdAt": "2026-12-06T03:00:00.005Z", ".updatedAt": "2026-12-06T03:00:00.000Z"}, `"id":"d1"`},
		"client event": {herald.ClientEvent{ID: "e1", Payload: json.RawMessage(`{}`), ReceivedAt: nanos},
			map[string]string{".receivedAt": "2026-12-06T03:00:00.123Z"}, `"id":"e1"`},
		"stats": {herald.Stats{TotalConnections: 3, Timestamp: nanos},
			map[string]string{".timestamp": "2026-12-06T03:00:00.123Z"}, `"totalConnections":3`},
		"node stats": {herald.NodeStats{Node: "a", Stats: herald.Stats{Timestamp: whole}},
			map[string]string{".timestamp": "2026-12-06T03:00:00.000Z"}, `"node":"a"`},
		"topic send": {herald.TopicSend{ID: "s1", Members: 4, CreatedAt: nanos, UpdatedAt: zoned},
			map[string]string{".createdAt": "2026-12-06T03:00:00.123Z", ".updatedAt": "2026-12-06T03:00:00.005Z"}, `"members":4`},
		"push subscription": {herald.PushSubscription{ID: "p1", Created: nanos},
			map[string]string{".createdAt": "2026-12-06T03:00:00.123Z"}, `"id":"p1"`},
	}
	for name, c := range cases {
		doc, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := wiretest.Times(t, doc)
		if len(got) != len(c.want) {
			t.Errorf("%s: times %v, want %v", name, got, c.want)
		}
		for k, want := range c.want {
			if got[k] != want {
				t.Errorf("%s: %s = %q, want %q (%s)", name, k, got[k], want, doc)
			}
		}
		if !strings.Contains(string(doc), c.also) {
			t.Errorf("%s: %s lost %s", name, doc, c.also)
		}
	}
	// Decoding takes any RFC 3339 precision, as clients and old servers
	// send them.
	var n herald.Notification
	if err := json.Unmarshal([]byte(`{"id":"x","createdAt":"2026-12-06T03:00:00Z","timestamp":"2026-12-06T03:00:00.123456789+01:00"}`), &n); err != nil {
		t.Fatal(err)
	}
	if !n.CreatedAt.Equal(whole) || !n.Timestamp.Equal(nanos.Add(-time.Hour)) {
		t.Errorf("decoded %v %v", n.CreatedAt, n.Timestamp)
	}
}

// TestWireTimeMatchesLayout: WireTime writes its digits by hand, and must
// give what time.Format gives with TimeLayout, for any instant of the years
// it accepts, in any zone; outside them it refuses.
func TestWireTimeMatchesLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC).Unix()
	times := []time.Time{
		time.Unix(lo, 0).UTC(), time.Unix(hi, 999999999).UTC(), time.Unix(0, 0), {},
		time.Date(2026, 12, 7, 23, 59, 59, 999999999, time.FixedZone("", -11*3600)),
	}
	for range 100000 {
		zone := time.FixedZone("", (rng.IntN(49)-24)*1800)
		times = append(times, time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9)).In(zone))
	}
	for _, at := range times {
		got, err := herald.WireTime(at).MarshalText()
		if want := at.UTC().Format(herald.TimeLayout); err != nil || string(got) != want {
			t.Fatalf("WireTime(%v) = %q, %v; want %q", at, got, err, want)
		}
	}
	for _, at := range []time.Time{time.Unix(lo-1, 0), time.Unix(hi+1, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, err := herald.WireTime(at).MarshalText(); err == nil {
			t.Errorf("WireTime(%v) = %q, want an error for its year", at, got)
		}
	}
}

// FuzzNotificationJSON decodes arbitrary JSON as a notification and encodes
// it again: encoding never fails on what decoded, every time comes out in
// the one wire format, and decoding that gives the same instants to the
// millisecond.
func FuzzNotificationJSON(f *testing.F) {
	for _, seed := range []string{
		`{"id":"a","seq":1,"userId":"u","createdAt":"2026-12-06T03:00:00Z","timestamp":"2026-12-06T03:00:00.123456789Z"}`,
		`{"readAt":"0001-01-01T00:00:00Z","read":true,"data":{"k":[1,2]}}`,
		`{"createdAt":"9999-12-31T23:59:59.999999999-23:59"}`,
		`{"timestamp":"2026-12-06T03:00:00.5+14:00","link":"/x"}`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var n herald.Notification
		if json.Unmarshal(in, &n) != nil {
			return
		}
		out, err := json.Marshal(n)
		if err != nil {
			bad := func(t time.Time) bool { y := t.UTC().Year(); return y < 0 || y > 9999 }
			if bad(n.CreatedAt) || bad(n.Timestamp) || (n.ReadAt != nil && bad(*n.ReadAt)) {
				return // beyond four-digit years in UTC: no ISO-8601 form to give
			}
			t.Fatalf("marshal %q: %v", in, err)
		}
		// The push message calls the method itself (inbox's
		// newNotificationMessage): it must give json.Marshal's bytes.
		direct, err := n.MarshalJSON()
		if err != nil || !bytes.Equal(direct, out) {
			t.Fatalf("MarshalJSON of %q = %s, %v; json.Marshal %s", in, direct, err, out)
		}
		// And the bytes encoding/json's reflection gives for the same
		// fields, which MarshalJSON writes by hand.
		if want := reflected(t, n); !bytes.Equal(direct, want) {
			t.Fatalf("MarshalJSON of %q =\n%s\nreflection gives\n%s", in, direct, want)
		}
		for k, v := range wiretest.Times(t, out) {
			if k == ".data" || strings.HasPrefix(k, ".data.") {
				continue // the application's own data, passed through
			}
			if !wiretest.Format.MatchString(v) {
				t.Fatalf("%s = %q from %q", k, v, in)
			}
		}
		var back herald.Notification
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !back.CreatedAt.Equal(n.CreatedAt.Truncate(time.Millisecond)) || !back.Timestamp.Equal(n.Timestamp.Truncate(time.Millisecond)) {
			t.Fatalf("times moved: %v %v -> %v %v", n.CreatedAt, n.Timestamp, back.CreatedAt, back.Timestamp)
		}
	})
}

// reflected is n encoded by encoding/json's reflection, the fields of
// Notification and its times as WireTime: what MarshalJSON must write.
func reflected(t *testing.T, n herald.Notification) []byte {
	t.Helper()
	type plain herald.Notification
	var readAt *herald.WireTime
	if n.ReadAt != nil {
		w := herald.WireTime(*n.ReadAt)
		readAt = &w
	}
	out, err := json.Marshal(struct {
		plain
		ReadAt    *herald.WireTime `json:"readAt,omitempty"`
		CreatedAt herald.WireTime  `json:"createdAt"`
		Timestamp herald.WireTime  `json:"timestamp"`
	}{plain(n), readAt, herald.WireTime(n.CreatedAt), herald.WireTime(n.Timestamp)})
	if err != nil {
		t.Fatalf("reflection refused %+v: %v", n, err)
	}
	return out
}

// TestNotificationJSONEscapes: strings and data that encoding/json escapes,
// written by hand the same way.
func TestNotificationJSONEscapes(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 123e6, time.UTC)
	for _, s := range []string{
		"", "plain text", `quote " and \ backslash`, "<b>Tom & Jerry</b>", "tab\tnew\nline\r\b\f\x00\x1f",
		"Zoë — 東京 🚀", "line\u2028para\u2029", "bad \xff utf-8 \xc3", "del \x7f", "Tom & Jerry", "a > b", "a < b",
	} {
		for _, data := range []string{
			`{ "html" : "<a href=\"x\">&</a>", "list": [1, 2.5e3, null, true] }`, // compacted and escaped
			`{"tripId":77,"city":"Lisbon","tags":["a","b"],"n":-1.5e-3}`,         // already as encoding/json writes it
			`{"sep":"\u2028 raw"}`, `"just a string"`, `[]`, `null`,
		} {
			n := herald.Notification{ID: s, Seq: -3, UserID: s, Type: s, Title: s, Message: s, Link: s,
				Data: json.RawMessage(data), Read: s == "", ReadAt: &at, CreatedAt: at.Add(time.Hour),
				Timestamp: at.In(time.FixedZone("x", 3600))}
			got, err := n.MarshalJSON()
			if err != nil {
				t.Fatalf("%q, %s: %v", s, data, err)
			}
			if want := reflected(t, n); !bytes.Equal(got, want) {
				t.Errorf("%q, %s:\n got %s\nwant %s", s, data, got, want)
			}
		}
	}
	for _, when := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 9, 7, 5, 3, 7e6, time.FixedZone("-0930", -34200)), {},
	} {
		n := herald.Notification{ReadAt: &when, CreatedAt: when, Timestamp: when}
		got, err := n.MarshalJSON()
		if want := reflected(t, n); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v:\n got %s, %v\nwant %s", when, got, err, want)
		}
	}
	if _, err := (herald.Notification{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).MarshalJSON(); err == nil {
		t.Error("a year past 9999 encoded")
	}
	if _, err := (herald.Notification{Data: json.RawMessage(`{"unclosed":`)}).MarshalJSON(); err == nil {
		t.Error("data that is not JSON encoded")
	}
}

// BenchmarkNotificationJSON encodes a typical notification, as every push
// and every API answer holding one does.
func BenchmarkNotificationJSON(b *testing.B) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 123e6, time.UTC)
	n := herald.Notification{ID: "0193a0b2-7c1e-7a3b-9f2e-1c2d3e4f5a6b", Seq: 42, UserID: "user-123", Type: "trip.booked",
		Title: "Your trip is booked", Message: "Lisbon, 12 to 19 December", Link: "/trips/77",
		Data: json.RawMessage(`{"tripId":77,"city":"Lisbon"}`), CreatedAt: now, Timestamp: now}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := n.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
