package ws

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/heraldhq/herald"
)

const opText = ws.OpText

// frame is one queued outbound WebSocket frame. Text payloads are shared by
// every recipient of a send; only the few header bytes are made per connection.
type frame struct {
	op         ws.OpCode
	payload    []byte
	compressed bool // permessage-deflate: RSV1 set
}

// conn is one client connection. A reader goroutine owns inbound traffic for
// the connection's whole life; a writer goroutine exists only while frames are
// queued, so an idle connection costs one parked goroutine and a few structs.
type conn struct {
	srv  *Server
	nc   net.Conn
	fmt  format // negotiated encoding, fixed after the handshake
	user string
	rd   msgReader // used by the one reader at a time
	// limit is the inbound budget of messages and control frames; used by
	// the one reader at a time.
	limit *limiter

	subMu  sync.Mutex          // guards claims, lapsed, subs; taken before mu and the hub's lock
	claims *herald.Claims      // the token's, replaced by an in-band refresh
	lapsed bool                // past exp: the token's channel grants no longer count
	subs   map[string]struct{} // channels joined, to re-check when the grants change

	connectedAt  time.Time
	lastActivity atomic.Int64 // unix nanoseconds of the last inbound frame
	awaitingPong atomic.Bool  // a heartbeat ping is unanswered

	mu        sync.Mutex
	queue     []frame
	writing   bool // a writer goroutine is running
	closing   bool // a close frame is queued or sent; nothing more is queued
	abort     bool // closed as too slow: writes in progress give up
	replaying bool // live messages are held while missed ones are replayed
	held      []*herald.Message
	seqs      seqTracker // notification seqs queued to this connection
	dedupe    bool       // drop live notifications already sent, once a replay has run
	latest    int        // index+1 in queue of the unsent Latest message, 0 if none
	version   int64      // greatest Message.Version queued (or sent in "connected")
	pong      int        // index+1 in queue of the unsent pong, 0 if none
	closeCode int
	closeMsg  string
	drained   chan struct{} // signalled by the writer after each batch
	written   chan struct{} // closed when the close frame has been written (or failed)

	expiry *time.Timer // ends the token's grants at its exp, then closes the connection

	d        *dispatcher // its messages' handler, set when it starts
	polled   atomic.Bool // waits in the poller rather than in a reader goroutine
	pollID   uint64      // its registration in the poller
	pollFD   int
	tornDown atomic.Bool // teardown has run or is running
	wmu      sync.Mutex  // serialises writes to nc
	replayMu sync.Mutex  // one replay at a time
}

func newConn(srv *Server, nc net.Conn, claims *herald.Claims) *conn {
	c := &conn{
		srv:         srv,
		nc:          nc,
		user:        claims.UserID,
		claims:      claims,
		connectedAt: srv.cfg.Now(),
		drained:     make(chan struct{}, 1),
		written:     make(chan struct{}),
		replaying:   true, // hold live messages until "connected" is queued
		limit:       newLimiter(srv.cfg.RateLimit, srv.cfg.RateBurst, srv.cfg.Now),
	}
	c.rd = msgReader{max: srv.cfg.MaxMessageBytes}
	c.touch()
	// Greeting first: a resync asked for before "connected" (and the initial
	// replay) went out waits until Server.start is done with them.
	c.replayMu.Lock()
	return c
}

// setFormat fixes the encoding the handshake negotiated.
func (c *conn) setFormat(f format) {
	c.fmt = f
	c.rd.deflate, c.rd.msgpack = f&fmtDeflate != 0, f&fmtMsgpack != 0
}

// UserID implements herald.Conn.
func (c *conn) UserID() string { return c.user }

// Send implements herald.Conn: it queues m without blocking. A connection whose
// queue is full is too slow to keep up; it is closed so that it can reconnect
// and resume, and it never delays the sender or other recipients.
func (c *conn) Send(m *herald.Message) bool {
	if m.Close != 0 {
		c.close(m.Close, string(m.Payload), false)
		return true
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if c.replaying {
		if len(c.held) >= c.srv.cfg.QueueSize*4 {
			c.mu.Unlock()
			c.overflow()
			return false
		}
		c.held = append(c.held, m)
		c.mu.Unlock()
		return true
	}
	if len(c.queue) >= c.srv.cfg.QueueSize {
		c.mu.Unlock()
		c.overflow()
		return false
	}
	c.enqueueLocked(m)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.srv.writers.push(c)
	}
	c.srv.metrics.messagesOut.Inc()
	return true
}

