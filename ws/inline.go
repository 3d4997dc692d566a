package ws

import (
	"errors"
	"os"
	"time"
)

// flushInline writes the frames queued for c on the sender's goroutine, with
// a write that never waits, and hands whatever the socket did not take to a
// goroutine of its own, as the pool does for a socket that does not take its
// batch in time.
//
// Send takes this path for a message to one user (herald.ToUser) on a
// connection nothing is writing: such a message has a handful of recipients,
// the user's tabs and devices, so the sender writes each with a system call
// that copies into the kernel's buffer and returns. Handing it to the pool
// instead wakes a worker goroutine, often a thread with it, and sets a write
// deadline (a timer) for every message; in herald-bench versus, writing on
// the sender took the server's CPU per unicast send from about 31 µs to
// 27–29 (16 sends in flight). A message to a channel or to
// everyone stays with the pool, which writes its many connections in
// parallel and lets the messages published meanwhile join one writev.
//
// The sender may hold its session's lock, so flushInline never calls back
// into the session: a failed write is handled on another goroutine.
func (c *conn) flushInline() {
	bufs, _, closing := c.takeQueued()
	c.wmu.Lock()
	n, err := writeNow(c.raw, bufs)
	if errors.Is(err, os.ErrDeadlineExceeded) && n == 0 {
		// The deadline a pool write set has passed: that write is long
		// over, and this one does not wait.
		if err = c.nc.SetWriteDeadline(time.Time{}); err == nil {
			n, err = writeNow(c.raw, bufs)
		}
	}
	c.wmu.Unlock()
	c.srv.metrics.Writes.Inc()
	c.srv.inlineWrites.Add(1)
	switch rest := consume(bufs, n); {
	case err == nil && len(rest) == 0:
		c.afterWrite(nil, closing)
	case err == nil || errors.Is(err, errWouldBlock):
		// The socket's buffer is full: the client reads slowly, and the
		// rest waits for it off the sender's goroutine.
		go c.flushSlow(rest, closing)
	default:
		go c.afterWrite(err, closing)
	}
}

// consume drops the first n bytes of bufs, whose buffers are none empty.
func consume(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			break
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return bufs
}
