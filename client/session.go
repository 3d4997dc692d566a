package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldhq/herald"
)

// writeTimeout bounds one write to the socket.
const writeTimeout = 10 * time.Second

// compressThreshold is the size from which the client compresses what it
// sends, when permessage-deflate was negotiated: the server's own bar.
const compressThreshold = 512

// session is one open, greeted connection.
type session struct {
	c         *Client
	link      link
	transport Transport // what link is
	user      string    // the user the server greeted

	enc        Encoding // what the server agreed to; set before the session is shared
	compressed bool     // permessage-deflate was negotiated

	start    time.Time    // monotonic base of lastSeen
	lastSeen atomic.Int64 // ns since start of the last frame received
	timedOut atomic.Bool  // the heartbeat watchdog dropped the connection

	mu       sync.Mutex
	token    Token     // the token the connection is authenticated with
	obtained time.Time // when the client got it, on the client's Clock
	pending  map[string][]chan *Error

	refreshing atomic.Bool
	authDone   chan *Error // the answer to an in-band auth, when refreshing
}

func (s *session) touch() { s.lastSeen.Store(int64(time.Since(s.start))) }

// dial opens a connection on the transport in use: a token from the source,
// the handshake (dialWS or dialSSE), and the server's greeting. A failure is
// typed for the loop; on an authentication failure the refused token is
// invalidated first.
func (c *Client) dial(ctx context.Context) (*session, *Error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	tok, err := c.opts.TokenSource.Token(dctx)
	if err != nil {
		return nil, asError(err, ErrNetwork, "getting a token")
	}
	s := &session{c: c, token: tok, obtained: c.clock.Now(), start: time.Now(), enc: EncodingJSON,
		pending: make(map[string][]chan *Error), authDone: make(chan *Error, 1)}
	s.touch()

	since, known := c.resumePoint()
	if !known {
		if err := c.learnNewest(dctx, tok.Value); err != nil {
			// Live only, this time; the first notification seen gives a
			// resume point too.
			c.log.Debug("herald client: no resume point from the inbox", "err", err.Error())
		} else {
			since, known = c.resumePoint()
		}
	}
	var e *Error
	if c.onSSE() {
		e = c.dialSSE(dctx, s, since, known)
	} else {
		e = c.dialWS(dctx, s, since, known)
	}
	if e != nil {
		return nil, e
	}

	data, err := s.link.read(dctx)
	if err != nil {
		s.link.closeNow()
		e := closeError(err, "waiting for the greeting")
		if e.Type == ErrAuthentication {
			c.invalidate(ctx, tok.Value)
		}
		e.early = e.CloseCode == 1006 && ctx.Err() == nil
		return nil, e
	}
	s.touch()
	var hello struct {
		Type          string `json:"type"`
		UserID        string `json:"userId"`
		Stream        string `json:"stream"`
		UnreadCount   *int   `json:"unreadCount"`
		UnreadVersion int64  `json:"unreadVersion"`
	}
	if json.Unmarshal(data, &hello) != nil || hello.Type != herald.TypeConnected {
		s.link.closeNow()
		return nil, &Error{Type: ErrNetwork, Message: "the server's first message is not \"connected\""}
	}
	if l, ok := s.link.(*sseLink); ok {
		l.greeted(hello.Stream)
	}
	if c.opts.UserID != "" && hello.UserID != c.opts.UserID {
		s.link.closeNormally()
		c.invalidate(ctx, tok.Value)
		return nil, &Error{Type: ErrAuthentication, Code: string(herald.EMISMATCH), Message: "the token is for another user than Options.UserID"}
	}
	s.user = hello.UserID
	c.emitRaw(data)
	c.greetUnread(hello.UnreadCount, hello.UnreadVersion)
	return s, nil
}

