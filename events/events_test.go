package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/events"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/memory"
)

// recorder is a herald.Publisher that keeps every message.
type recorder struct {
	mu   sync.Mutex
	msgs []*herald.Message
}

func (r *recorder) Publish(ctx context.Context, m *herald.Message) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return 1, nil
}

// typed returns how many published messages have the given type.
func (r *recorder) typed(t *testing.T, typ string) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	count := 0
	for _, m := range r.msgs {
		var body struct{ Type string }
		if err := json.Unmarshal(m.Payload, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type == typ {
			count++
		}
	}
	return count
}

// setup returns a Handler creating through a real inbox.Service over a
// memory.Store, and the pieces behind it.
func setup(t testing.TB, ts *events.Templates) (*events.Handler, *inbox.Service, *recorder) {
	t.Helper()
	rec := &recorder{}
	svc, err := inbox.New(inbox.Config{Store: memory.NewStore(memory.Config{}), Publisher: rec})
	if err != nil {
		t.Fatal(err)
	}
	h, err := events.New(events.Config{Inbox: svc, Templates: ts})
	if err != nil {
		t.Fatal(err)
	}
	return h, svc, rec
}

// event decodes doc as a transport would. With useNumber the data keeps
// numbers as json.Number, otherwise they are float64.
func event(t testing.TB, doc string, useNumber bool) *herald.Event {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	if useNumber {
		dec.UseNumber()
	}
	var e herald.Event
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("bad test event %s: %v", doc, err)
	}
	return &e
}

