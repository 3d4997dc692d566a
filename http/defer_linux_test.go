package http

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// The server's listening socket defers accepting until a connection's
// first bytes have come.
func TestListenerDefersAccept(t *testing.T) {
	ln, err := listenConfig.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var secs int
	var serr error
	_ = raw.Control(func(fd uintptr) { secs, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT) })
	if serr != nil || secs == 0 {
		t.Fatalf("TCP_DEFER_ACCEPT on the listener: %d, %v; want it set", secs, serr)
	}
}
