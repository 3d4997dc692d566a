package ws_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/ws"
)

// TestTLSStalledReaderKeepsTheStream: over TLS, a client that stops
// reading while a large message is written, then reads again, gets the
// message intact. A write the pool cut short after its brief wait used to
// leave half a TLS record, which the connection's close then followed with
// an alert: the client saw "bad record MAC".
func TestTLSStalledReaderKeepsTheStream(t *testing.T) {
	h := hub.New(hub.Config{})
	srv := ws.New(ws.Config{Hub: h, Verifier: jwt.NewVerifier(jwt.Config{Secret: secret}), NoPoller: suiteNoPoller})
	ts := httptest.NewUnstartedServer(srv)
	ts.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	tr := ts.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		// A small window, so that the server's writes stall at once.
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext
	tok, err := jwt.NewIssuer(jwt.Config{Secret: secret}).Issue("alice", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := "wss" + strings.TrimPrefix(ts.URL, "https") + "/ws?" + url.Values{"token": {tok}, "userId": {"alice"}}.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(8 << 20)
	if _, m, err := c.Read(ctx); err != nil || !strings.Contains(string(m), `"connected"`) {
		t.Fatalf("first message %q, %v", m, err)
	}
	big := `{"type":"big","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	h.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Payload: []byte(big)})
	time.Sleep(300 * time.Millisecond) // not reading: the server's write stalls past the pool's wait
	_, m, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading the large message after a stall: %v", err)
	}
	if string(m) != big {
		t.Fatalf("large message arrived altered (%d bytes, want %d)", len(m), len(big))
	}
}
