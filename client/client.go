package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// State is where a Client's connection stands.
type State string

// The connection states, as the design document names them.
const (
	StateDisconnected State = "disconnected"
	StateConnecting   State = "connecting"
	StateConnected    State = "connected"
	StateReconnecting State = "reconnecting"
)

// Client is a connection to Herald's /ws for one user, kept alive across
// failures, plus the user's inbox over REST (the embedded *Inbox). Its
// methods are safe for concurrent use; its event handlers run one at a
// time on a goroutine of its own, in the order the events happened.
type Client struct {
	*Inbox

	opts  Options
	log   *slog.Logger
	clock Clock
	bo    backoff
	h     handlers
	ev    events

	mu       sync.Mutex
	state    State
	cancel   context.CancelFunc // ends the running connection loop; nil when none runs
	done     chan struct{}      // closed when that loop has ended
	sess     *session           // the open connection, nil when none
	lastSeq  int64              // greatest notification seq seen
	seqKnown bool               // lastSeq is a valid resume point
	seen     *seenSet
	channels map[string]struct{} // subscriptions to restore after a reconnect
	unread   unreadState         // the newest count the server gave (unread.go)
	sse      bool                // connections use SSE (Options.Transport, or a fallback)
	early    int                 // consecutive WebSocket failures before a greeting
}

// New returns a disconnected Client for o, or an error naming the first
// invalid option.
func New(o Options) (*Client, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	jitter := max(o.Jitter, 0)
	c := &Client{
		Inbox:    NewInbox(o.APIURL, o.TokenSource, o.HTTPClient),
		opts:     o,
		log:      o.Logger,
		clock:    o.Clock,
		bo:       backoff{Initial: o.InitialBackoff, Max: o.MaxBackoff, Jitter: jitter},
		state:    StateDisconnected,
		seen:     newSeenSet(o.DedupSize),
		channels: make(map[string]struct{}),
	}
	c.ev.log = o.Logger
	if o.Since != nil {
		c.lastSeq, c.seqKnown = *o.Since, true
	}
	return c, nil
}

// State returns the connection's state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// IsConnected reports whether a connection is open and greeted.
func (c *Client) IsConnected() bool { return c.State() == StateConnected }

// Encoding returns the encoding of the open connection: Options.Encoding
// when the server agreed to it, EncodingJSON when it did not (an older
// server); "" when not connected.
func (c *Client) Encoding() Encoding {
	if s := c.current(); s != nil {
		return s.enc
	}
	return ""
}

// Transport returns what carries the open connection, TransportWebSocket
// or TransportSSE; "" when not connected. With TransportAuto it tells
// whether the client fell back to SSE.
func (c *Client) Transport() Transport {
	if s := c.current(); s != nil {
		return s.transport
	}
	return ""
}

// Compressed reports whether the open connection negotiated
// permessage-deflate (Options.Compression with a server that accepts it).
func (c *Client) Compressed() bool {
	s := c.current()
	return s != nil && s.compressed
}

// LastSeq returns the greatest notification seq the client has seen: the
// point it resumes from. An application that persists it can pass it back
// as Options.Since after a restart.
func (c *Client) LastSeq() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq
}

// Connect opens one connection and returns once the server has greeted it.
// An authentication failure is retried once at once with a fresh token;
// any other failure is returned. When the connection is later lost, the
// client does not reconnect: use ConnectWithRetry for that.
func (c *Client) Connect(ctx context.Context) error { return c.start(ctx, false) }

// ConnectWithRetry connects and keeps the client connected until
// Disconnect: failed attempts and lost connections are retried with
// exponential backoff (InitialBackoff doubling to MaxBackoff, with jitter),
// authentication failures at once with a fresh token, each reconnection
// resuming where the last connection stopped. It returns once the first
// connection is greeted, or with an error when ctx ends first or
// MaxAttempts attempts failed.
func (c *Client) ConnectWithRetry(ctx context.Context) error { return c.start(ctx, true) }

func (c *Client) start(ctx context.Context, retry bool) error {
	c.mu.Lock()
	if c.cancel != nil {
		c.mu.Unlock()
		return &Error{Type: ErrServer, Message: "already connected or connecting; call Disconnect first"}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.cancel, c.done, c.state = cancel, done, StateConnecting
	c.sse, c.early = c.opts.Transport == TransportSSE, 0
	c.mu.Unlock()

	first := make(chan error, 1)
	go c.run(runCtx, retry, first, done)
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		select {
		case err := <-first:
			return err
		default:
		}
		c.Disconnect()
		return asError(ctx.Err(), ErrNetwork, "connecting")
	}
}

