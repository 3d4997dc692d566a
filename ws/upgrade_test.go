package ws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gws "github.com/gobwas/ws"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/ws"
)

// TestRefusedUpgradeClosesTheConnection shows that a plain GET /ws (what a
// proxy that strips Upgrade forwards) is answered 400 with the JSON error
// body and its connection closed: the upgrader hijacked it, so nothing else would, and a proxy
// reusing it for its next request would wait for ever.
func TestRefusedUpgradeClosesTheConnection(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	nc := sendRaw(t, e, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	// The API's JSON error body, not the upgrader's plain text.
	var refusal struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &refusal); err != nil || refusal.Error.Code != "invalid" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("body %q (%s, %v), want a JSON error with code invalid", body, resp.Header.Get("Content-Type"), err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the refusal: %v, want the connection closed (EOF)", err)
	}
}

// TestBadHandshakeIsAnswered: an upgrade the upgrader itself refuses (here
// a Sec-WebSocket-Key of the wrong length) gets its HTTP answer, which the
// upgrader writes into a held buffer, and then its connection is closed.
func TestBadHandshakeIsAnswered(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	nc := sendRaw(t, e, upgradeRequest(e.urlFor("alice", e.token("alice")), "short"))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a bad handshake: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("after the refusal: %v, want the connection closed", err)
	}
}

// slowAdmission admits every connection after a delay.
type slowAdmission struct{ delay time.Duration }

func (a slowAdmission) Admit(context.Context, string) error { time.Sleep(a.delay); return nil }
func (a slowAdmission) Release(string)                      {}

// TestUpgradeAnswerLeavesWithTheGreeting: the 101 response is held until the
// connection has something to say and leaves in the same write as the
// "connected" message. With admission taking 300 ms between the two, one read
// gets both; were the 101 sent at once, the first read would end after it.
func TestUpgradeAnswerLeavesWithTheGreeting(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.Admission = slowAdmission{300 * time.Millisecond} })
	nc := sendRaw(t, e, upgradeRequest(e.urlFor("alice", e.token("alice")), "dGhlIHNhbXBsZSBub25jZQ=="))
	buf := make([]byte, 4096)
	n, err := nc.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "HTTP/1.1 101 ") || !strings.Contains(got, `"type":"connected"`) {
		t.Fatalf("first read: %q; want the 101 and the connected message together", got)
	}
}

// slowVerifier takes a while over every token.
type slowVerifier struct {
	herald.TokenVerifier
	delay time.Duration
}

func (v slowVerifier) Verify(ctx context.Context, token string) (*herald.Claims, error) {
	time.Sleep(v.delay)
	return v.TokenVerifier.Verify(ctx, token)
}

// TestRefusalLeavesWithTheUpgradeAnswer: a refused token's close frame leaves
// in the same write as the 101. With verification taking 300 ms between the
// two, the bytes buffered with the 101 hold the close frame; were the 101 sent
// at once, they would not.
func TestRefusalLeavesWithTheUpgradeAnswer(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.Verifier = slowVerifier{c.Verifier, 300 * time.Millisecond} })
	nc := sendRaw(t, e, upgradeRequest(e.urlFor("alice", "not-a-token"), "dGhlIHNhbXBsZSBub25jZQ=="))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("answer %v, %v; want 101", resp, err)
	}
	if br.Buffered() == 0 {
		t.Fatal("the close frame did not arrive with the 101")
	}
	f, err := gws.ReadFrame(br)
	if err != nil || f.Header.OpCode != gws.OpClose {
		t.Fatalf("frame %v, %v; want a close frame", f.Header, err)
	}
	if code, _ := gws.ParseCloseFrameData(f.Payload); code != 4002 {
		t.Fatalf("close %d, want 4002", code)
	}
}

// sendRaw dials e's server, sends request as it is, and returns the
// connection, closed when the test ends.
func sendRaw(t *testing.T, e *env, request string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, request); err != nil {
		t.Fatal(err)
	}
	return nc
}

// upgradeRequest is a WebSocket upgrade of wsURL, a URL of the env's, with
// key as its Sec-WebSocket-Key.
func upgradeRequest(wsURL, key string) string {
	u, _ := url.Parse(wsURL)
	return "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"
}
