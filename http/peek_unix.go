//go:build unix

package http

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// errNoPeek says peek cannot look at a connection's bytes.
var errNoPeek = errors.New("http: cannot peek at this connection")

// peek fills p with the first bytes waiting on nc, a TCP connection, and
// leaves them there for the next read (MSG_PEEK), waiting for some to come
// within nc's read deadline. It returns what it saw; errNoPeek for another
// kind of connection; io.EOF when the client closed without sending.
func peek(nc net.Conn, p []byte) ([]byte, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errNoPeek
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, errNoPeek
	}
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK)
		return perr != syscall.EAGAIN // not yet readable: wait
	})
	switch {
	case err != nil:
		return nil, err
	case perr != nil:
		return nil, perr
	case n <= 0:
		return nil, io.EOF
	}
	return p[:n], nil
}
