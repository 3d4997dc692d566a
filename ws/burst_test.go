package ws

import (
	"bytes"
	"errors"
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

// FuzzBurstMatchesDirect reads the same client bytes twice — straight from
// the stream, and through a burst over a stream that delivers them in pieces
// of a size the input chooses — and requires the same frames, the same
// payloads and the same kind of ending from both.
func FuzzBurstMatchesDirect(f *testing.F) {
	frame := maskedFrame
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, seed := range [][]byte{
		cat([]byte{7}, frame(ws.OpText, true, `{"type":"subscribe","channel":"a"}`), frame(ws.OpPing, true, "x")),
		cat([]byte{1}, frame(ws.OpText, false, `{"type":`), frame(ws.OpPong, true, ""), frame(ws.OpContinuation, true, `"ping"}`)),
		cat([]byte{200}, frame(ws.OpText, true, string(bytes.Repeat([]byte("b"), 5000))), frame(ws.OpClose, true, "\x03\xe8bye")),
		cat([]byte{3}, frame(ws.OpText, true, "ok"), []byte{0x81, 0xfe, 0x7f}), // a header cut short
		cat([]byte{64}, frame(ws.OpText, true, "\xff"), frame(ws.OpText, true, "never read")),
	} {
		f.Add(seed)
	}
	type result struct {
		op   ws.OpCode
		data string
	}
	const limit = 8 << 10
	readAll := func(r io.Reader) ([]result, error) {
		m := msgReader{max: limit}
		var out []result
		for {
			fr, err := m.next(r)
			if err != nil {
				return out, err
			}
			out = append(out, result{fr.op, string(fr.data)})
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		piece := int(data[0]) + 1
		direct, derr := readAll(bytes.NewReader(data[1:]))
		b := getBurst(&countingReader{r: bytes.NewReader(data[1:]), max: piece})
		defer b.put()
		viaBurst, berr := readAll(b)
		if len(direct) != len(viaBurst) {
			t.Fatalf("%d frames straight, %d through a burst", len(direct), len(viaBurst))
		}
		for i := range direct {
			if direct[i] != viaBurst[i] {
				t.Fatalf("frame %d: %v %q straight, %v %q through a burst", i, direct[i].op, direct[i].data, viaBurst[i].op, viaBurst[i].data)
			}
		}
		var dce, bce *closeError
		dIsClose, bIsClose := errors.As(derr, &dce), errors.As(berr, &bce)
		if dIsClose != bIsClose || dIsClose && (dce.code != bce.code || dce.unread != bce.unread) {
			t.Fatalf("ended with %v straight, %v through a burst", derr, berr)
		}
	})
}
