package noupgrade

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStripsUpgradeAndStreams shows that the proxy drops a WebSocket
// upgrade (the server sees a plain GET) and passes an event stream event by
// event, not buffered.
func TestStripsUpgradeAndStreams(t *testing.T) {
	next := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "upgrade="+r.Header.Get("Upgrade"))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: two\n\n")
	}))
	defer srv.Close()
	defer close(next)
	p := Start(t, srv.URL)

	req, _ := http.NewRequest("GET", p.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || string(body) != "upgrade=" || p.Stripped() != 1 {
		t.Fatalf("status %d body %q stripped %d; want 400, no Upgrade seen, 1", resp.StatusCode, body, p.Stripped())
	}

	resp, err = http.Get(p.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "data: one" {
		t.Fatalf("first event line %q, %v: the stream is buffered", line, err)
	}
}
