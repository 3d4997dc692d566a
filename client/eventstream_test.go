package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// parseAll reads every event of in with limit.
func parseAll(r io.Reader, limit int) ([]streamEvent, error) {
	er := newEventReader(r, limit)
	var out []streamEvent
	for {
		ev, err := er.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
		out = append(out, ev)
	}
}

// writeEvents is the serializer the round trip checks the parser against.
func writeEvents(evs []streamEvent) []byte {
	var b bytes.Buffer
	for _, ev := range evs {
		b.WriteString("event: " + ev.Event + "\n")
		for _, line := range strings.Split(string(ev.Data), "\n") {
			b.WriteString("data: " + line + "\n")
		}
		b.WriteString("id: " + ev.ID + "\n\n")
	}
	return b.Bytes()
}

func sameEvents(a, b []streamEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Event != b[i].Event || !bytes.Equal(a[i].Data, b[i].Data) || a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

func TestEventStreamParses(t *testing.T) {
	in := ": hello\n\nretry: 1500\nid: 7\nevent: notification:new\ndata: {\"a\":\ndata:1}\n\n" +
		"data:plain\r\n\r\nid\ndata: x\rdata:  two spaces\r\rdata: tail-without-blank-line\n"
	comments := 0
	er := newEventReader(strings.NewReader(in), 1<<10)
	er.onComment = func() { comments++ }
	var got []streamEvent
	for {
		ev, err := er.next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		got = append(got, ev)
	}
	want := []streamEvent{
		{Event: "notification:new", Data: []byte("{\"a\":\n1}"), ID: "7", Retry: 1500},
		{Event: "message", Data: []byte("plain"), ID: "7", Retry: -1},
		{Event: "message", Data: []byte("x\n two spaces"), ID: "", Retry: -1},
	}
	if !sameEvents(got, want) || got[0].Retry != 1500 || got[1].Retry != -1 {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if comments != 1 {
		t.Fatalf("comments = %d, want 1", comments)
	}
}

func TestEventStreamLimit(t *testing.T) {
	_, err := parseAll(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50)
	if !errors.Is(err, errEventTooLarge) {
		t.Fatalf("err = %v, want errEventTooLarge", err)
	}
	_, err = parseAll(strings.NewReader(strings.Repeat("data: 0123456789\n", 10)+"\n"), 50)
	if !errors.Is(err, errEventTooLarge) {
		t.Fatalf("joined data: err = %v, want errEventTooLarge", err)
	}
}

// FuzzEventStream checks that any input parses without panicking, the same
// whether it arrives at once or a byte at a time, within the limit, and that
// what it parsed to survives a round trip through the serializer.
func FuzzEventStream(f *testing.F) {
	f.Add([]byte("event: connected\nid: 3\ndata: {\"type\":\"connected\"}\n\n"))
	f.Add([]byte(": ping\r\ndata: a\r\ndata: b\r\n\r\n"))
	f.Add([]byte("data:x\r\rid: 1\x00\ndata\n\nretry: 10\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 256
		whole, err1 := parseAll(bytes.NewReader(in), limit)
		bytewise, err2 := parseAll(iotest.OneByteReader(bytes.NewReader(in)), limit)
		if (err1 == nil) != (err2 == nil) || !sameEvents(whole, bytewise) {
			t.Fatalf("chunking changed the result: %v %v / %v %v", whole, err1, bytewise, err2)
		}
		for _, ev := range whole {
			if len(ev.Data) > limit || ev.Event == "" || strings.ContainsAny(ev.Event+ev.ID, "\r\n") {
				t.Fatalf("bad event %+v", ev)
			}
		}
		again, err := parseAll(bytes.NewReader(writeEvents(whole)), 1<<20)
		if err != nil || !sameEvents(whole, again) {
			t.Fatalf("round trip: %+v -> %+v (%v)", whole, again, err)
		}
	})
}
