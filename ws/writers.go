package ws

import (
	"bytes"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// poolWriteWait is how long a pool worker waits on one socket. A write to a
// healthy socket only copies into the kernel's buffer and returns at once; a
// socket that does not take its batch by then continues on a goroutine of
// its own, so that a slow client never holds a worker the others need.
const poolWriteWait = 50 * time.Millisecond

// yieldEvery is how many connections the writers write, without the line
// ever running empty, before they pause for the network (see netYield). Each
// write costs microseconds and a pause a few, so pausing every 64 costs well
// under a hundredth of the writers' time. On a longer line they pause at most
// yieldsPerPass times per pass over it: each pause may let in a publish from
// every publisher, which queues one more frame on every connection of the
// line, so pausing more often would let a burst of publishes fill healthy
// clients' queues (QueueSize) before one pass has written them. For the same
// reason they pause only while the batch just written was under an eighth of
// QueueSize: once writes carry that many frames, batching has done what it
// can, and many publishers let in at each pause would fill the queues.
const (
	yieldEvery    = 64
	yieldsPerPass = 8
)

// writers is a small fixed set of goroutines that write for every
// connection (but a message to one user on a connection nothing is writing,
// which its sender writes: see flushInline). A connection with frames queued
// waits in one FIFO line; while it waits, more frames pile up behind the
// first, and the worker that reaches it writes them all with one writev. That batching, and not starting a goroutine
// per burst, is what keeps the CPU cost of a fan-out delivery low.
type writers struct {
	n          int
	pauseBatch int // frames per write from which the writers no longer pause: QueueSize/8

	mu      sync.Mutex
	cond    *sync.Cond
	line    []*conn
	head    int
	started bool
	stopped bool
	wg      sync.WaitGroup

	yield   *netYield    // nil: the writers never pause
	burst   int          // connections taken since the line was empty or the last pause
	peak    int          // the longest the line has been since it was empty
	pausing bool         // a worker is pausing; the others wait for it
	pauses  atomic.Int64 // pauses made, for tests
}

func newWriters(n, queueSize int) *writers {
	if n <= 0 {
		n = max(2, 2*runtime.GOMAXPROCS(0))
	}
	w := &writers{n: n, pauseBatch: queueSize / 8}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// push puts c at the end of the line. The workers start with the first push.
func (w *writers) push(c *conn) {
	w.mu.Lock()
	if !w.started && !w.stopped {
		w.started = true
		w.yield = newNetYield()
		w.wg.Add(w.n)
		for range w.n {
			go w.run()
		}
	}
	w.line = append(w.line, c)
	w.mu.Unlock()
	w.cond.Signal()
}

func (w *writers) run() {
	defer w.wg.Done()
	written := 0 // frames in this worker's last write
	for {
		w.mu.Lock()
		if w.pauseDue(written) {
			w.pausing, w.burst = true, 0
			w.mu.Unlock()
			w.pauses.Add(1)
			w.yield.pause()
			w.mu.Lock()
			w.pausing = false
			w.cond.Broadcast()
		}
		for w.pausing || (w.head == len(w.line) && !w.stopped) {
			w.cond.Wait()
		}
		if w.head == len(w.line) {
			w.mu.Unlock()
			return
		}
		c := w.line[w.head]
		w.line[w.head] = nil
		w.head++
		w.burst++
		w.peak = max(w.peak, len(w.line)-w.head+1)
		if w.head == len(w.line) {
			w.line, w.head, w.burst, w.peak = w.line[:0], 0, 0, 0
		} else if w.head > 1024 && w.head*2 > len(w.line) {
			w.line, w.head = append(w.line[:0], w.line[w.head:]...), 0
		}
		w.mu.Unlock()
		written = c.flushOnce()
	}
}

// pauseDue reports, under mu, whether a worker whose last write carried
// frames should pause now: the line has not run empty for long enough (see
// yieldEvery), no one else is pausing, and writes are still small.
func (w *writers) pauseDue(frames int) bool {
	return w.yield != nil && frames > 0 && frames < w.pauseBatch && !w.pausing && w.head < len(w.line) &&
		w.burst >= max(yieldEvery, w.peak/yieldsPerPass)
}

// stop lets the workers finish the line and end.
func (w *writers) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.cond.Broadcast()
	w.wg.Wait()
	if w.yield != nil {
		w.yield.close()
	}
}

// flushOnce writes everything queued with one writev and hands the connection
// on: back into the line when more was queued meanwhile, to nobody when not.
// It returns how many frames it took.
func (c *conn) flushOnce() int {
	bufs, frames, closing := c.takeQueued()
	if c.raw == nil {
		// A deadline that expires mid-write would leave a partial record
		// (TLS), which the close that follows turns into a corrupt
		// stream: such sockets write with the full timeout, off the pool.
		go c.flushSlow(bufs, closing)
		return frames
	}
	c.wmu.Lock()
	err := c.nc.SetWriteDeadline(time.Now().Add(poolWriteWait))
	if err == nil {
		_, err = bufs.WriteTo(c.nc)
		c.srv.metrics.Writes.Inc()
	}
	c.wmu.Unlock()
	if err != nil && isTimeout(err) && !c.aborted() {
		go c.flushSlow(bufs, closing) // bufs holds what was not written
		return frames
	}
	c.afterWrite(err, closing)
	return frames
}

// takeQueued empties the queue and lays out what it held, after the
// upgrade's answer if that is still unsent, as one writev: the buffers,
// how many frames they hold, and whether the last is a close frame.
func (c *conn) takeQueued() (bufs net.Buffers, frames int, closing bool) {
	c.mu.Lock()
	batch, preface := c.queue, c.preface
	c.queue, c.latest, c.pong, c.preface = nil, 0, 0, nil
	c.mu.Unlock()
	bufs, closing = encodeFrames(batch)
	if preface != nil {
		bufs = append(net.Buffers{preface}, bufs...)
	}
	clear(batch) // the buffers hold what is needed; drop the rest for the GC
	return bufs, len(batch), closing
}

// flushSlow finishes a batch the socket did not take at once, waiting up to
// WriteTimeout, on the connection's own goroutine.
func (c *conn) flushSlow(bufs net.Buffers, closing bool) {
	c.wmu.Lock()
	err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	if err == nil && !c.aborted() {
		_, err = bufs.WriteTo(c.nc)
		c.srv.metrics.Writes.Inc()
	}
	c.wmu.Unlock()
	if c.aborted() && err == nil {
		err = net.ErrClosed
	}
	c.afterWrite(err, closing)
}

// afterWrite ends the connection's writes after a close frame or an error,
// or requeues it when frames were queued during the write.
func (c *conn) afterWrite(err error, closing bool) {
	c.mu.Lock()
	if c.drained != nil {
		select {
		case c.drained <- struct{}{}:
		default:
		}
	}
	if err != nil || closing {
		c.mu.Unlock()
		c.finishWrites(err == nil)
		return
	}
	more := len(c.queue) > 0
	if !more {
		c.writing = false
	}
	c.mu.Unlock()
	if more {
		c.srv.writers.push(c)
	}
}

// encodeFrames lays out a batch as one writev: each frame's few header bytes,
// made here into one small buffer, then its payload, shared and not copied.
func encodeFrames(batch []frame) (net.Buffers, bool) {
	hdr := bytes.NewBuffer(make([]byte, 0, len(batch)*ws.MaxHeaderSize))
	ends := make([]int, len(batch))
	closing := false
	for i, f := range batch {
		h := ws.Header{Fin: true, OpCode: f.op, Length: int64(len(f.payload))}
		if f.compressed {
			h.Rsv = ws.Rsv(true, false, false)
		}
		_ = ws.WriteHeader(hdr, h)
		ends[i] = hdr.Len()
		closing = closing || f.op == ws.OpClose
	}
	bufs := make(net.Buffers, 0, 2*len(batch))
	start := 0
	for i, f := range batch {
		bufs = append(bufs, hdr.Bytes()[start:ends[i]])
		if len(f.payload) > 0 {
			bufs = append(bufs, f.payload)
		}
		start = ends[i]
	}
	return bufs, closing
}
