package session

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// FuzzParseInbound feeds arbitrary client messages through the parser and the
// field decoders: they must never panic, and what they accept must be a JSON
// object with a string type, nested at most MaxDepth deep.
func FuzzParseInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"ping"}`, `{"type":"subscribe","channel":"notifications"}`,
		`{"type":"unsubscribe","channel":"user:1"}`, `{"type":"mark_read","notificationId":"abc"}`,
		`{"type":"resume","since":42}`, `{"type":"resume","since":-1}`, `{"type":7}`, `[]`, `null`, `"x"`,
		`{"type":"subscribe","channel":5}`, `{`, ``, ` {"type":"ping"}`, `{"type":"mark_read","notificationId":null}`,
		`{}`, `{"type":null}`, `{"TYPE":"ping"}`, `{"type":"auth","token":"a.b.c"}`,
		`{"type":"ping","x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
		strings.Repeat("[", 4096), `{"type":"ping","s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"[[["}`,
	} {
		f.Add([]byte(s))
	}
	claims := &herald.Claims{UserID: "u1", Channels: []string{"private:a"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseInbound(data)
		if err != nil {
			if herald.CodeOf(err) != herald.EINVALID || herald.ErrorMessage(err) != "Failed to process message" {
				t.Fatalf("parse error %v", err)
			}
			return
		}
		var obj map[string]json.RawMessage
		if !json.Valid(data) || json.Unmarshal(data, &obj) != nil {
			t.Fatalf("accepted %q, not a JSON object", data)
		}
		if !WithinDepth(data, MaxDepth) {
			t.Fatalf("accepted %q, deeper than %d", data, MaxDepth)
		}
		if s, ok := stringField(m.RawType); !ok || s != m.Type {
			t.Fatalf("accepted %q with type %q from %s", data, m.Type, m.RawType)
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
		_, _ = stringField(m.Token)
	})
}
