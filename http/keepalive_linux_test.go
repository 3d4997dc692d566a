package http_test

import (
	"net"
	"net/http"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoTCPKeepAlive checks that accepted connections carry no kernel
// keep-alive probes: Herald's protocols find dead peers themselves, and
// Go's default would cost four setsockopt calls per connection.
func TestNoTCPKeepAlive(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Handle("GET /keepalive", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer nc.Close()
		raw, err := nc.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Errorf("raw conn: %v", err)
			return
		}
		var on int
		var serr error
		_ = raw.Control(func(fd uintptr) { on, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE) })
		if serr != nil || on != 0 {
			t.Errorf("SO_KEEPALIVE on an accepted connection: %d, %v; want 0", on, serr)
		}
		_, _ = nc.Write([]byte("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"))
	}))
	if r := e.do(req{method: "GET", path: "/keepalive"}); r.status != 204 {
		t.Fatalf("GET /keepalive: %d", r.status)
	}
}