// dialWS makes the WebSocket handshake for s and presents the token as
// configured.
func (c *Client) dialWS(dctx context.Context, s *session, since int64, known bool) *Error {
	tok := s.token
	u, err := url.Parse(c.opts.URL)
	if err != nil {
		return &Error{Type: ErrServer, Message: "invalid URL", Err: err}
	}
	q := u.Query()
	if known {
		q.Set("since", strconv.FormatInt(since, 10))
	}
	hdr := c.opts.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	switch c.opts.Auth {
	case AuthQuery:
		q.Set("token", tok.Value)
		q.Set("userId", c.opts.UserID)
	case AuthHeader:
		hdr.Set("Authorization", "Bearer "+tok.Value)
	}
	u.RawQuery = q.Encode()

	// The first auth message is JSON text whatever the encoding: the server
	// reads it before the connection's encoding applies, as one plain text
	// frame. Later ones follow the encoding.
	var auth []byte
	if c.opts.Auth == AuthMessage {
		auth, _ = json.Marshal(map[string]string{"type": herald.TypeAuth, "token": tok.Value})
	}
	dopts := &websocket.DialOptions{
		HTTPClient: c.opts.HTTPClient,
		HTTPHeader: hdr,
		OnPingReceived: func(context.Context, []byte) bool {
			s.touch()
			return true
		},
	}
	if c.opts.Encoding == EncodingMsgpack {
		dopts.Subprotocols = []string{protocolMsgpack}
	}
	if c.opts.Compression {
		dopts.CompressionMode = websocket.CompressionNoContextTakeover
		// Messages this small gain little; and the first auth message
		// must go uncompressed, so a long token raises the bar above it.
		dopts.CompressionThreshold = max(compressThreshold, len(auth)+1)
	}

	conn, resp, err := websocket.Dial(dctx, u.String(), dopts)
	if err != nil {
		e := &Error{Type: ErrNetwork, Message: "connecting", Err: scrub(err, tok.Value)}
		var op *net.OpError
		e.early = !errors.As(err, &op) || op.Op != "dial"
		if resp != nil {
			e.Status = resp.StatusCode
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				e.Type = ErrAuthentication
				c.invalidate(dctx, tok.Value)
			case http.StatusTooManyRequests, http.StatusServiceUnavailable:
				if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
					e.RetryAfter = time.Duration(n) * time.Second
				}
			}
		}
		return e
	}
	conn.SetReadLimit(c.opts.ReadLimit)
	l := &wsLink{conn: conn, enc: EncodingJSON, log: c.log}
	s.link, s.transport = l, TransportWebSocket
	s.compressed = resp.Header.Get("Sec-WebSocket-Extensions") != ""
	if conn.Subprotocol() == protocolMsgpack {
		l.enc = EncodingMsgpack
	} else if c.opts.Encoding == EncodingMsgpack {
		c.log.Info("herald client: the server does not offer " + protocolMsgpack + "; this connection uses JSON")
	}
	s.enc = l.enc
	if c.opts.Compression && !s.compressed {
		c.log.Info("herald client: the server does not accept permessage-deflate; this connection is uncompressed")
	}
	if auth != nil {
		if err := conn.Write(dctx, websocket.MessageText, auth); err != nil {
			conn.CloseNow()
			return &Error{Type: ErrNetwork, Message: "sending the token", Err: scrub(err, tok.Value)}
		}
	}
	return nil
}

// invalidate tells the token source the server refused value.
func (c *Client) invalidate(ctx context.Context, value string) {
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.opts.TokenSource.Invalidate(ictx, value); err != nil {
		c.log.Warn("herald client: invalidating a refused token failed", "err", err.Error())
	}
}

// closeError types the error that ended a read: a close frame's code
// decides, as docs/protocol.md says; anything else is a lost connection.
func closeError(err error, what string) *Error {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return &Error{Type: ErrNetwork, CloseCode: 1006, Message: what + ": connection lost", Err: err}
	}
	e := &Error{Type: ErrNetwork, CloseCode: int(ce.Code), Message: ce.Reason}
	switch int(ce.Code) {
	case herald.CloseMissingAuth:
		e.Type, e.Code = ErrAuthentication, string(herald.ECREDENTIALS)
	case herald.CloseInvalidToken:
		e.Type, e.Code = ErrAuthentication, string(herald.ETOKEN)
	case herald.CloseUserMismatch:
		e.Type, e.Code = ErrAuthentication, string(herald.EMISMATCH)
	}
	if e.Message == "" {
		e.Message = what + ": closed by the server"
	}
	return e
}