// sendData queues a payload that only this connection receives (a reply).
// wait makes it block for queue space instead of failing, for replays.
func (c *conn) sendData(payload []byte, wait bool) bool {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return false
		}
		if len(c.queue) < c.srv.cfg.QueueSize {
			c.queue = append(c.queue, c.own(payload))
			start := c.startWriterLocked()
			c.mu.Unlock()
			if start {
				c.srv.writers.push(c)
			}
			c.srv.metrics.messagesOut.Inc()
			return true
		}
		c.mu.Unlock()
		if !wait {
			c.overflow()
			return false
		}
		select {
		case <-c.drained:
		case <-c.written:
			return false
		case <-time.After(c.srv.cfg.WriteTimeout):
			c.overflow()
			return false
		}
	}
}

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
	if c.closing {
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

// enqueueLocked appends m, replacing an unsent message it supersedes, and
// dropping a notification this connection was already sent by a replay.
func (c *conn) enqueueLocked(m *herald.Message) {
	if m.Seq != 0 {
		if c.dedupe && c.seqs.has(m.Seq) {
			return
		}
		c.seqs.mark(m.Seq)
		if len(m.Payload) == 0 {
			return // a seq marker: the seq is used, nothing is sent
		}
	}
	f := frame{op: ws.OpText, payload: m.Payload}
	if c.fmt != 0 {
		e := c.srv.enc.get(m, c.fmt)
		f = frame{op: e.op, payload: e.data, compressed: e.compressed}
	}
	if m.Latest {
		// A versioned message older than one already queued or sent is
		// stale: counts from several nodes may arrive out of order.
		if m.Version != 0 {
			if m.Version <= c.version {
				return
			}
			c.version = m.Version
		}
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
	c.srv.metrics.queueOverflows.Inc()
	c.close(herald.CloseTryAgainLater, "Too slow to keep up; reconnect and resume", true)
}

// close queues a close frame with code and reason after what is queued (or
// instead of it when drop is set) and stops the connection from taking more.
// The reader then waits for the client's reply, briefly, and closes the socket.
func (c *conn) close(code int, reason string, drop bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeCode, c.closeMsg = code, reason
	c.held = nil
	if drop {
		c.queue, c.latest, c.pong = c.queue[:0], 0, 0
		// Unblock a writer stuck on a socket that does not drain.
		c.abort = true
		_ = c.nc.SetWriteDeadline(time.Now())
	}
	c.queue = append(c.queue, frame{op: ws.OpClose, payload: ws.NewCloseFrameBody(ws.StatusCode(code), reason)})
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.srv.writers.push(c)
	}
}

// finishWrites ends the writer after the close frame or a write error. After a
// close frame the client gets a moment to answer; otherwise the socket is shut
// so the reader returns.
func (c *conn) finishWrites(closeSent bool) {
	c.mu.Lock()
	c.closing = true
	c.queue, c.latest, c.pong = nil, 0, 0
	c.writing = true // no writer will start again
	c.mu.Unlock()
	switch {
	case closeSent && c.polled.Load():
		// No reader waits: end it if the client does not answer in time.
		time.AfterFunc(c.srv.cfg.CloseTimeout, func() { c.srv.terminate(c) })
	case closeSent:
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.CloseTimeout))
	default:
		c.srv.terminate(c)
	}
	select {
	case <-c.written:
	default:
		close(c.written)
	}
}

// isClosing reports whether a close frame is queued or sent.
func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// admit takes one unit of the connection's inbound budget for a message or a
// control frame and reports whether to process it. Past the budget the first
// refusal answers rate_limited, and a client that keeps on for another
// second's worth is closed with 1008.
func (c *conn) admit() bool {
	ok, persist := c.limit.allow()
	if ok {
		return true
	}
	c.srv.metrics.messagesIn.WithLabelValues("rate_limited").Inc()
	switch {
	case persist:
		c.close(herald.ClosePolicy, "Rate limit exceeded", false)
	case c.limit.strikes == 1: // one error per burst, not one per frame
		c.sendData(encode(errorMsg{Type: herald.TypeError, Message: "Rate limit exceeded", Code: herald.ERATELIMIT}), false)
	}
	return false
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