// Disconnect closes the connection normally (1000) and stops reconnecting.
// It returns once the connection loop has ended; the disconnected event
// may be handled just after (see Drain). It may be called from an event
// handler.
func (c *Client) Disconnect() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	if cancel == nil {
		c.mu.Unlock()
		return
	}
	// Cancelled under the lock, so that a connection being attached either
	// sees it or is seen here.
	cancel()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		s.closeNormally()
	}
	<-done
}

// Drain waits until every event emitted so far has been handled, or ctx
// ends: after Disconnect, it is how a program knows its handlers are done.
// It must not be called from a handler, which would wait for itself.
func (c *Client) Drain(ctx context.Context) error {
	select {
	case <-c.ev.wait():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send writes v to the server as one message: a []byte, json.RawMessage or
// string holding JSON as it is, anything else encoded with encoding/json;
// then sent as a text frame, or converted to MessagePack on a connection
// that uses EncodingMsgpack. It fails with a network_error when not
// connected.
func (c *Client) Send(ctx context.Context, v any) error {
	s := c.current()
	if s == nil {
		return errNotConnected()
	}
	var data []byte
	switch m := v.(type) {
	case []byte:
		data = m
	case json.RawMessage:
		data = m
	case string:
		data = []byte(m)
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return &Error{Type: ErrServer, Message: "encoding the message", Err: err}
		}
	}
	if !json.Valid(data) {
		return &Error{Type: ErrServer, Message: "the message is not valid JSON"}
	}
	return s.write(ctx, data)
}

// Subscribe joins channel and waits for the server's answer: nil once
// subscribed, a server_error (e.g. forbidden) if refused. The client joins
// it again after each reconnection, until Unsubscribe.
func (c *Client) Subscribe(ctx context.Context, channel string) error {
	return c.channelOp(ctx, herald.TypeSubscribe, channel)
}

// Unsubscribe leaves channel and waits for the server's answer. When not
// connected it only forgets the channel.
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	return c.channelOp(ctx, herald.TypeUnsubscribe, channel)
}

func (c *Client) channelOp(ctx context.Context, op, channel string) error {
	ch, err := herald.ParseChannel(channel)
	if err != nil {
		return &Error{Type: ErrServer, Code: string(herald.EINVALID), Message: "Invalid channel name"}
	}
	if op == herald.TypeUnsubscribe {
		c.mu.Lock()
		delete(c.channels, ch)
		c.mu.Unlock()
	}
	s := c.current()
	if s == nil {
		if op == herald.TypeUnsubscribe {
			return nil
		}
		return errNotConnected()
	}
	wait := s.expect(op, ch)
	data, _ := json.Marshal(map[string]string{"type": op, "channel": ch})
	if err := s.write(ctx, data); err != nil {
		s.unexpect(op, ch, wait)
		return err
	}
	select {
	case e := <-wait:
		if e != nil {
			return e
		}
	case <-ctx.Done():
		s.unexpect(op, ch, wait)
		return asError(ctx.Err(), ErrNetwork, "waiting for the server's answer to "+op)
	}
	if op == herald.TypeSubscribe {
		c.mu.Lock()
		c.channels[ch] = struct{}{}
		c.mu.Unlock()
	}
	return nil
}

func errNotConnected() *Error { return &Error{Type: ErrNetwork, Message: "not connected"} }

// current returns the open connection, or nil.
func (c *Client) current() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != StateConnected {
		return nil
	}
	return c.sess
}

