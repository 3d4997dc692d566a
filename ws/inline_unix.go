//go:build unix

package ws

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// canWriteNow says writeNow works on this platform.
const canWriteNow = true

// errWouldBlock is what writeNow returns when the socket takes nothing now.
var errWouldBlock error = unix.EAGAIN

// writeNow writes bufs to rc's socket with one writev that does not wait
// for room: it returns how much the socket took, and errWouldBlock when
// it took nothing because its buffer is full.
func writeNow(rc syscall.RawConn, bufs [][]byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Writev(int(fd), bufs)
			if werr != unix.EINTR {
				return true // done, whatever happened: never wait
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if werr != nil {
		return 0, werr
	}
	return n, nil
}
