package redis

import (
	"bytes"
	"testing"

	"github.com/heraldhq/herald"
)

// TestEnvelopeRoundTrip: every field of a message survives the wire.
func TestEnvelopeRoundTrip(t *testing.T) {
	m := &herald.Message{To: herald.Audience{Kind: herald.ToAll, Name: "", Except: "mallory"}, Payload: []byte(`{"type":"x","n":1}`), Version: 1 << 40, Latest: true, Close: 4002}
	e := envelopeOf(m, "node-1")
	e.local = true
	got, err := decodeEnvelope(string(e.encode()))
	if err != nil {
		t.Fatal(err)
	}
	back := got.message()
	if back.To != m.To || back.Seq != 0 || back.Version != m.Version || !back.Latest || back.Close != 4002 || !bytes.Equal(back.Payload, m.Payload) || got.origin != "node-1" || !got.local {
		t.Fatalf("decoded %+v from %+v", got, m)
	}
	// A notification's seq, without Latest, comes back as a seq.
	n := &herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Payload: []byte(`{}`), Seq: 42}
	if got, err := decodeEnvelope(string(envelopeOf(n, "node-1").encode())); err != nil || got.message().Seq != 42 || got.message().Version != 0 {
		t.Fatalf("decoded %+v, %v from %+v", got, err, n)
	}
	// Version 1, from a node not yet upgraded, still decodes, without a close.
	if v1, err := decodeEnvelope("\x01\x01\x00\x07\x01n\x01a\x00{}"); err != nil || v1.seq != 7 || v1.name != "a" || v1.close != 0 || string(v1.payload) != "{}" {
		t.Errorf("version 1: %+v, %v", v1, err)
	}
	for _, bad := range []string{"", "\x01", "\x03\x01\x00\x00", "\x01\x09\x00\x00", "\x01\x01\x00\x05\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"} {
		if _, err := decodeEnvelope(bad); herald.CodeOf(err) != herald.EINVALID {
			t.Errorf("decodeEnvelope(%q) = %v, want EINVALID", bad, err)
		}
	}
}

// FuzzDecodeEnvelope: any input decodes or fails cleanly, and what decodes
// encodes back to the same bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(string((&envelope{kind: 1, name: "alice", origin: "n", payload: []byte(`{}`)}).encode()))
	f.Add(string((&envelope{kind: kindProbe, origin: "n", name: "7"}).encode()))
	f.Add("\x01\x03\x03\x80\x01\x00\x00\x00")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := decodeEnvelope(s)
		if err != nil {
			return
		}
		e.encode() // must not panic
		again, err := decodeEnvelope(string(e.encode()))
		if err != nil || again.kind != e.kind || again.seq != e.seq || again.close != e.close || again.name != e.name || !bytes.Equal(again.payload, e.payload) {
			t.Fatalf("re-encoding %q changed it: %+v vs %+v (%v)", s, again, e, err)
		}
	})
}
