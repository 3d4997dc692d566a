package ws_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/hub"
)

// TestRefusedUpgradeClosesTheConnection shows that a plain GET /ws (what a
// proxy that strips Upgrade forwards) is answered 400 with the JSON error
// body and its connection closed: the upgrader hijacked it, so nothing else would, and a proxy
// reusing it for its next request would wait for ever.
func TestRefusedUpgradeClosesTheConnection(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
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
