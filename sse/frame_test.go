package sse

import (
	"testing"

	"github.com/heraldhq/herald"
)

// TestEventRenderedOncePerMessage: every stream a message goes to shares one
// rendering of it, made from the message's seq, whoever asks first; two
// messages delivered at once each keep their own (the single-slot cache this
// replaced re-rendered them in turn).
func TestEventRenderedOncePerMessage(t *testing.T) {
	a := &herald.Message{Seq: 7, Payload: []byte(`{"type":"notification:new","notification":{"seq":7}}`)}
	b := &herald.Message{Payload: []byte(`{"type":"custom","data":1}`)}
	ea, eb := eventOf(a), eventOf(b)
	if want := "event: notification:new\nid: 7\ndata: " + string(a.Payload) + "\n\n"; string(ea) != want {
		t.Fatalf("event = %q, want %q", ea, want)
	}
	if want := "event: custom\ndata: " + string(b.Payload) + "\n\n"; string(eb) != want {
		t.Fatalf("event = %q, want %q", eb, want)
	}
	for range 3 {
		if x, y := eventOf(a), eventOf(b); &x[0] != &ea[0] || &y[0] != &eb[0] {
			t.Fatal("a message was rendered again for another stream")
		}
	}
}
