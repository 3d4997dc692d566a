package ws_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/httphead"
	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// mpClient speaks herald.msgpack.
type mpClient struct {
	t *testing.T
	c *websocket.Conn
}

func (e *env) dialMsgpack(user string, opts *websocket.DialOptions) *mpClient {
	e.t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.Subprotocols = []string{ws.ProtocolMsgpack}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.urlFor(user, e.token(user)), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.Subprotocol() != ws.ProtocolMsgpack {
		e.t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	c.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { c.CloseNow() })
	return &mpClient{t: e.t, c: c}
}

func (m *mpClient) read() map[string]any {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := m.c.Read(ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	if typ != websocket.MessageBinary {
		m.t.Fatalf("got a %v frame, want binary MessagePack", typ)
	}
	var v map[string]any
	if err := msgpack.Unmarshal(data, &v); err != nil {
		m.t.Fatal(err)
	}
	return v
}

func (m *mpClient) send(v any) {
	m.t.Helper()
	b, _ := msgpack.Marshal(v)
	if err := m.c.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		m.t.Fatal(err)
	}
}

func TestMsgpackConversation(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	cl := e.dialMsgpack("alice", nil)
	if m := cl.read(); m["type"] != "connected" || m["userId"] != "alice" {
		t.Fatalf("got %v", m)
	}
	cl.send(map[string]any{"type": "ping"})
	if m := cl.read(); m["type"] != "pong" {
		t.Fatalf("got %v", m)
	}
	cl.send(map[string]any{"type": "subscribe", "channel": "news"})
	if m := cl.read(); m["type"] != "subscribed" || m["channel"] != "news" {
		t.Fatalf("got %v", m)
	}
	jsonClient, _ := e.connect("bob")
	jsonClient.send(map[string]any{"type": "subscribe", "channel": "news"})
	jsonClient.readType("subscribed")
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"}, Payload: []byte(`{"type":"story","n":42,"x":1.5}`)})
	m := cl.read()
	if m["type"] != "story" || m["n"] != int8(42) && m["n"] != int64(42) && m["n"] != uint8(42) {
		t.Fatalf("got %v (%T)", m, m["n"])
	}
	if j := jsonClient.readType("story"); j["n"] != float64(42) {
		t.Fatalf("JSON client got %v", j)
	}
	n := notify(t, e, "alice", "hello")
	if m := cl.read(); m["type"] != "notification:new" || m["notification"].(map[string]any)["id"] != n.ID {
		t.Fatalf("got %v", m)
	}
	if m := cl.read(); m["type"] != "notification:unread_count" || m["count"] != int8(1) && m["count"] != uint8(1) && m["count"] != int64(1) {
		t.Fatalf("got %v", m)
	}
	cl.send([]byte{0xc1}) // a byte string, not a message object
	if m := cl.read(); m["type"] != "error" || m["message"] != "Failed to process message" {
		t.Fatalf("got %v", m)
	}
	if err := cl.c.Write(context.Background(), websocket.MessageBinary, []byte{0xc1}); err != nil { // never valid MessagePack
		t.Fatal(err)
	}
	if m := cl.read(); m["type"] != "error" {
		t.Fatalf("got %v", m)
	}
}

func TestDeflate(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.Deflate = true; c.MaxMessageBytes = 64 << 10 })
	cl, err := e.dialURL(e.urlFor("alice", e.token("alice")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dc, resp, err := websocket.Dial(ctx, e.urlFor("bob", e.token("bob")), &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.CloseNow()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("deflate not negotiated: %q", ext)
	}
	d := &client{t: t, c: dc}
	d.readType("connected")
	// A large client message, compressed by the client library, is inflated.
	d.send(map[string]any{"type": "subscribe", "channel": "news", "pad": strings.Repeat("ab", 4000)})
	d.readType("subscribed")
	big := `{"type":"story","body":"` + strings.Repeat("herald ", 2000) + `"}`
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"}, Payload: []byte(big)})
	if m := d.readType("story"); len(m["body"].(string)) != 14000 {
		t.Fatal("compressed story garbled")
	}
}

// TestInflationBomb: a small compressed message that inflates past the limit
// closes the connection with 1009 rather than filling memory.
func TestInflationBomb(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.Deflate = true; c.MaxMessageBytes = 16 << 10 })
	d := gws.Dialer{Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}}
	nc, br, _, err := d.Dial(context.Background(), e.urlFor("alice", e.token("alice")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(bytes.Repeat([]byte{'a'}, 10<<20)) // 10 MiB of 'a'
	fw.Flush()
	bomb := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	if len(bomb) > 16<<10 {
		t.Fatalf("bomb of %d bytes is not small", len(bomb))
	}
	f := gws.NewFrame(gws.OpText, true, bomb)
	f.Header.Rsv = gws.Rsv(true, false, false)
	if err := gws.WriteFrame(nc, gws.MaskFrameInPlace(f)); err != nil {
		t.Fatal(err)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	r := &rawConn{Conn: nc, br: br}
	for {
		fr, err := r.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if fr.Header.OpCode == gws.OpClose {
			if code, _ := gws.ParseCloseFrameData(fr.Payload); code != 1009 {
				t.Fatalf("close %d, want 1009", code)
			}
			return
		}
	}
}

func TestDeflateOffByDefault(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.urlFor("alice", e.token("alice")), &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover, HTTPHeader: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("negotiated %q without Deflate", ext)
	}
}

// TestFirstMessageAuthInEncodings: the first-message auth may come as
// MessagePack, and compressed, like every later message.
func TestFirstMessageAuthInEncodings(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.Deflate = true })
	t.Run("msgpack", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{Subprotocols: []string{ws.ProtocolMsgpack}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		cl := &mpClient{t: t, c: c}
		cl.send(map[string]any{"type": "auth", "token": e.token("alice")})
		if m := cl.read(); m["type"] != "connected" || m["userId"] != "alice" {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("compressed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover, CompressionThreshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		cl := &client{t: t, c: c}
		cl.send(map[string]any{"type": "auth", "token": e.token("bob"), "pad": strings.Repeat("p", 2000)})
		if m := cl.read(); m["type"] != "connected" || m["userId"] != "bob" {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("binary without msgpack", func(t *testing.T) {
		cl, err := e.dialURL(e.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := msgpack.Marshal(map[string]any{"type": "auth", "token": e.token("carol")})
		cl.sendRaw(websocket.MessageBinary, b)
		if code, _ := cl.closeCode(); code != 4001 {
			t.Fatalf("close %d, want 4001", code)
		}
	})
}