// serve reads the connection until it ends, with the token refresher and
// the heartbeat watchdog beside it, and returns why it ended.
func (s *session) serve() *Error {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	o := s.c.opts
	if o.RefreshAt > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.refresher(ctx) }()
	}
	if o.HeartbeatTimeout > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.watchdog(ctx, o.HeartbeatTimeout) }()
	}
	var cause *Error
	for {
		data, err := s.link.read(ctx)
		if err != nil {
			cause = closeError(err, "reading")
			if s.timedOut.Load() {
				cause = &Error{Type: ErrNetwork, CloseCode: 1006, Message: "no heartbeat from the server within " + o.HeartbeatTimeout.String()}
			}
			break
		}
		s.touch()
		s.handle(data)
	}
	cancel()
	wg.Wait()
	s.link.closeNow()
	s.failPending(&Error{Type: ErrNetwork, Message: "the connection ended"})
	if cause.Type == ErrAuthentication {
		s.c.invalidate(context.Background(), s.currentToken().Value)
	}
	return cause
}

// closeNormally ends the connection with 1000, as Disconnect does.
func (s *session) closeNormally() { s.link.closeNormally() }

// write sends one message, given as JSON, in the connection's encoding. The
// caller's context bounds the wait but, unlike the library's, does not
// close the connection when it ends.
func (s *session) write(ctx context.Context, data []byte) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.link.write(wctx, data) }()
	select {
	case err := <-done:
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			return &Error{Type: ErrNetwork, Message: "sending", Err: err}
		}
		return nil
	case <-ctx.Done():
		return asError(ctx.Err(), ErrNetwork, "sending")
	}
}

// TypeResumed is the server's message that ends a replay.
const TypeResumed = "resumed"

