package ws

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald"
)

// FuzzParseInbound feeds arbitrary client messages through the parser and the
// field decoders: they must never panic, and what they accept must be sound.
func FuzzParseInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"ping"}`, `{"type":"subscribe","channel":"notifications"}`,
		`{"type":"unsubscribe","channel":"user:1"}`, `{"type":"mark_read","notificationId":"abc"}`,
		`{"type":"resume","since":42}`, `{"type":"resume","since":-1}`, `{"type":7}`, `[]`, `null`, `"x"`,
		`{"type":"subscribe","channel":5}`, `{`, ``, ` {"type":"ping"}`, `{"type":"mark_read","notificationId":null}`,
	} {
		f.Add([]byte(s))
	}
	claims := &herald.Claims{UserID: "u1", Channels: []string{"private:a"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseInbound(data)
		if err != nil {
			if herald.CodeOf(err) != herald.EINVALID {
				t.Fatalf("parse error code %s", herald.CodeOf(err))
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if raw, ok := stringField(m.Channel); ok {
			if ch, err := herald.ParseChannel(raw); err == nil {
				if len(ch) > herald.MaxChannelLen || bytes.ContainsAny([]byte(ch), " \t\r\n\"") {
					t.Fatalf("accepted channel %q", ch)
				}
				_ = ChannelPolicy{}.allow(claims, ch)
				_ = ChannelPolicy{Strict: true, Public: []string{"news:*"}}.allow(claims, ch)
			}
		}
		if n, ok := intField(m.Since); ok && n < 0 {
			t.Fatalf("accepted negative since %d", n)
		}
		_, _ = stringField(m.NotificationID)
	})
}

// FuzzReadLoop feeds arbitrary bytes to the frame reader as if a client sent
// them: it must end with an error or a close, never panic or hang, and must
// hand on only complete UTF-8 text messages within the size limit.
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
	f.Add(frame(ws.OpClose, true, "\x03\xe8bye"))
	f.Add(frame(ws.OpText, true, "\xff\xfe"))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // unmasked
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := New(Config{Hub: nil, NoPoller: true, MaxMessageBytes: 1024, WriteTimeout: 100 * time.Millisecond, CloseTimeout: 10 * time.Millisecond})
		server, client := net.Pipe()
		defer client.Close()
		go io.Copy(io.Discard, client)
		c := newConn(srv, server, &herald.Claims{UserID: "u"})
		c.replaying = false
		c.replayMu.Unlock()
		done := make(chan error, 1)
		go func() {
			done <- c.readLoop(bytes.NewReader(data), func(msg []byte) {
				if len(msg) > 1024 {
					t.Errorf("message of %d bytes passed the limit", len(msg))
				}
			})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("read loop hung on finite input")
		}
		server.Close()
		srv.writers.stop()
	})
}
