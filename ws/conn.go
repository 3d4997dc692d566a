package ws

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
)

const opText = ws.OpText

// frame is one queued outbound WebSocket frame. Text payloads are shared by
// every recipient of a send; only the few header bytes are made per connection.
type frame struct {
	op         ws.OpCode
	payload    []byte
	compressed bool // permessage-deflate: RSV1 set
}

// conn is one client connection: the WebSocket transport of a session. A
// reader (a goroutine, or the poller's) owns inbound traffic; a writer from
// the pool exists only while frames are queued, so an idle connection costs a
// few structs.
type conn struct {
	srv  *Server
	nc   net.Conn
	sess *session.Session
	fmt  format    // negotiated encoding, fixed after the handshake
	beat uint8     // the part of each heartbeat interval it is pinged in
	rd   msgReader // used by the one reader at a time

	connectedAt  time.Time
	lastActivity atomic.Int64 // unix nanoseconds of the last inbound frame
	awaitingPong atomic.Bool  // a heartbeat ping is unanswered

	mu        sync.Mutex
	preface   []byte // the upgrade's 101 response, sent with the first frames
	queue     []frame
	writing   bool  // a writer goroutine is running
	state     state // see lifecycle.go
	abort     bool  // closed as too slow: writes in progress give up
	latest    int   // index+1 in queue of the unsent Latest message, 0 if none
	pong      int   // index+1 in queue of the unsent pong, 0 if none
	closeCode int
	closeMsg  string
	// drained is signalled by the writer after each batch, and written
	// closed when the writes are over (the close frame written, or a write
	// failed). Both are made only when a sender waits on them (drainedLocked,
	// writtenLocked): an idle connection carries neither.
	drained   chan struct{}
	written   chan struct{}
	writesEnd bool // the writes are over: written is, or would be, closed

	polled bool   // waits in the poller rather than in a reader goroutine; set under mu while live
	pollID uint64 // its registration in the poller
	pollFD int
	wmu    sync.Mutex // serialises writes to nc
	// raw is nc's descriptor when nc is a bare socket, nil through TLS. On a
	// bare socket a write cut short by a deadline can be resumed where it
	// stopped, and a write that never waits can be made (flushInline); not
	// so through TLS, whose record layer a partial write leaves broken. The
	// poller registers the descriptor too.
	raw syscall.RawConn
}

func newConn(srv *Server, nc net.Conn, claims *herald.Claims) *conn {
	c := &conn{
		srv:         srv,
		nc:          nc,
		connectedAt: srv.cfg.Now(),
		beat:        uint8(srv.beats.Add(1) % heartbeatParts),
	}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.rd = msgReader{max: srv.cfg.MaxMessageBytes}
	c.sess = srv.engine.New(c, claims)
	c.touch()
	return c
}

// setFormat fixes the encoding the handshake negotiated.
func (c *conn) setFormat(f format) {
	c.fmt = f
	c.rd.deflate, c.rd.msgpack = f&fmtDeflate != 0, f&fmtMsgpack != 0
}

// RemoteAddr implements session.Transport.
func (c *conn) RemoteAddr() string { return c.nc.RemoteAddr().String() }

// user is the session's user, for logs.
func (c *conn) user() string { return c.sess.UserID() }

// Send implements session.Transport: it queues o in the connection's
// format. A connection whose queue is full is too slow to keep up; it is
// closed so that it can reconnect and resume, and it never delays the sender
// or other recipients.
func (c *conn) Send(o session.Outbound) bool {
	for {
		c.mu.Lock()
		if c.closingLocked() {
			c.mu.Unlock()
			return false
		}
		if o.Force || len(c.queue) < c.srv.cfg.QueueSize {
			if o.Msg != nil {
				c.enqueueLocked(o.Msg)
			} else {
				c.queue = append(c.queue, c.own(o.Data))
			}
			// With More, the next Send, on this goroutine, writes both.
			start := !o.More && c.startWriterLocked()
			inline := start && canWriteNow && c.raw != nil && o.Msg != nil && o.Msg.To.Kind == herald.ToUser && !o.Force && !o.Wait
			c.mu.Unlock()
			c.srv.metrics.MessagesOut.Inc()
			switch {
			case inline:
				c.flushInline()
			case start:
				c.srv.writers.push(c)
			}
			return true
		}
		if !o.Wait {
			c.mu.Unlock()
			c.overflow()
			return false
		}
		drained, written := c.drainedLocked(), c.writtenLocked()
		c.mu.Unlock()
		select {
		case <-drained:
		case <-written:
			return false
		case <-time.After(c.srv.cfg.WriteTimeout):
			c.overflow()
			return false
		}
	}
}

// Close implements session.Transport.
func (c *conn) Close(code int, reason string) { c.close(code, reason, false) }

// own encodes a reply only this connection receives in its format.
func (c *conn) own(payload []byte) frame {
	if c.fmt == 0 {
		return frame{op: ws.OpText, payload: payload}
	}
	e := convert(payload, c.fmt, c.srv.cfg.CompressThreshold)
	return frame{op: e.op, payload: e.data, compressed: e.compressed}
}