// inbound is the part of a server message the client reads.
type inbound struct {
	Type         string          `json:"type"`
	Notification json.RawMessage `json:"notification"`
	Replayed     json.RawMessage `json:"replayed"` // true on a notification, a count on resumed
	Channel      string          `json:"channel"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	LastSeq      int64           `json:"lastSeq"`
}

// handle acts on one server message.
func (s *session) handle(data []byte) {
	c := s.c
	if !json.Valid(data) {
		c.log.Warn("herald client: the server sent a message that is not JSON")
		return
	}
	c.emitRaw(data)
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil {
		return // not an object with a string type: a backend's message, for OnRaw
	}
	switch head.Type {
	case herald.TypeNotificationNew, TypeResumed, herald.TypeSubscribed, herald.TypeUnsubscribed,
		herald.TypeAuthenticated, herald.TypeError:
	case herald.TypeUnreadCount:
		c.noteUnread(data)
		return
	default:
		return
	}
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		c.log.Warn("herald client: a malformed "+head.Type+" message", "err", err.Error())
		return
	}
	switch m.Type {
	case herald.TypeNotificationNew:
		var n Notification
		if err := json.Unmarshal(m.Notification, &n); err != nil || n.ID == "" {
			c.log.Warn("herald client: notification:new without a valid notification")
			return
		}
		n.Replayed = string(m.Replayed) == "true"
		c.deliver(n)
	case TypeResumed:
		c.noteSeq(m.LastSeq)
	case herald.TypeSubscribed:
		s.resolve(herald.TypeSubscribe, m.Channel, nil)
	case herald.TypeUnsubscribed:
		s.resolve(herald.TypeUnsubscribe, m.Channel, nil)
	case herald.TypeAuthenticated:
		if s.refreshing.Load() {
			select {
			case s.authDone <- nil:
			default:
			}
		}
	case herald.TypeError:
		e := &Error{Type: ErrServer, Code: m.Code, Message: m.Message}
		if m.Channel != "" && !s.resolve(herald.TypeSubscribe, m.Channel, e) {
			// A channel refused on a resubscribe after a reconnect.
			c.forgetChannel(m.Channel)
		}
		switch herald.ErrorCode(m.Code) {
		case herald.ETOKEN, herald.EMISMATCH, herald.ECREDENTIALS:
			if s.refreshing.Load() {
				// The refresher reports it.
				e.Type = ErrAuthentication
				select {
				case s.authDone <- e:
					return
				default:
				}
			}
		}
		c.emitError(e)
	}
}

// expect registers a wait for the answer to op on channel.
func (s *session) expect(op, channel string) chan *Error {
	ch := make(chan *Error, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := op + "\x00" + channel
	s.pending[k] = append(s.pending[k], ch)
	return ch
}

// unexpect removes a wait that was given up.
func (s *session) unexpect(op, channel string, ch chan *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := op + "\x00" + channel
	list := s.pending[k]
	for i, w := range list {
		if w == ch {
			s.pending[k] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(s.pending[k]) == 0 {
		delete(s.pending, k)
	}
}

// resolve answers the oldest wait for op on channel and reports whether
// there was one.
func (s *session) resolve(op, channel string, e *Error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := op + "\x00" + channel
	list := s.pending[k]
	if len(list) == 0 {
		return false
	}
	list[0] <- e
	if len(list) == 1 {
		delete(s.pending, k)
	} else {
		s.pending[k] = list[1:]
	}
	return true
}

func (s *session) failPending(e *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, list := range s.pending {
		for _, ch := range list {
			ch <- e
		}
		delete(s.pending, k)
	}
}

// restore joins again, on a new connection, the channels joined before.
func (s *session) restore() {
	if s.transport == TransportSSE {
		return // the stream was opened with them as ?channel=
	}
	for _, ch := range s.c.subscribedChannels() {
		data, _ := json.Marshal(map[string]string{"type": herald.TypeSubscribe, "channel": ch})
		if err := s.write(context.Background(), data); err != nil {
			return // the connection is gone; the next one will try again
		}
	}
}

func (s *session) currentToken() Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// refreshTime returns when the token should be replaced: RefreshAt of its
// lifetime after the client got it; zero when its expiry is unknown.
func (s *session) refreshTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token.ExpiresAt.IsZero() {
		return time.Time{}
	}
	life := s.token.ExpiresAt.Sub(s.obtained)
	return s.obtained.Add(time.Duration(float64(life) * s.c.opts.RefreshAt))
}

// refresher replaces the connection's token in-band before it expires, so
// that the connection outlives it. A failed refresh is retried with backoff;
// if none succeeds before the token expires, the server closes the
// connection with 4002 and the loop reconnects with a fresh token.
func (s *session) refresher(ctx context.Context) {
	retry := time.Second
	next := s.refreshTime()
	for !next.IsZero() {
		if !s.sleep(ctx, next.Sub(s.c.clock.Now())) {
			return
		}
		if err := s.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.c.emitError(err)
			next = s.c.clock.Now().Add(retry)
			retry = min(retry*2, s.c.opts.MaxBackoff)
			continue
		}
		retry = time.Second
		next = s.refreshTime()
	}
}

func (s *session) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-s.c.clock.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// refresh gets a fresh token and sends it as an auth message, then waits
// for the server's "authenticated".
func (s *session) refresh(ctx context.Context) *Error {
	c := s.c
	ts := c.opts.TokenSource
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	cur := s.currentToken()
	tok, err := ts.Token(ctx)
	if err == nil && tok.Value == cur.Value {
		// Still cached: this one is near its end, so ask for another.
		c.invalidate(ctx, cur.Value)
		tok, err = ts.Token(ctx)
	}
	if err != nil {
		return asError(err, ErrNetwork, "getting a fresh token")
	}
	if tok.Value == cur.Value {
		return &Error{Type: ErrAuthentication, Message: "the token source has no fresh token"}
	}
	obtained := c.clock.Now()
	select { // a stale answer must not be taken for this one's
	case <-s.authDone:
	default:
	}
	s.refreshing.Store(true)
	defer s.refreshing.Store(false)
	data, _ := json.Marshal(map[string]string{"type": herald.TypeAuth, "token": tok.Value})
	if err := s.write(ctx, data); err != nil {
		return asError(err, ErrNetwork, "sending a fresh token")
	}
	select {
	case e := <-s.authDone:
		if e != nil {
			c.invalidate(ctx, tok.Value)
			return e
		}
	case <-ctx.Done():
		return asError(ctx.Err(), ErrNetwork, "waiting for the server to accept a fresh token")
	}
	s.mu.Lock()
	s.token, s.obtained = tok, obtained
	s.mu.Unlock()
	c.log.Debug("herald client: token refreshed in-band", "expiresAt", tok.ExpiresAt)
	return nil
}

// watchdog drops the connection when nothing has arrived for timeout: the
// server pings every 30 seconds, so silence means the link is dead even if
// the socket does not know it yet.
func (s *session) watchdog(ctx context.Context, timeout time.Duration) {
	t := time.NewTicker(max(timeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(s.start)-time.Duration(s.lastSeen.Load()) > timeout {
				s.timedOut.Store(true)
				s.link.closeNow()
				return
			}
		}
	}
}
