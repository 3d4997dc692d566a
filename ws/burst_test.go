package ws

import (
	"bytes"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// countingReader counts the reads made of it, each returning at most max bytes.
type countingReader struct {
	r     io.Reader
	max   int
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	if c.max > 0 && len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

// clientFrames is what a client sends: each frame masked, back to back.
func clientFrames(t *testing.T, frames ...ws.Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, f := range frames {
		if err := ws.WriteFrame(&buf, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestBurstReadsFramesInOneCall checks what burst is for: frames that arrived
// together are parsed from one read of the socket, not three reads each
// (header, the rest of the header, payload) as straight from the socket.
func TestBurstReadsFramesInOneCall(t *testing.T) {
	src := &countingReader{r: bytes.NewReader(clientFrames(t,
		ws.NewTextFrame([]byte(`{"type":"subscribe","channel":"news"}`)),
		ws.NewPingFrame([]byte("x")),
		ws.NewCloseFrame(ws.NewCloseFrameBody(1000, "bye")),
	))}
	b := getBurst(src)
	defer b.put()
	m := msgReader{max: 16 << 10}
	var ops []ws.OpCode
	for range 3 {
		f, err := m.next(b)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, f.op)
	}
	if want := []ws.OpCode{ws.OpText, ws.OpPing, ws.OpClose}; !bytes.Equal(opBytes(ops), opBytes(want)) {
		t.Fatalf("frames %v, want %v", ops, want)
	}
	if src.reads != 1 || b.buffered() != 0 {
		t.Fatalf("%d reads of the socket, %d bytes left; want 1 read, none left", src.reads, b.buffered())
	}
}

// TestBurstAcrossRefills reads a message larger than the buffer, arriving in
// small pieces, and the frame after it, which begins in the same piece as the
// message's end.
func TestBurstAcrossRefills(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 3*burstSize+17)
	src := &countingReader{r: bytes.NewReader(clientFrames(t,
		ws.NewTextFrame(big), ws.NewPingFrame([]byte("after")))), max: 1000}
	b := getBurst(src)
	defer b.put()
	m := msgReader{max: 16 << 10}
	f, err := m.next(b)
	if err != nil || f.op != ws.OpText || !bytes.Equal(f.data, big) {
		t.Fatalf("message: op %v, %d bytes, %v", f.op, len(f.data), err)
	}
	f, err = m.next(b)
	if err != nil || f.op != ws.OpPing || string(f.data) != "after" {
		t.Fatalf("frame after it: op %v %q, %v", f.op, f.data, err)
	}
	if b.buffered() != 0 {
		t.Fatalf("%d bytes left", b.buffered())
	}
}

func opBytes(ops []ws.OpCode) []byte {
	b := make([]byte, len(ops))
	for i, o := range ops {
		b[i] = byte(o)
	}
	return b
}
