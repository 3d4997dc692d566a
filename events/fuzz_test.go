package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/events"
)

// FuzzHandleEvent feeds arbitrary event JSON, decoded as a transport would
// (numbers as float64 or json.Number), through a Handler over a real inbox and
// store. However odd the event, HandleEvent must not panic, must refuse with a
// client error code, and whatever it creates must be a valid notification for
// the event's userId. Seeds are in testdata/fuzz/FuzzHandleEvent.
func FuzzHandleEvent(f *testing.F) {
	f.Add([]byte(`{"event":"booking:confirmed","data":{"userId":"u","vehicleName":"Van","bookingId":1}}`), false)
	ts, err := events.LoadFile("testdata/events.json")
	if err != nil {
		f.Fatal(err)
	}
	h, _, _ := setup(f, ts)
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, doc []byte, useNumber bool) {
		var e herald.Event
		if err := decode(doc, useNumber, &e); err != nil {
			return // the transport refuses it before it reaches a handler
		}
		ns, err := h.HandleEvent(ctx, &e)
		if err != nil {
			switch code := herald.CodeOf(err); code {
			case herald.EINVALID, herald.EUNPROCESSABLE, herald.ETOOLARGE:
			default:
				t.Fatalf("refused with code %q: %v", code, err)
			}
			return
		}
		if len(ns) != 1 {
			t.Fatalf("%d notifications for one event", len(ns))
		}
		n := ns[0].Notification
		in := herald.NewNotification{UserID: n.UserID, Type: n.Type, Title: n.Title, Message: n.Message, Link: n.Link, Data: n.Data}
		if err := in.Validate(); err != nil {
			t.Fatalf("created an invalid notification: %v", err)
		}
		if n.UserID != e.Data["userId"] || n.ID == "" || n.Seq == 0 {
			t.Fatalf("created %+v for userId %v", n, e.Data["userId"])
		}
	})
}

func decode(doc []byte, useNumber bool, v any) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if useNumber {
		dec.UseNumber()
	}
	return dec.Decode(v)
}
