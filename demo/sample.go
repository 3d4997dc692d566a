package demo

import (
	"encoding/json"
	"time"

	"github.com/heraldhq/herald"
)

// sample is the content of one kind of demo notification.
type sample struct {
	title, message, link string
	data                 map[string]any
}

// samples are the design document's notification types, whose toasts carry
// an action (View Trip, View Payment, View Message), and one plain type. The
// links are fragments of the demo page, so following one stays on it.
var samples = map[string]sample{
	"trip_update": {"Trip Started", "Your driver has started the trip", "/#/trips/123",
		map[string]any{"tripId": "123", "driverId": "456", "status": "STARTED"}},
	"payment_approved": {"Payment Approved", "Your payment of $42.00 was approved", "/#/payments/789",
		map[string]any{"paymentId": "789", "amount": 4200, "currency": "USD"}},
	"message_received": {"New Message", "Sam: Are you on your way?", "/#/chat/42",
		map[string]any{"conversationId": "42", "from": "Sam"}},
	"system": {"Heads up", "A plain notification: no action attached", "", nil},
}

// SampleTypes lists the types Sample accepts, in the order the page offers them.
var SampleTypes = []string{"trip_update", "payment_approved", "message_received", "system"}

// Sample returns a demo notification of type typ ("" means trip_update) for
// user; now makes the data's timestamps deterministic in tests.
func Sample(typ, user string, now time.Time) (*herald.NewNotification, error) {
	if typ == "" {
		typ = "trip_update"
	}
	s, ok := samples[typ]
	if !ok {
		return nil, herald.Errorf(herald.EINVALID, "type must be one of trip_update, payment_approved, message_received, system")
	}
	n := &herald.NewNotification{UserID: user, Type: typ, Title: s.title, Message: s.message, Link: s.link}
	if s.data != nil {
		d := map[string]any{"sentAt": herald.FormatTime(now)}
		for k, v := range s.data {
			d[k] = v
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		n.Data = raw
	}
	return n, nil // the inbox validates it
}
