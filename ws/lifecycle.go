package ws

// state is where a connection is in its life. It only moves forward, under
// conn.mu, through conn.toLocked:
//
//	handshake → live → closing → closed
//
// handshake: accepted and authenticated, not yet registered with the hub.
// live: registered; frames are queued and read.
// closing: a close frame is queued (closeCode set) or the socket was shut
// (terminate); nothing more is queued, the reader still waits for the
// client's close frame.
// closed: teardown owns the connection; it runs once.
type state uint8

const (
	stHandshake state = iota
	stLive
	stClosing
	stClosed
)

func (s state) String() string {
	return [...]string{"handshake", "live", "closing", "closed"}[s]
}

// toLocked moves c to st and reports whether it moved: a connection never
// goes back, and never enters the state it is in twice. Entering closing or
// closed tells the session, which stops handing messages on. Callers hold c.mu.
func (c *conn) toLocked(st state) bool {
	if st <= c.state {
		return false
	}
	c.state = st
	if st >= stClosing {
		c.sess.Closing()
	}
	return true
}

// closingLocked reports whether c takes no more frames.
func (c *conn) closingLocked() bool { return c.state >= stClosing }