// sendControl queues a control frame (ping, pong). Control frames count
// against the queue limit like messages, and at most one pong waits: a newer
// ping's payload replaces it, as RFC 6455 (section 5.5.3) allows, so a client
// that pings without reading cannot grow the queue.
func (c *conn) sendControl(op ws.OpCode, payload []byte) {
	c.mu.Lock()
	if c.closingLocked() {
		c.mu.Unlock()
		return
	}
	if op == ws.OpPong && c.pong > 0 {
		c.queue[c.pong-1].payload = payload
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.srv.cfg.QueueSize {
		c.mu.Unlock()
		c.overflow()
		return
	}
	c.queue = append(c.queue, frame{op: op, payload: payload})
	if op == ws.OpPong {
		c.pong = len(c.queue)
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.srv.writers.push(c)
	}
}

// enqueueLocked appends m, replacing an unsent Latest message it
// supersedes (the session has dropped older versions already).
func (c *conn) enqueueLocked(m *herald.Message) {
	f := frame{op: ws.OpText, payload: m.Payload}
	if c.fmt != 0 {
		e := encodedAs(m, c.fmt, c.srv.cfg.CompressThreshold)
		f = frame{op: e.op, payload: e.data, compressed: e.compressed}
	}
	if m.Latest {
		// Replace in place: the queue does not grow, and the last such
		// message the client reads is still the newest.
		if c.latest > 0 {
			c.queue[c.latest-1] = f
			return
		}
		c.latest = len(c.queue) + 1
	}
	c.queue = append(c.queue, f)
}

func (c *conn) startWriterLocked() bool {
	if c.writing {
		return false
	}
	c.writing = true
	return true
}

// overflow closes a connection that could not keep up.
func (c *conn) overflow() {
	c.srv.metrics.QueueOverflows.Inc()
	c.close(herald.CloseTryAgainLater, "Too slow to keep up; reconnect and resume", true)
}

// close queues a close frame with code and reason after what is queued (or
// instead of it when drop is set) and stops the connection from taking more.
// The reader then waits for the client's reply, briefly, and closes the socket.
func (c *conn) close(code int, reason string, drop bool) {
	c.mu.Lock()
	if !c.toLocked(stClosing) {
		c.mu.Unlock()
		return
	}
	c.queueCloseLocked(code, reason, drop)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.srv.writers.push(c)
	}
}

// queueCloseLocked queues the close frame, after what is queued or, with
// drop, instead of it.
func (c *conn) queueCloseLocked(code int, reason string, drop bool) {
	c.closeCode, c.closeMsg = code, reason
	if drop {
		c.queue, c.latest, c.pong = c.queue[:0], 0, 0
		// Unblock a writer stuck on a socket that does not drain.
		c.abort = true
		_ = c.nc.SetWriteDeadline(time.Now())
	}
	c.queue = append(c.queue, frame{op: ws.OpClose, payload: ws.NewCloseFrameBody(ws.StatusCode(code), reason)})
}

// finishWrites ends the writer after the close frame or a write error. After a
// close frame the client gets a moment to answer; otherwise the socket is shut
// so the reader returns.
func (c *conn) finishWrites(closeSent bool) {
	c.mu.Lock()
	c.toLocked(stClosing)
	c.queue, c.latest, c.pong = nil, 0, 0
	c.writing = true // no writer will start again
	polled := c.polled
	c.mu.Unlock()
	switch {
	case closeSent && polled:
		// No reader waits: end it if the client does not answer in time.
		time.AfterFunc(c.srv.cfg.CloseTimeout, func() { c.srv.terminate(c) })
	case closeSent:
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.CloseTimeout))
	default:
		c.srv.terminate(c)
	}
	c.mu.Lock()
	if !c.writesEnd {
		c.writesEnd = true
		if c.written != nil {
			close(c.written)
		}
	}
	c.mu.Unlock()
}

// writtenLocked returns a channel closed once the writes are over.
func (c *conn) writtenLocked() <-chan struct{} {
	switch {
	case c.written != nil:
		return c.written
	case c.writesEnd:
		return closedChan
	}
	c.written = make(chan struct{})
	return c.written
}

// drainedLocked returns the channel the writer signals after each batch.
// A sender that finds the queue full under mu and then waits on it misses
// no batch: the queue holds frames, so a batch that takes them ends after.
func (c *conn) drainedLocked() <-chan struct{} {
	if c.drained == nil {
		c.drained = make(chan struct{}, 1)
	}
	return c.drained
}

// closedChan is a closed channel, for waits on what is already over.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// isClosing reports whether a close frame is queued or sent.
func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closingLocked()
}

// aborted reports whether the connection was closed as too slow.
func (c *conn) aborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.abort
}

// touch records inbound activity, which also counts as a heartbeat answer.
func (c *conn) touch() {
	c.lastActivity.Store(c.srv.cfg.Now().UnixNano())
	c.awaitingPong.Store(false)
}