func (c *Client) setState(s State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// run is the connection loop: connect, serve, and on failure wait and
// reconnect, until ctx ends. It reports the first connection's outcome on
// first, and closes done when it ends.
func (c *Client) run(ctx context.Context, retry bool, first chan<- error, done chan struct{}) {
	reported := false
	report := func(err error) {
		if !reported {
			reported = true
			first <- err
		}
	}
	err := c.loop(ctx, retry, func() { report(nil) })
	c.mu.Lock()
	c.state, c.cancel, c.done, c.sess = StateDisconnected, nil, nil, nil
	c.mu.Unlock()
	if err == nil {
		err = &Error{Type: ErrClosed, Message: "disconnected"}
	}
	report(err)
	close(done)
}

// loop connects and reconnects until ctx ends or it gives up, and returns
// why it stopped.
func (c *Client) loop(ctx context.Context, retry bool, connected func()) *Error {
	var (
		attempt   int           // reconnection attempt, 0 for the first dial
		netFails  int           // consecutive failures that back off
		delay     time.Duration // before the next attempt
		authRetry bool          // the last attempt was an immediate retry after an auth failure
	)
	for {
		if attempt > 0 {
			if c.opts.MaxAttempts > 0 && attempt > c.opts.MaxAttempts {
				e := &Error{Type: ErrClosed, Message: fmt.Sprintf("gave up after %d reconnection attempts", c.opts.MaxAttempts)}
				c.emitError(e)
				return e
			}
			c.setState(StateReconnecting)
			c.emitReconnecting(attempt)
			c.log.Info("herald client reconnecting", "attempt", attempt, "delay", delay)
			if delay > 0 {
				select {
				case <-c.clock.After(delay):
				case <-ctx.Done():
					return nil
				}
			}
		}

		s, err := c.dial(ctx)
		fromSession := false
		if err == nil {
			if !c.attach(ctx, s) {
				s.link.closeNow()
				return nil
			}
			attempt, netFails, authRetry = 0, 0, false
			c.log.Info("herald client connected", "user", s.user, "encoding", s.enc, "compressed", s.compressed)
			c.emitConnected()
			connected()
			s.restore()
			err = s.serve()
			c.detach(s)
			if ctx.Err() != nil {
				c.emitDisconnected(nil)
				return nil
			}
			c.emitDisconnected(err)
			c.emitError(err)
			if !retry {
				return err
			}
			fromSession = true
		} else {
			if ctx.Err() != nil {
				return nil
			}
			c.emitError(err)
			if c.fallBack(err) {
				delay, attempt, authRetry = 0, attempt+1, false
				continue
			}
			if !retry && (err.Type != ErrAuthentication || attempt > 0) {
				return err
			}
		}

		attempt++
		switch {
		case err.Type == ErrAuthentication && !authRetry:
			// A fresh token is all it takes: no reason to wait.
			delay, authRetry = 0, true
		case fromSession && err.CloseCode == herald.CloseGoingAway:
			// The server is shutting down: another node may take us now.
			delay, authRetry = 0, false
		default:
			netFails++
			delay, authRetry = max(c.bo.delay(netFails), err.RetryAfter), false
		}
	}
}

// attach makes s the current connection, unless ctx ended meanwhile.
func (c *Client) attach(ctx context.Context, s *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	c.sess, c.state = s, StateConnected
	return true
}

func (c *Client) detach(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
	}
	if c.state == StateConnected {
		c.state = StateReconnecting
	}
}

// deliver hands a notification to the application once, and moves the
// resume point.
func (c *Client) deliver(n Notification) {
	c.mu.Lock()
	if n.Seq > c.lastSeq {
		c.lastSeq = n.Seq
	}
	// A notification that arrived on this connection is a valid resume
	// point: every later one either arrives after it or is replayed.
	c.seqKnown = true
	fresh := n.ID == "" || c.seen.add(n.ID)
	c.mu.Unlock()
	if fresh {
		c.emitMessage(n)
	}
}

// noteSeq moves the resume point to seq, the end of a replay.
func (c *Client) noteSeq(seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.lastSeq {
		c.lastSeq = seq
	}
}

// resumePoint returns where the next connection resumes from.
func (c *Client) resumePoint() (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq, c.seqKnown
}

// learnNewest sets the resume point from the inbox's newest notification,
// before a first connection, so that what is created while the client is
// away after it is replayed on the next one.
func (c *Client) learnNewest(ctx context.Context, token string) error {
	var out struct {
		Notifications []struct {
			Seq int64 `json:"seq"`
		} `json:"notifications"`
	}
	if err := c.Inbox.rest.call(ctx, "GET", "/api/notifications?limit=1", token, nil, nil, &out); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(out.Notifications) > 0 && out.Notifications[0].Seq > c.lastSeq {
		c.lastSeq = out.Notifications[0].Seq
	}
	c.seqKnown = true
	return nil
}

// forgetChannel drops a channel the server refused on a resubscribe.
func (c *Client) forgetChannel(ch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.channels, ch)
}

func (c *Client) subscribedChannels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.channels))
	for ch := range c.channels {
		out = append(out, ch)
	}
	return out
}
