package http

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// deferAccept sets TCP_DEFER_ACCEPT on the listening socket: the kernel
// hands over a connection once its first bytes have arrived, not at the end
// of the TCP handshake. Every client of Herald speaks first (an HTTP
// request), so the first read of an accepted connection then finds its
// request instead of finding nothing, parking the goroutine and being woken
// again: a system call and a wake-up saved per connection. A connection
// that sends nothing for ReadHeaderTimeout is handed over anyway, and then
// times out as before.
func deferAccept(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, int(ReadHeaderTimeout.Seconds()))
	})
	if err != nil {
		return err
	}
	return serr
}
