package client_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/heraldhq/herald/client"
)

// TestMsgpackConversation holds the JSON tests' conversation with
// EncodingMsgpack: connect, a notification received once with its numbers
// intact, ping, subscribe (allowed and refused), a channel message, mark
// read, an in-band token, a server restart with what was missed replayed
// once, and a replay of everything de-duplicated. The recorded wire shows
// MessagePack binary frames both ways, but for the first auth message.
func TestMsgpackConversation(t *testing.T) {
	h := startHerald(t, nil)
	tp := newTap(t, h.addr(), false)
	api := h.api()
	clock := newManualClock()
	c, rec := newClient(t, client.Options{URL: tp.wsURL(), APIURL: h.httpURL(), Encoding: client.EncodingMsgpack,
		TokenSource: client.StaticToken(h.token("mona", time.Hour)), Clock: clock, Jitter: -1, RefreshAt: -1})
	ctx := ctxT(t, 60*time.Second)
	if err := c.ConnectWithRetry(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Encoding() != client.EncodingMsgpack || c.Compressed() {
		t.Errorf("Encoding() = %q, Compressed() = %v; want msgpack, uncompressed", c.Encoding(), c.Compressed())
	}
	// The client connected with a resume point, so the server replays after
	// its greeting; a notification committed before that replay has read the
	// inbox arrives through it, not live. Wait for the replay's end.
	rec.until(t, 10*time.Second, "the replay after connecting", func(r *recorder) bool { return r.countRawLocked("resumed") == 1 })

	// 2^53+1 survives only as an integer: a float64 on the way would round it.
	first, err := api.CreateNotification(ctx, client.NewNotification{UserID: "mona", Type: "trip_update",
		Title: "Trip <started> & on its way", Message: "m",
		Data: json.RawMessage(`{"tripId":"123","fare":12.5,"stops":3,"big":9007199254740993,"ok":true,"none":null}`)})
	if err != nil {
		t.Fatal(err)
	}
	rec.until(t, 10*time.Second, "the notification", func(r *recorder) bool { return len(r.messages) == 1 })
	rec.get(func(r *recorder) {
		n := r.messages[0]
		if n.ID != first.ID || n.Seq != first.Seq || n.Title != first.Title || n.CreatedAt.IsZero() || n.Replayed {
			t.Errorf("received %+v, want the created notification, live", n)
		}
		d := json.NewDecoder(bytes.NewReader(n.Data))
		d.UseNumber()
		var data map[string]any
		if err := d.Decode(&data); err != nil {
			t.Fatalf("data %s: %v", n.Data, err)
		}
		want := map[string]any{"tripId": "123", "fare": json.Number("12.5"), "stops": json.Number("3"),
			"big": json.Number("9007199254740993"), "ok": true, "none": nil}
		if !reflect.DeepEqual(data, want) {
			t.Errorf("data = %s, want the values sent", n.Data)
		}
	})

	if err := c.Send(ctx, map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	rec.until(t, 5*time.Second, "pong", func(r *recorder) bool { return r.countRawLocked("pong") == 1 })
	if err := c.Send(ctx, "not json"); err == nil {
		t.Error("Send of invalid JSON succeeded")
	}
	if err := c.Subscribe(ctx, "news"); err != nil {
		t.Fatalf("Subscribe(news) = %v", err)
	}
	err = c.Subscribe(ctx, "user:someone-else")
	if e, ok := err.(*client.Error); !ok || e.Type != client.ErrServer || e.Code != "forbidden" {
		t.Errorf("Subscribe(user:someone-else) = %v, want a forbidden server_error", err)
	}
	if n, err := api.SendToChannel(ctx, "news", map[string]any{"type": "headline", "count": 42}); err != nil || n != 1 {
		t.Fatalf("SendToChannel = %d, %v; want delivered to 1", n, err)
	}
	rec.until(t, 5*time.Second, "the headline", func(r *recorder) bool { return r.countRawLocked("headline") == 1 })
	rec.get(func(r *recorder) {
		for _, m := range r.raw {
			if strings.Contains(m, `"headline"`) && !strings.Contains(m, `"count":42`) {
				t.Errorf("headline = %s, want count 42 as a number", m)
			}
		}
	})

	if err := c.MarkRead(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	rec.until(t, 5*time.Second, "notification:read", func(r *recorder) bool {
		// The count goes out on the creation and on the read.
		return r.countRawLocked("notification:read") == 1 && r.countRawLocked("notification:unread_count") == 2
	})
	// An auth message on the open connection, as a refresh sends it.
	if err := c.Send(ctx, map[string]string{"type": "auth", "token": h.token("mona", 2*time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rec.until(t, 5*time.Second, "authenticated", func(r *recorder) bool { return r.countRawLocked("authenticated") == 1 })

	h.kill()
	rec.until(t, 10*time.Second, "disconnected", func(r *recorder) bool { return len(r.disconnected) == 1 })
	w := clock.next(t)
	h.restart()
	missed := map[string]bool{}
	for _, title := range []string{"missed 1", "missed 2"} {
		missed[h.notify("mona", title).ID] = true
	}
	w.fire()
	rec.until(t, 15*time.Second, "the missed notifications", func(r *recorder) bool { return len(r.messages) == 3 })
	rec.until(t, 5*time.Second, "the restored subscription", func(r *recorder) bool { return r.countRawLocked("subscribed") == 2 })
	if n, err := api.SendToChannel(ctx, "news", map[string]string{"type": "headline"}); err != nil || n != 1 {
		t.Fatalf("SendToChannel after the restart = %d, %v; want delivered to 1", n, err)
	}
	if err := c.Send(ctx, map[string]any{"type": "resume", "since": 0}); err != nil {
		t.Fatal(err)
	}
	// Wait for this resume's own answer, which replays all three. Counting
	// "resumed" messages cannot tell it apart: the first connect has one too
	// (the client learns its resume point from the inbox and connects with
	// since), so two were there before this resume was answered.
	rec.until(t, 10*time.Second, "the resume's answer and the headline", func(r *recorder) bool {
		answered := false
		for _, m := range r.raw {
			if strings.Contains(m, `"type":"resumed"`) && strings.Contains(m, `"since":0`) && strings.Contains(m, `"replayed":3`) {
				answered = true
			}
		}
		return answered && r.countRawLocked("headline") == 2
	})
	rec.get(func(r *recorder) {
		if len(r.messages) != 3 {
			t.Errorf("the application saw %d notifications, want 3", len(r.messages))
		}
		for _, n := range r.messages[1:] {
			if !missed[n.ID] || !n.Replayed {
				t.Errorf("notification %q (replayed %v) is not one of those missed", n.Title, n.Replayed)
			}
		}
		if r.connected != 2 {
			t.Errorf("connected %d times, want 2", r.connected)
		}
	})
	if c.LastSeq() != 3 {
		t.Errorf("LastSeq() = %d, want 3", c.LastSeq())
	}
	c.Disconnect()

	conns := tp.recorded()
	if len(conns) != 2 {
		t.Fatalf("%d connections crossed the tap, want 2", len(conns))
	}
	sent := map[string]int{}
	for i, tc := range conns {
		if !strings.Contains(strings.ToLower(tc.handshake()), "sec-websocket-protocol: herald.msgpack") {
			t.Errorf("connection %d: the handshake answer does not name herald.msgpack:\n%s", i, tc.handshake())
		}
		server := dataMessages(t, tc.frames(false))
		if len(server) < 2 {
			t.Errorf("connection %d: %d messages from the server", i, len(server))
		}
		for _, m := range server {
			if m.op != 2 {
				t.Errorf("connection %d: the server sent a frame of opcode %d: %.100s", i, m.op, m.body)
			}
		}
		for j, m := range dataMessages(t, tc.frames(true)) {
			if j == 0 {
				// The server reads the first auth message before the
				// encoding applies: plain JSON text.
				if m.op != 1 || !strings.Contains(string(m.body), `"type":"auth"`) {
					t.Errorf("connection %d: the first message is %d %q, want the auth message as text", i, m.op, m.body[:min(len(m.body), 30)])
				}
				continue
			}
			if m.op != 2 {
				t.Errorf("connection %d: the client sent a frame of opcode %d: %.100s", i, m.op, m.body)
				continue
			}
			typ, _ := m.value["type"].(string)
			sent[typ]++
			if typ == "resume" {
				switch m.value["since"].(type) {
				case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
				default:
					t.Errorf("resume's since went as %T, want an integer", m.value["since"])
				}
			}
		}
	}
	if sent["ping"] != 1 || sent["subscribe"] != 3 || sent["auth"] != 1 || sent["resume"] != 1 {
		t.Errorf("MessagePack messages from the client by type: %v; want ping 1, subscribe 3, auth 1, resume 1", sent)
	}
}

// TestOlderServer: against a server that knows no subprotocol and does not
// accept permessage-deflate, a client asking for both speaks plain JSON,
// and says so.
func TestOlderServer(t *testing.T) {
	h := startHerald(t, nil)
	tp := newTap(t, h.addr(), true)
	c, rec := newClient(t, client.Options{URL: tp.wsURL(), APIURL: h.httpURL(), Encoding: client.EncodingMsgpack,
		Compression: true, TokenSource: client.StaticToken(h.token("nina", time.Hour))})
	ctx := ctxT(t, 30*time.Second)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Encoding() != client.EncodingJSON || c.Compressed() {
		t.Errorf("Encoding() = %q, Compressed() = %v; want json, uncompressed", c.Encoding(), c.Compressed())
	}
	if err := c.Subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	n := h.notify("nina", "plain")
	rec.until(t, 10*time.Second, "the notification", func(r *recorder) bool { return len(r.messages) == 1 })
	rec.get(func(r *recorder) {
		if r.messages[0].ID != n.ID {
			t.Errorf("received %+v, want %+v", r.messages[0], n)
		}
	})
	c.Disconnect()
	tc := tp.recorded()[0]
	if hs := strings.ToLower(tc.handshake()); strings.Contains(hs, "sec-websocket-protocol") || strings.Contains(hs, "permessage-deflate") {
		t.Errorf("the server agreed to something:\n%s", hs)
	}
	for _, up := range []bool{false, true} {
		for _, m := range dataMessages(t, tc.frames(up)) {
			if m.op != 1 || m.compressed {
				t.Errorf("a frame of opcode %d (compressed %v) from the client %v, want text: %.100s", m.op, m.compressed, up, m.body)
			}
		}
	}
}

// TestCompression: with Options.Compression and a server started with
// WS_PERMESSAGE_DEFLATE=true, permessage-deflate without context takeover
// is negotiated, in either encoding: a large notification arrives intact,
// compressed on the wire; a large message from the client goes compressed
// and is answered; and a token too long for the compression threshold
// still authenticates, its auth message sent uncompressed.
func TestCompression(t *testing.T) {
	h := startHerald(t, map[string]string{"WS_PERMESSAGE_DEFLATE": "true"})
	api := h.api()
	var channels []string
	for i := range 20 {
		channels = append(channels, fmt.Sprintf("private:compression-test-channel-%02d", i))
	}
	var msg strings.Builder
	for i := 0; msg.Len() < 4000; i++ {
		fmt.Fprintf(&msg, "line %d of a long message; ", i)
	}
	var items []string
	for i := 0; i < 300; i++ {
		items = append(items, fmt.Sprintf(`{"n":%d,"price":%d.25,"name":"item %d"}`, i, i, i))
	}
	data := json.RawMessage(`{"items":[` + strings.Join(items, ",") + `]}`)
	if len(data) < 10000 {
		t.Fatalf("test data of %d bytes is not large", len(data))
	}

	for _, enc := range []client.Encoding{client.EncodingJSON, client.EncodingMsgpack} {
		t.Run(string(enc), func(t *testing.T) {
			user := "olga-" + string(enc)
			tok := h.token(user, time.Hour, channels...)
			if len(tok) < 600 {
				t.Fatalf("token of %d bytes, want one longer than the compression threshold", len(tok))
			}
			tp := newTap(t, h.addr(), false)
			c, rec := newClient(t, client.Options{URL: tp.wsURL(), APIURL: h.httpURL(), Encoding: enc, Compression: true,
				TokenSource: client.StaticToken(tok)})
			ctx := ctxT(t, 30*time.Second)
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if c.Encoding() != enc || !c.Compressed() {
				t.Errorf("Encoding() = %q, Compressed() = %v; want %s, compressed", c.Encoding(), c.Compressed(), enc)
			}
			created, err := api.CreateNotification(ctx, client.NewNotification{UserID: user, Type: "report", Title: "big",
				Message: msg.String(), Data: data})
			if err != nil {
				t.Fatal(err)
			}
			rec.until(t, 10*time.Second, "the large notification", func(r *recorder) bool { return len(r.messages) == 1 })
			rec.get(func(r *recorder) {
				n := r.messages[0]
				if n.ID != created.ID || n.Message != msg.String() {
					t.Errorf("received notification %s with a message of %d bytes, want %s with %d", n.ID, len(n.Message), created.ID, msg.Len())
				}
				var got, want any
				if json.Unmarshal(n.Data, &got) != nil || json.Unmarshal(data, &want) != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("the data arrived changed: %.200s…", n.Data)
				}
			})
			if err := c.Send(ctx, map[string]string{"type": "ping", "padding": strings.Repeat("p", 2000)}); err != nil {
				t.Fatal(err)
			}
			rec.until(t, 5*time.Second, "pong", func(r *recorder) bool { return r.countRawLocked("pong") == 1 })
			c.Disconnect()

			tc := tp.recorded()[0]
			hs := strings.ToLower(tc.handshake())
			if !strings.Contains(hs, "sec-websocket-extensions: permessage-deflate") ||
				!strings.Contains(hs, "client_no_context_takeover") || !strings.Contains(hs, "server_no_context_takeover") {
				t.Errorf("the handshake answer does not agree to permessage-deflate without context takeover:\n%s", tc.handshake())
			}
			op := byte(1)
			if enc == client.EncodingMsgpack {
				op = 2
			}
			var bigDown, bigUp bool
			for _, m := range dataMessages(t, tc.frames(false)) {
				if m.op != op {
					t.Errorf("the server sent a frame of opcode %d, want %d", m.op, op)
				}
				if m.compressed && m.value["type"] == "notification:new" && m.wireLen < len(data) {
					bigDown = true
					t.Logf("the large notification: %d bytes of %s, %d on the wire", len(m.body), enc, m.wireLen)
				}
			}
			for i, m := range dataMessages(t, tc.frames(true)) {
				if i == 0 && (m.compressed || m.op != 1 || len(m.body) < 600) {
					t.Errorf("the first auth message went as opcode %d, compressed %v, %d bytes; want long uncompressed text", m.op, m.compressed, len(m.body))
				}
				if i > 0 && m.op != op {
					t.Errorf("the client sent a frame of opcode %d, want %d", m.op, op)
				}
				if m.compressed && m.value["type"] == "ping" && m.wireLen < 1000 {
					bigUp = true
				}
			}
			if !bigDown || !bigUp {
				t.Errorf("the large notification went compressed: %v; the large ping: %v; want both", bigDown, bigUp)
			}
		})
	}
}

// wireMessage is one complete data message off the wire.
type wireMessage struct {
	op         byte
	compressed bool
	wireLen    int    // bytes on the wire
	body       []byte // inflated
	value      map[string]any
}

// dataMessages decodes the data frames of fs, each of which must be a whole
// message holding a JSON or MessagePack object, as its opcode says.
func dataMessages(t *testing.T, fs []wireFrame) []wireMessage {
	t.Helper()
	var out []wireMessage
	for _, f := range fs {
		if !f.data() {
			continue
		}
		if !f.fin || f.op == 0 {
			t.Errorf("a fragmented message on the wire (opcode %d, fin %v)", f.op, f.fin)
			continue
		}
		body, err := f.message()
		if err != nil {
			t.Errorf("a compressed frame does not inflate: %v", err)
			continue
		}
		m := wireMessage{op: f.op, compressed: f.rsv1, wireLen: len(f.payload), body: body}
		if f.op == 2 {
			err = msgpack.Unmarshal(body, &m.value)
		} else {
			err = json.Unmarshal(body, &m.value)
		}
		if err != nil {
			t.Errorf("a frame of opcode %d does not decode: %v: %.200q", f.op, err, body)
			continue
		}
		out = append(out, m)
	}
	return out
}
