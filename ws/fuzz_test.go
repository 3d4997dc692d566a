package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
)

// The fuzz targets of the WebSocket path, one per decoder of client bytes.
// Each is deterministic and fast (no network, no sleeps), so CI can run every
// Fuzz* for a short fixed time; testdata/fuzz/<Name>/ holds their seed
// corpus, including the inputs that crashed the server before.

// FuzzMsgpackToJSON: the transcoder never panics and never allocates past a
// bound of its input; what it accepts becomes valid JSON of at most 6 bytes
// per input byte, nested at most MaxDepth deep, with the same value a
// general MessagePack decoder reads.
func FuzzMsgpackToJSON(f *testing.F) {
	for _, s := range []string{
		"\x81\xa4type\xa4ping", "\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff", "\xc6\xff\xff\xff\xff",
		"\xdb\xff\xff\xff\xffabc", "\xc9\xff\xff\xff\xff\x01", strings.Repeat("\xdd\xff\xff\xff\xff", 200),
		strings.Repeat("\xdc\xff\xff", 300), strings.Repeat("\x91", 40) + "\xc0", "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x01",
		"\x9d\x7f\xe0\xcc\xff\xcd\xff\xff\xce\xff\xff\xff\xff\xcf\xff\xff\xff\xff\xff\xff\xff\xff" +
			"\xd3\x80\x00\x00\x00\x00\x00\x00\x00\xca\x3f\xc0\x00\x00\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\xc0\xc2\xc3\xd9\x01a",
		"\x81\x01\x02", "\xa5\"\\\x00\n\x7f", "\xca\x00\x00\x00\x01", "\xcb\x44\x3a\x00\x00\x00\x00\x00\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := msgpackToJSON(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%x became invalid JSON %q", in, out)
		}
		if len(out) > 6*len(in) {
			t.Fatalf("%d bytes became %d bytes of JSON", len(in), len(out))
		}
		if !session.WithinDepth(out, MaxDepth) {
			t.Fatalf("%x nests deeper than %d", in, MaxDepth)
		}
		// What was accepted has lengths its bytes back, so a general
		// decoder can read it safely; both must see the same value.
		var lib any
		if err := msgpack.Unmarshal(in, &lib); err != nil {
			t.Fatalf("accepted %x, which msgpack refuses: %v", in, err)
		}
		libJSON, err := json.Marshal(lib)
		if err != nil {
			t.Fatalf("accepted %x, which JSON cannot carry: %v", in, err)
		}
		var a, b any
		if json.Unmarshal(out, &a) != nil || json.Unmarshal(libJSON, &b) != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%x: transcoded %s, msgpack reads %s", in, out, libJSON)
		}
	})
}

// FuzzInflate: a client's compressed message inflates to at most the limit,
// or fails; a message the test compresses itself comes back whole when it
// fits.
func FuzzInflate(f *testing.F) {
	f.Add([]byte(`{"type":"ping"}`), false)
	f.Add(compressForTest(bytes.Repeat([]byte("a"), 64<<10)), true) // a bomb
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, true)
	f.Add([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, true) // stored block, truncated
	f.Add([]byte{}, true)
	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		if raw {
			out, err := inflate(data, limit)
			if err == nil && len(out) > limit {
				t.Fatalf("inflated to %d bytes past the limit", len(out))
			}
			if err != nil && err != errTooLarge && err != errInflate {
				t.Fatalf("error %v", err)
			}
			return
		}
		out, err := inflate(compressForTest(data), limit)
		switch {
		case len(data) > limit:
			if err != errTooLarge {
				t.Fatalf("%d bytes inflated with %v, want errTooLarge", len(data), err)
			}
		case err != nil || !bytes.Equal(out, data):
			t.Fatalf("round trip of %d bytes: %v", len(data), err)
		}
	})
}

func compressForTest(b []byte) []byte {
	out, err := deflate(b)
	if err != nil {
		panic(err)
	}
	return out
}

// maskedFrame is one frame as a client sends it.
func maskedFrame(op ws.OpCode, fin bool, p string) []byte {
	var b bytes.Buffer
	ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewFrame(op, fin, []byte(p))))
	return b.Bytes()
}

