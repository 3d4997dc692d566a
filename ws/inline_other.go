//go:build !unix

package ws

import (
	"errors"
	"syscall"
)

// canWriteNow says writeNow works on this platform: not here, where every
// write goes through the pool.
const canWriteNow = false

var errWouldBlock = errors.New("ws: would block")

func writeNow(syscall.RawConn, [][]byte) (int, error) {
	return 0, errors.ErrUnsupported
}
