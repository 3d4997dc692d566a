package ws

import (
	"io"
	"sync"
)

// burstSize is the buffer a polled connection's reader fills at once: enough
// for the small messages clients send (subscribe, ack, pong, close) and for
// several of them sent back to back.
const burstSize = 4 << 10

// burst reads a socket a bufferful at a time for a reader that asks for a few
// bytes at a time. A frame's header, mask and payload then arrive in one
// read system call instead of three. It is taken from a pool for one burst of
// reading and given back once everything it read has been used, so an idle
// connection still holds no buffer.
type burst struct {
	src  io.Reader
	buf  []byte
	r, w int
}

var bursts = sync.Pool{New: func() any { return &burst{buf: make([]byte, burstSize)} }}

// getBurst returns an empty burst reading src.
func getBurst(src io.Reader) *burst {
	b := bursts.Get().(*burst)
	b.src, b.r, b.w = src, 0, 0
	return b
}

// put gives b back to the pool, dropping what it holds: a reader that must
// not lose bytes puts it back only once buffered is 0.
func (b *burst) put() {
	b.src = nil
	bursts.Put(b)
}

// buffered is how many bytes b has read that its reader has not yet taken.
func (b *burst) buffered() int { return b.w - b.r }

// Read returns buffered bytes first; when there are none it refills the
// buffer with one read, or reads straight into p when p is at least as large.
func (b *burst) Read(p []byte) (int, error) {
	if b.r == b.w {
		if len(p) >= len(b.buf) {
			return b.src.Read(p)
		}
		n, err := b.src.Read(b.buf)
		b.r, b.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}