func wantCode(t *testing.T, err error, code herald.ErrorCode, contains ...string) {
	t.Helper()
	if got := herald.CodeOf(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
	for _, s := range contains {
		if !strings.Contains(herald.ErrorMessage(err), s) {
			t.Errorf("error message %q does not mention %s", herald.ErrorMessage(err), s)
		}
	}
}

// TestDocumentEvents checks that the built-in templates produce exactly the
// notifications of the design document's three event handlers.
func TestDocumentEvents(t *testing.T) {
	for _, c := range []struct {
		name  string
		event string
		typ   string
		title string
		msg   string
		data  string
	}{
		{
			"booking",
			`{"event":"booking:confirmed","data":{"userId":"u-1","vehicleName":"Toyota Camry","bookingId":12345}}`,
			"booking_confirmation", "Booking Confirmed",
			"Your booking for Toyota Camry has been confirmed.",
			`{"booking_id":12345}`,
		},
		{
			"booking with a string id",
			`{"event":"booking:confirmed","data":{"userId":"u-1","vehicleName":"Ford Transit","bookingId":"bk_77"}}`,
			"booking_confirmation", "Booking Confirmed",
			"Your booking for Ford Transit has been confirmed.",
			`{"booking_id":"bk_77"}`,
		},
		{
			"payment",
			`{"event":"payment:due","data":{"userId":"u-2","amount":150,"dueDate":"2025-12-01","paymentId":987}}`,
			"payment_due", "Payment Due",
			"You have a payment of $150 due on 2025-12-01.",
			`{"payment_id":987}`,
		},
		{
			"payment with cents",
			`{"event":"payment:due","data":{"userId":"u-2","amount":99.5,"dueDate":"2025-12-01","paymentId":"p-1"}}`,
			"payment_due", "Payment Due",
			"You have a payment of $99.5 due on 2025-12-01.",
			`{"payment_id":"p-1"}`,
		},
		{
			"payment with a string amount",
			`{"event":"payment:due","data":{"userId":"u-2","amount":"99.50","dueDate":"Dec 1","paymentId":1}}`,
			"payment_due", "Payment Due",
			"You have a payment of $99.50 due on Dec 1.",
			`{"payment_id":1}`,
		},
		{
			"contract",
			`{"event":"contract:expiring","data":{"userId":"u-3","contractName":"Fleet Lease","daysRemaining":30,"contractId":"c-9"}}`,
			"contract_expiry", "Contract Expiring Soon",
			`Your contract "Fleet Lease" expires in 30 days.`,
			`{"contract_id":"c-9"}`,
		},
	} {
		for _, useNumber := range []bool{false, true} {
			t.Run(c.name, func(t *testing.T) {
				h, svc, rec := setup(t, nil)
				e := event(t, c.event, useNumber)
				ns, err := h.HandleEvent(context.Background(), e)
				if err != nil {
					t.Fatal(err)
				}
				if len(ns) != 1 {
					t.Fatalf("got %d notifications, want 1", len(ns))
				}
				n := ns[0].Notification
				if n.UserID != e.Data["userId"] || n.Type != c.typ || n.Title != c.title || n.Message != c.msg || n.Link != "" {
					t.Errorf("got user %q type %q title %q message %q link %q\nwant user %q type %q title %q message %q",
						n.UserID, n.Type, n.Title, n.Message, n.Link, e.Data["userId"], c.typ, c.title, c.msg)
				}
				if string(n.Data) != c.data {
					t.Errorf("data %s, want %s", n.Data, c.data)
				}
				if n.ID == "" || ns[0].Replayed {
					t.Errorf("notification not created: %+v", n)
				}
				if u, _ := svc.UnreadCount(context.Background(), n.UserID); u.Count != 1 {
					t.Errorf("store holds %d unread, want 1", u.Count)
				}
				if rec.typed(t, herald.TypeNotificationNew) != 1 {
					t.Error("notification was not pushed")
				}
			})
		}
	}
}

func TestRefusals(t *testing.T) {
	h, _, rec := setup(t, nil)
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		event    *herald.Event
		code     herald.ErrorCode
		contains []string
	}{
		{"nil event", nil, herald.EINVALID, nil},
		{"unknown event", &herald.Event{Name: "nope:x", Data: map[string]any{"userId": "u"}},
			herald.EUNPROCESSABLE, []string{`unknown event "nope:x"`}},
		{"empty name", &herald.Event{Data: map[string]any{"userId": "u"}}, herald.EINVALID, []string{"event name"}},
		{"long name", &herald.Event{Name: strings.Repeat("a", events.MaxNameLen+1)}, herald.EINVALID, []string{"event name"}},
		{"bad character", &herald.Event{Name: "booking confirmed"}, herald.EINVALID, []string{"event name"}},
		{"long id", &herald.Event{Name: "booking:confirmed", ID: strings.Repeat("i", events.MaxIDLen+1)}, herald.EINVALID, []string{"event id"}},
		{"missing fields", &herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": "u"}},
			herald.EUNPROCESSABLE, []string{`"vehicleName"`, `"bookingId"`}},
		{"null counts as missing", &herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": "u", "vehicleName": nil, "bookingId": 1.0}},
			herald.EUNPROCESSABLE, []string{`"vehicleName"`}},
		{"no data", &herald.Event{Name: "payment:due"}, herald.EUNPROCESSABLE, []string{`"userId"`, `"amount"`, `"dueDate"`, `"paymentId"`}},
		{"numeric userId", &herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": 7.0, "vehicleName": "v", "bookingId": 1.0}},
			herald.EUNPROCESSABLE, []string{"userId must be a non-empty string"}},
		{"empty userId", &herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": "", "vehicleName": "v", "bookingId": 1.0}},
			herald.EUNPROCESSABLE, []string{"userId must be a non-empty string"}},
		{"long userId", &herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": strings.Repeat("u", herald.MaxUserIDLen+1), "vehicleName": "v", "bookingId": 1.0}},
			herald.EUNPROCESSABLE, []string{"userId"}},
		{"message too long", &herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": "u", "vehicleName": strings.Repeat("v", herald.MaxMessageLen), "bookingId": 1.0}},
			herald.ETOOLARGE, []string{"message"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns, err := h.HandleEvent(ctx, c.event)
			if ns != nil {
				t.Errorf("a refused event returned %v", ns)
			}
			wantCode(t, err, c.code, c.contains...)
		})
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if n := len(rec.msgs); n != 0 {
		t.Fatalf("refused events published %d messages", n)
	}
}

// TestRedeliveredEventCreatesNothing handles one event, with an id, twice:
// the second time returns the notification of the first and pushes nothing.
func TestRedeliveredEventCreatesNothing(t *testing.T) {
	h, svc, rec := setup(t, nil)
	ctx := context.Background()
	doc := `{"id":"evt-42","event":"payment:due","data":{"userId":"u-2","amount":150,"dueDate":"2025-12-01","paymentId":987}}`

	ns, err := events.Defaults().Render(event(t, doc, false))
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].IdempotencyKey != "event:evt-42:0" {
		t.Fatalf("idempotency key %q", ns[0].IdempotencyKey)
	}

	first, err := h.HandleEvent(ctx, event(t, doc, false))
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.HandleEvent(ctx, event(t, doc, true))
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Notification.ID != first[0].Notification.ID || !second[0].Replayed || first[0].Replayed {
		t.Fatalf("redelivery returned %+v, want the first %+v marked Replayed", second[0], first[0])
	}
	if u, _ := svc.UnreadCount(ctx, "u-2"); u.Count != 1 {
		t.Fatalf("redelivery left %d unread, want 1", u.Count)
	}
	if n := rec.typed(t, herald.TypeNotificationNew); n != 1 {
		t.Fatalf("pushed %d notification:new, want 1", n)
	}

	// Without an id, the same event is a new notification each time.
	noID := strings.Replace(doc, `"id":"evt-42",`, "", 1)
	for range 2 {
		if _, err := h.HandleEvent(ctx, event(t, noID, false)); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := svc.UnreadCount(ctx, "u-2"); u.Count != 3 {
		t.Fatalf("%d unread after two events without id, want 3", u.Count)
	}
}

func TestLoadFile(t *testing.T) {
	ts, err := events.LoadFile("testdata/events.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"booking:confirmed", "contract:expiring", "invoice:paid", "message:received", "payment:due", "trip:started"}
	if got := ts.Names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("names %v, want %v", got, want)
	}
	h, _, _ := setup(t, ts)
	ctx := context.Background()
	for _, c := range []struct {
		event, title, msg, link, data string
	}{
		{
			`{"event":"trip:started","data":{"userId":"u","tripId":42}}`,
			"Trip Started", "Your driver has started the trip", "/trips/42",
			`{"tripId":"42","trip_id":42}`,
		},
		{
			`{"event":"invoice:paid","data":{"userId":"u","invoiceId":"inv-1","amount":1250.75,"note":"card ending 4242"}}`,
			"Payment Received", "We received your payment of $1250.75 (card ending 4242). Thank you!", "/invoices/inv-1",
			`{"amount":1250.75,"archived":false,"invoice_id":"inv-1","priority":2}`,
		},
		{
			`{"event":"invoice:paid","data":{"userId":"u","invoiceId":7,"amount":5,"receipt":{"url":"/r/7","pages":[1,2]}}}`,
			"Payment Received", "We received your payment of $5. Thank you!", "/invoices/7",
			`{"amount":5,"archived":false,"invoice_id":7,"priority":2,"receipt":{"pages":[1,2],"url":"/r/7"}}`,
		},
		{
			`{"event":"message:received","data":{"userId":"u","conversationId":3,"preview":"hi","sender":{"name":"Ann","id":9}}}`,
			"New message from Ann", "hi", "/conversations/3",
			`{"conversation_id":3,"sender":{"id":9,"name":"Ann"}}`,
		},
		{ // a default still there
			`{"event":"booking:confirmed","data":{"userId":"u","vehicleName":"Van","bookingId":1}}`,
			"Booking Confirmed", "Your booking for Van has been confirmed.", "",
			`{"booking_id":1}`,
		},
	} {
		for _, useNumber := range []bool{false, true} {
			ns, err := h.HandleEvent(ctx, event(t, c.event, useNumber))
			if err != nil {
				t.Fatalf("%s: %v", c.event, err)
			}
			n := ns[0].Notification
			if n.Title != c.title || n.Message != c.msg || n.Link != c.link || string(n.Data) != c.data {
				t.Errorf("%s:\ngot  %q %q %q %s\nwant %q %q %q %s", c.event, n.Title, n.Message, n.Link, n.Data, c.title, c.msg, c.link, c.data)
			}
		}
	}

	// A field a template uses but required does not list is refused by name.
	_, err = h.HandleEvent(ctx, event(t, `{"event":"message:received","data":{"userId":"u","conversationId":3,"preview":"hi","sender":{"id":9}}}`, false))
	wantCode(t, err, herald.EUNPROCESSABLE, "title", `"name"`)
}

func TestFileOverridesDefaults(t *testing.T) {
	ts, err := events.Parse("override.json", []byte(`{"booking:confirmed": {
		"type": "booking_confirmation", "title": "Booked: {{.vehicleName}}", "data": {"note": "v={{.v}}", "x": {"from": "absent"}, "nothing": null}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := ts.Render(&herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": "u", "vehicleName": "Van", "v": nil}})
	if err != nil {
		t.Fatal(err)
	}
	n := ns[0]
	if n.Title != "Booked: Van" || n.Message != "" || string(n.Data) != `{"note":"v=null","nothing":null}` {
		t.Fatalf("got %q %q %s", n.Title, n.Message, n.Data)
	}
	// The defaults themselves are untouched.
	if ns, err := events.Defaults().Render(&herald.Event{Name: "booking:confirmed", Data: map[string]any{"userId": "u", "vehicleName": "Van", "bookingId": 1.0}}); err != nil || ns[0].Title != "Booking Confirmed" {
		t.Fatalf("defaults changed: %v %v", ns, err)
	}
}

func TestBadTemplateFiles(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		contains  []string
	}{
		{"not JSON", `{"a:b": `, nil},
		{"not an object", `[]`, nil},
		{"null document", `null`, []string{"JSON object"}},
		{"bad name", `{"bad name": {"type": "t", "title": "T"}}`, []string{`"bad name"`, "event name"}},
		{"unknown field", `{"a:b": {"type": "t", "titel": "T"}}`, []string{`"a:b"`, "titel"}},
		{"no type", `{"a:b": {"title": "T"}}`, []string{`"a:b"`, "type is required"}},
		{"no title", `{"a:b": {"type": "t"}}`, []string{`"a:b"`, "title is required"}},
		{"bad title", `{"a:b": {"type": "t", "title": "{{.x"}}`, []string{`"a:b"`, "title"}},
		{"bad message", `{"a:b": {"type": "t", "title": "T", "message": "{{end}}"}}`, []string{`"a:b"`, "message"}},
		{"bad link", `{"a:b": {"type": "t", "title": "T", "link": "{{nofunc .x}}"}}`, []string{`"a:b"`, "link", "nofunc"}},
		{"bad data template", `{"a:b": {"type": "t", "title": "T", "data": {"k": "{{"}}}`, []string{`"a:b"`, "data.k"}},
		{"data array", `{"a:b": {"type": "t", "title": "T", "data": {"k": [1]}}}`, []string{"data.k", "arrays"}},
		{"data object", `{"a:b": {"type": "t", "title": "T", "data": {"k": {"value": 1}}}}`, []string{"data.k", "from"}},
		{"empty from", `{"a:b": {"type": "t", "title": "T", "data": {"k": {"from": ""}}}}`, []string{"data.k", "from"}},
		{"empty required", `{"a:b": {"type": "t", "title": "T", "required": [""]}}`, []string{"required"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := events.Parse("bad.json", []byte(c.doc))
			if err == nil {
				t.Fatal("a bad file loaded")
			}
			for _, s := range append([]string{"bad.json"}, c.contains...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
	if _, err := events.LoadFile("testdata/no-such-file.json"); err == nil || !strings.Contains(err.Error(), "no-such-file.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestNewRequiresInbox(t *testing.T) {
	if _, err := events.New(events.Config{}); err == nil {
		t.Fatal("New without an inbox succeeded")
	}
}