// FuzzMsgReader feeds arbitrary bytes to the frame reader in each encoding
// (the first byte picks MessagePack and deflate): it must end with an error,
// never panic, hold no more than twice what it has read plus a 512-byte
// step, and yield only messages within the limit — UTF-8 text, or JSON
// transcoded from MessagePack.
func FuzzMsgReader(f *testing.F) {
	frame := maskedFrame
	compressed := func(op ws.OpCode, p []byte) []byte {
		fr := ws.NewFrame(op, true, compressForTest(p))
		fr.Header.Rsv = ws.Rsv(true, false, false)
		var b bytes.Buffer
		ws.WriteFrame(&b, ws.MaskFrameInPlace(fr))
		return b.Bytes()
	}
	lying := func(length uint64) []byte {
		b := []byte{0x82, 0xff}
		for i := 7; i >= 0; i-- {
			b = append(b, byte(length>>(8*i)))
		}
		return append(b, 1, 2, 3, 4, 5, 6, 7, 8)
	}
	for _, seed := range [][]byte{
		append([]byte{0}, frame(ws.OpText, true, `{"type":"ping"}`)...),
		append([]byte{1}, frame(ws.OpBinary, true, "\xdd\xff\xff\xff\xff")...),
		append([]byte{1}, frame(ws.OpBinary, true, strings.Repeat("\xdd\xff\xff\xff\xff", 200))...),
		append([]byte{1}, frame(ws.OpBinary, true, strings.Repeat("\xdf\x00\x00\xff\xff\xa1a", 150))...),
		append([]byte{2}, compressed(ws.OpText, bytes.Repeat([]byte("a"), 1<<20))...),
		append([]byte{3}, compressed(ws.OpBinary, []byte(strings.Repeat("\xdd\xff\xff\xff\xff", 200)))...),
		append([]byte{0}, append(frame(ws.OpText, false, "{\"x\":\"\xe2\x82"), frame(ws.OpContinuation, true, "\xac\"}")...)...),
		append([]byte{1}, lying(1<<62)...),
		append([]byte{1}, lying(1<<63)...),
		append([]byte{0}, bytes.Repeat(frame(ws.OpContinuation, false, ""), 10)...),
		append([]byte{0}, frame(ws.OpPing, false, "x")...),
		append([]byte{0}, frame(ws.OpClose, true, "\x03\xe8\xff")...),
	} {
		f.Add(seed)
	}
	const limit = 2048
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		m := msgReader{max: limit, msgpack: data[0]&1 != 0, deflate: data[0]&2 != 0}
		r := bytes.NewReader(data[1:])
		for {
			fr, err := m.next(r)
			read := len(data) - 1 - r.Len()
			if cap(m.msg) > 2*read+512 {
				t.Fatalf("holds %d bytes after reading %d", cap(m.msg), read)
			}
			if err != nil {
				var ce *closeError
				if !errors.As(err, &ce) && err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			switch fr.op {
			case ws.OpText:
				if m.binary && fr.data != nil && !json.Valid(fr.data) {
					t.Fatalf("MessagePack became invalid JSON %q", fr.data)
				}
				if len(fr.data) > 6*limit || !m.msgpack && len(fr.data) > limit {
					t.Fatalf("message of %d bytes passed the limit", len(fr.data))
				}
				if !utf8.Valid(fr.data) {
					t.Fatalf("message %q is not UTF-8", fr.data)
				}
			case ws.OpPing, ws.OpPong, ws.OpClose:
				if len(fr.data) > 125 {
					t.Fatalf("control frame of %d bytes", len(fr.data))
				}
			case ws.OpContinuation:
			default:
				t.Fatalf("yielded opcode %v", fr.op)
			}
		}
	})
}

// FuzzReadLoop feeds arbitrary bytes to a connection's read loop as if a
// client sent them: it must end with an error or a close, never panic or
// hang, and must hand on only complete UTF-8 text messages within the size
// limit, however control frames, rate limits and replies interleave.
func FuzzReadLoop(f *testing.F) {
	frame := func(op ws.OpCode, fin bool, p string) []byte {
		var b bytes.Buffer
		ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewFrame(op, fin, []byte(p))))
		return b.Bytes()
	}
	f.Add(frame(ws.OpText, true, `{"type":"ping"}`))
	f.Add(append(frame(ws.OpText, false, `{"ty`), frame(ws.OpContinuation, true, `pe":"ping"}`)...))
	f.Add(frame(ws.OpBinary, true, "\x00\x01"))
	f.Add(frame(ws.OpPing, true, "hi"))
	f.Add(bytes.Repeat(frame(ws.OpPing, true, strings.Repeat("p", 125)), 100))
	f.Add(frame(ws.OpClose, true, "\x03\xe8bye"))
	f.Add(frame(ws.OpText, true, "\xff\xfe"))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // unmasked
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := New(Config{Hub: nil, NoPoller: true, MaxMessageBytes: 1024, QueueSize: 8, WriteTimeout: 100 * time.Millisecond, CloseTimeout: 10 * time.Millisecond})
		server, client := net.Pipe()
		defer client.Close()
		go io.Copy(io.Discard, client)
		c := newConn(srv, server, &herald.Claims{UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
		c.sess.Start(-1) // greets: one frame queued, and live
		done := make(chan error, 1)
		go func() {
			done <- c.readLoop(bytes.NewReader(data), func(msg []byte) {
				if len(msg) > 1024 || !utf8.Valid(msg) {
					t.Errorf("message of %d bytes passed the reader", len(msg))
				}
			})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("read loop hung on finite input")
		}
		c.mu.Lock()
		queued := len(c.queue)
		c.mu.Unlock()
		if queued > 8+1 { // the queue limit, and a close frame
			t.Errorf("%d frames queued past the limit of 8", queued)
		}
		c.sess.End()
		server.Close()
		srv.writers.stop()
	})
}
