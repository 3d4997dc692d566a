// Package ws is Herald's WebSocket endpoint: the handshake with its token
// check, the read loop that validates every frame, the message protocol of
// docs/protocol.md, the per-connection outbound queue and the heartbeat.
//
// It speaks RFC 6455 through github.com/gobwas/ws, a low-level library that
// leaves buffering and goroutines to the caller: that is what lets an idle
// connection cost one parked goroutine, and a fan-out write a shared payload.
package ws

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/keyrate"
	"github.com/heraldhq/herald/session"
)

// Config configures a Server. Only Hub and Verifier are required; every other
// zero field takes the default documented beside it.
type Config struct {
	Hub      herald.Hub
	Verifier herald.TokenVerifier
	// Admission, when set, is asked before the hub whether a connection's
	// user may connect (a cluster's per-user cap), with no lock held, for at
	// most AdmitTimeout (default 1s; beyond, the connection is refused 1013).
	Admission    herald.Admission
	AdmitTimeout time.Duration
	// Inbox serves mark_read, the unread count in "connected" and resume. Nil
	// answers those with an error message.
	Inbox  herald.Inbox
	Logger *slog.Logger // default: discard

	HeartbeatInterval time.Duration // protocol ping period; default 30s
	MaxMessageBytes   int           // inbound message limit, close 1009 over it; default 16 KiB
	QueueSize         int           // outbound frames queued per connection before it is closed as slow; default 512
	WriteTimeout      time.Duration // a write that takes longer fails the connection; default 10s
	CloseTimeout      time.Duration // wait for the client's close reply; default 2s
	RateLimit         float64       // inbound messages and control frames per second per connection; default 20
	RateBurst         int           // burst above RateLimit; default 40
	ReplayPageSize    int           // notifications fetched per resume page; default 200
	// MaxReplays bounds the store reads replays make at once, across every
	// connection (default 4); ResyncJitter spreads a mass resync's replays
	// over up to that long (default 1s; negative: no spread). See
	// session.Engine.Resync.
	MaxReplays   int
	ResyncJitter time.Duration
	// Writers is how many goroutines write channel and broadcast messages
	// for all connections (a message to one user is written by its sender:
	// see flushInline); default 2×GOMAXPROCS.
	Writers int
	// NoPoller gives every connection a reader goroutine instead of waiting
	// for idle connections with epoll (Linux), which costs about 4 KiB of
	// stack per idle connection more.
	NoPoller    bool
	AuthTimeout time.Duration // wait for a first-message auth when the URL has no token; default 5s
	// ExpiryGrace is how long past its token's exp a connection stays open
	// without an in-band refresh before it is closed with 4002; default 5s
	// (the verifier's leeway). Negative disables closing on expiry. Either
	// way the channels claim's grants end at exp (see docs/protocol.md).
	ExpiryGrace time.Duration
	// ConnectRate and ConnectBurst limit connection attempts per client IP
	// address, answered with HTTP 429 beyond; defaults 50 per second, burst 100.
	ConnectRate  float64
	ConnectBurst int

	// ClientEvents receives the design document's client messages
	// ("notification" and "custom_event") whose type is in ClientEventTypes.
	// Nil keeps the document's server behaviour: "Unknown message type".
	ClientEvents        herald.ClientEventSink
	ClientEventTypes    []string
	MaxClientEventBytes int     // payload limit; default 8 KiB
	ClientEventRate     float64 // client events per second per connection; default 5 (burst twice that)

	// Deflate accepts permessage-deflate (RFC 7692, without context
	// takeover) when a client offers it. Off by default: it costs CPU, and
	// notifications are small. CompressThreshold is the smallest outbound
	// message worth compressing; default 512 bytes. Inbound messages inflate
	// to at most MaxMessageBytes, or the connection closes with 1009.
	Deflate           bool
	CompressThreshold int

	// Channels decides who may join which channel (default: the design
	// document's open channels, with user: and private: guarded).
	Channels ChannelPolicy

	// AllowedOrigins lists the exact Origin values browsers may connect from.
	// Empty allows any origin (the design document's behaviour).
	AllowedOrigins []string
	// DisableQueryToken refuses ?token=, leaving the Authorization header and
	// first-message auth. The default accepts all three, as the design
	// document's clients need the query string.
	DisableQueryToken bool

	Metrics *Metrics         // default: a fresh, unregistered set
	Now     func() time.Time // default time.Now
}

// setDefaults sets the defaults of what the WebSocket transport uses itself;
// the session engine sets those of the session's settings it is given.
func (cfg *Config) setDefaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&cfg.HeartbeatInterval, 30*time.Second)
	def(&cfg.MaxMessageBytes, 16<<10)
	def(&cfg.QueueSize, 512)
	defDur(&cfg.WriteTimeout, 10*time.Second)
	defDur(&cfg.CloseTimeout, 2*time.Second)
	defDur(&cfg.AuthTimeout, 5*time.Second)
	def(&cfg.CompressThreshold, 512)
	if cfg.ConnectRate <= 0 {
		cfg.ConnectRate = 50
	}
	def(&cfg.ConnectBurst, 100)
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// Server is the /ws endpoint. It implements http.Handler.
type Server struct {
	cfg     Config
	metrics *Metrics
	log     *slog.Logger

	engine   *session.Engine  // what the sessions share
	gate     session.Gate     // the handshake's checks
	attempts *keyrate.Limiter // connection attempts per client address
	writers  *writers
	poll     *poller       // nil where there is none: every connection keeps a reader goroutine
	beats    atomic.Uint32 // connections made, to deal them over the heartbeat's parts

	inlineWrites atomic.Int64 // writes made on the sender's goroutine (flushInline), for tests

	// The hub is the one index of connections; the server only counts its
	// own, to wait for them at shutdown.
	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup // one per connection past the handshake
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, metrics: cfg.Metrics, log: cfg.Logger,
		attempts: keyrate.New(cfg.ConnectRate, cfg.ConnectBurst, cfg.Now)}
	s.engine = session.NewEngine(session.Config{
		Hub: cfg.Hub, Verifier: cfg.Verifier, Admission: cfg.Admission, AdmitTimeout: cfg.AdmitTimeout, Inbox: cfg.Inbox, Logger: cfg.Logger,
		QueueSize: cfg.QueueSize, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		ReplayPageSize: cfg.ReplayPageSize, ExpiryGrace: cfg.ExpiryGrace,
		MaxReplays: cfg.MaxReplays, ResyncJitter: cfg.ResyncJitter,
		ClientEvents: cfg.ClientEvents, ClientEventTypes: cfg.ClientEventTypes,
		MaxClientEventBytes: cfg.MaxClientEventBytes, ClientEventRate: cfg.ClientEventRate,
		Channels: cfg.Channels, DisableQueryToken: cfg.DisableQueryToken,
		Metrics: cfg.Metrics, Now: cfg.Now,
	})
	s.gate = s.engine.Gate()
	s.writers = newWriters(cfg.Writers, cfg.QueueSize)
	if !cfg.NoPoller {
		if p, err := newPoller(s.onReadable); err == nil {
			s.poll = p
		}
	}
	return s
}

// ServeHTTP upgrades the request and authenticates it. Failures are upgraded
// too and then closed with the design document's codes (4001, 4002, 4003,
// 4000) so that a browser, which cannot see an HTTP error status, can tell them
// apart.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !session.OriginAllowed(s.cfg.AllowedOrigins, r) {
		s.metrics.AuthFailures.WithLabelValues("origin").Inc()
		http.Error(w, `{"error":{"code":"forbidden","message":"Origin not allowed"}}`, http.StatusForbidden)
		return
	}
	if ok, _ := s.attempts.Take(session.ClientIP(r)); !ok {
		s.metrics.Throttled.Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":{"code":"rate_limited","message":"Too many connection attempts"}}`, http.StatusTooManyRequests)
		return
	}
	if !isUpgrade(r) {
		// A plain request (a browser tab, curl, a proxy that strips
		// Upgrade) gets the API's JSON error body rather than the
		// upgrader's plain text, and its connection is closed as a
		// refused upgrade's is.
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":"invalid","message":"This is Herald's WebSocket endpoint: connect with a WebSocket upgrade (Upgrade: websocket), or use /sse"}}`+"\n")
		return
	}
	token, userID, src := s.gate.Credentials(r)
	rawSince, _ := session.QueryValue(r, "since")
	since, sinceErr := parseSince(rawSince)

	up := ws.HTTPUpgrader{Timeout: 5 * time.Second, Protocol: func(p string) bool { return p == ProtocolMsgpack || p == ProtocolJSON }}
	var flate *wsflate.Extension
	if s.cfg.Deflate {
		flate = &wsflate.Extension{Parameters: wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}}
		up.Negotiate = declineInvalid(flate.Negotiate)
	}
	hr := &heldResponse{ResponseWriter: w}
	nc, rw, hs, err := up.Upgrade(r, hr)
	held := []byte(hr.out) // the upgrader's answer, not yet sent
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		if nc != nil {
			// The upgrader hijacked the connection to answer the refusal:
			// send the answer and close it, or it leaks, and a proxy that
			// reuses it for its next request waits for ever (a proxy that
			// strips Upgrade).
			writeHeld(nc, held, s.cfg.CloseTimeout)
			_ = nc.Close()
		}
		return
	}
	// Bytes the client sent right after the handshake may sit in the
	// server's read buffer; read them first, then the socket directly.
	var rd io.Reader = nc
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		rd = io.MultiReader(strings.NewReader(string(early)), nc)
	}

	var unread int64 // of a refused first message
	if token == "" && src == "query" && !hasQuery(r, "token") && !hasQuery(r, "userId") {
		// Neither token nor userId in the URL, no header: the first message
		// must bring the token. (A URL with a userId but no token is the
		// design document's "missing credentials", closed at once.)
		// The client waits for the 101 before it sends that message.
		writeHeld(nc, held, s.cfg.CloseTimeout)
		held = nil
		token, unread = readAuth(nc, rd, s.cfg.AuthTimeout, s.cfg.MaxMessageBytes, negotiated(hs, flate))
		src = "message"
	}
	claims, err := s.gate.Authenticate(r.Context(), token, userID, src)
	if err == nil && sinceErr != nil {
		err = sinceErr
	}
	if err != nil {
		code, reason := herald.CodeOf(err).CloseCode()
		s.log.Info("websocket refused", "remote", r.RemoteAddr, "code", code, "reason", reason)
		rejectConn(nc, rd, held, code, reason, s.cfg.CloseTimeout, unread)
		return
	}

	c := newConn(s, nc, claims)
	c.setFormat(negotiated(hs, flate))
	c.preface = held // sent ahead of the greeting, in the same write
	if err := s.track(r.Context(), c); err != nil {
		code, _ := herald.CodeOf(err).CloseCode()
		s.log.Info("websocket refused", "remote", r.RemoteAddr, "user", claims.UserID, "code", code, "reason", herald.ErrorMessage(err))
		rejectConn(nc, rd, held, code, herald.ErrorMessage(err), s.cfg.CloseTimeout, 0) // c wrote nothing
		return
	}
	// Handshake done: greet (and replay) on this goroutine, whose stack the
	// store queries grow; then the connection lives on in a fresh goroutine
	// that only reads, so that this one — with net/http's buffers of the
	// hijacked connection, the request and a deep stack — ends and is
	// collected. An idle connection then costs a small parked stack.
	s.start(c, since)
	if rd == io.Reader(nc) && s.poll != nil && c.pollLive() {
		return // idle until readable: no goroutine at all (see poller)
	}
	go s.serve(c, rd)
}

// pollLive hands a live connection's reading to the poller and reports
// whether it took it. It decides under c.mu, as terminate and teardown do: a
// connection already closing — whose socket may be shut and its descriptor
// number reused — is never registered, and one registered is always known
// to be polled by whoever closes it.
func (c *conn) pollLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stLive || c.srv.poll.add(c) != nil {
		return false
	}
	c.polled = true
	return true
}

// unpollLocked deregisters a polled connection and shuts its socket, while
// its descriptor still names it. Callers hold c.mu.
func (c *conn) unpollLocked() {
	if c.polled {
		c.srv.poll.remove(c)
	}
	_ = c.nc.Close()
}

// declineInvalid wraps permessage-deflate negotiation so that an offer with
// an unknown, invalid or repeated parameter is declined and the next offer
// considered, as RFC 7692 (section 5) asks, instead of failing the handshake
// with a server error.
func declineInvalid(negotiate func(httphead.Option) (httphead.Option, error)) func(httphead.Option) (httphead.Option, error) {
	return func(offer httphead.Option) (httphead.Option, error) {
		accept, err := negotiate(offer)
		if err != nil {
			return httphead.Option{}, nil
		}
		return accept, nil
	}
}

// negotiated is the encoding the handshake settled on.
func negotiated(hs ws.Handshake, flate *wsflate.Extension) format {
	var f format
	if hs.Protocol == ProtocolMsgpack {
		f |= fmtMsgpack
	}
	if flate != nil {
		if _, ok := flate.Accepted(); ok {
			f |= fmtDeflate
		}
	}
	return f
}

// hasQuery reports whether r's query string names key.
func hasQuery(r *http.Request, key string) bool {
	_, has := session.QueryValue(r, key)
	return has
}

func parseSince(v string) (int64, error) {
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, herald.Errorf(herald.EINVALID, "since must be a non-negative integer")
	}
	return n, nil
}

// track admits c's session — the admission hook, then the hub's limits —
// with no server lock held during it, and counts c for Shutdown.
func (s *Server) track(ctx context.Context, c *conn) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return herald.Errorf(herald.EUNAVAILABLE, "Server shutting down")
	}
	s.wg.Add(1)
	s.mu.Unlock()
	if err := s.gate.Admit(ctx, c.sess); err != nil {
		s.wg.Done()
		return err
	}
	c.mu.Lock()
	c.toLocked(stLive)
	c.mu.Unlock()
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping { // Shutdown's snapshot may have missed it
		c.close(herald.CloseGoingAway, "Server shutting down", false)
	}
	return nil
}

func (s *Server) untrack(c *conn) {
	c.sess.End()
	s.wg.Done()
}

// start greets a registered connection and replays what it missed.
func (s *Server) start(c *conn, since int64) {
	s.log.Info("websocket connected", "user", c.user(), "remote", c.RemoteAddr())
	c.sess.Start(since)
}

// serve reads a started connection until it ends, then closes it.
func (s *Server) serve(c *conn, rd io.Reader) {
	s.teardown(c, rd, c.readLoop(rd, c.sess.Handle))
}

// frameTimeout bounds the wait for the rest of a frame that has begun to
// arrive on a polled connection.
var frameTimeout = 10 * time.Second // a variable for tests

// onReadable reads what a polled connection has sent, on a reader goroutine,
// and waits for more. It reads a bufferful at once (burst) and goes on
// reading frames until the buffer ends at a frame's end, so that nothing
// read is left behind when the connection goes back to the poller.
func (s *Server) onReadable(c *conn) {
	b := getBurst(c.nc)
	defer b.put()
	var err error
	for err == nil {
		// Each frame gets its own bound: a client that streams frames
		// without pause keeps this reader, and must not time out for it.
		_ = c.nc.SetReadDeadline(time.Now().Add(frameTimeout))
		if err = c.readFrame(b, c.sess.Handle); err == nil && b.buffered() == 0 {
			_ = c.nc.SetReadDeadline(time.Time{})
			if err = s.poll.rearm(c); err == nil {
				return
			}
		}
	}
	s.teardown(c, b, err)
}

// terminate ends a connection at once, without a close frame: a heartbeat
// timeout, a failed write.
func (s *Server) terminate(c *conn) {
	c.mu.Lock()
	c.toLocked(stClosing)
	polled := c.polled
	c.unpollLocked()
	c.mu.Unlock()
	if polled {
		go s.teardown(c, c.nc, net.ErrClosed) // no reader will
	}
	// Otherwise the reader returns and tears down.
}

// teardown ends a connection once, whichever way it ended: it sends the close
// frame the reason asks for, lets it go out, closes the socket and forgets
// the connection.
func (s *Server) teardown(c *conn, rd io.Reader, err error) {
	c.mu.Lock()
	from := c.state
	if !c.toLocked(stClosed) {
		c.mu.Unlock()
		return
	}
	code, reason := endReason(from, c.closeCode, c.closeMsg, err)
	start := false
	if code != 1006 && c.closeCode == 0 {
		c.queueCloseLocked(code, reason, false)
		start = c.startWriterLocked()
	}
	var written <-chan struct{}
	if code != 1006 {
		written = c.writtenLocked()
	}
	c.mu.Unlock()
	if start {
		s.writers.push(c)
	}
	if code != 1006 { // 1006 means no close frame could be exchanged
		select { // let the close frame go out before the socket shuts
		case <-written:
		case <-time.After(s.cfg.CloseTimeout):
		}
	}
	var ce *closeError
	if errors.As(err, &ce) {
		// We stopped reading mid-stream: consume what the client still
		// sends, up to its close frame, or closing would reset the
		// connection and the client might never see our close code.
		awaitClose(c.nc, rd, ce.unread, s.cfg.CloseTimeout)
	}
	c.mu.Lock()
	c.unpollLocked()
	c.mu.Unlock()
	s.untrack(c)
	s.metrics.Disconnects.WithLabelValues(strconv.Itoa(code)).Inc()
	s.log.Info("websocket disconnected", "user", c.user(), "code", code, "reason", reason,
		"duration", s.cfg.Now().Sub(c.connectedAt).Round(time.Millisecond).String())
}

// endReason turns the read loop's result into the close code to send (when
// none was sent) and to log: from is the state the connection ended in, code
// and reason those of a close frame already queued.
func endReason(from state, code int, reason string, err error) (int, string) {
	closing := from >= stClosing
	var ce *closeError
	var cc *clientClosed
	switch {
	case errors.As(err, &cc):
		return cc.code, "closed by client"
	case closing && code != 0:
		return code, reason
	case errors.As(err, &ce):
		return ce.code, ce.reason
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return 1006, "connection lost"
	case isTimeout(err):
		return 1006, "read timeout"
	}
	return 1006, "connection lost"
}

// rejectConn ends a connection that failed the handshake checks: close frame
// with code (after held, the upgrade's answer if not yet sent), a short wait
// for the client's reply, then the socket is shut. unread counts the bytes of
// a refused frame still in the socket.
func rejectConn(nc net.Conn, rd io.Reader, held []byte, code int, reason string, wait time.Duration, unread int64) {
	// One write for the answer, the frame's header and its body:
	// ws.WriteFrame alone would make two.
	if f, err := ws.CompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason))); err == nil {
		writeHeld(nc, append(held, f...), wait)
	}
	awaitClose(nc, rd, unread, wait)
	_ = nc.Close()
}

// writeHeld sends b, if any, waiting at most wait.
func writeHeld(nc net.Conn, b []byte, wait time.Duration) {
	if len(b) == 0 {
		return
	}
	_ = nc.SetWriteDeadline(time.Now().Add(wait))
	_, _ = nc.Write(b)
	_ = nc.SetWriteDeadline(time.Time{})
}

// maxDrain bounds what awaitClose reads from a client that keeps sending.
const maxDrain = 1 << 20

// awaitClose reads and discards, for at most wait and maxDrain bytes, the
// unread rest of a frame and then frames until the client's close frame, so
// that closing the socket does not reset the connection before the client has
// read our close frame. Payloads are skipped, never buffered.
func awaitClose(nc net.Conn, rd io.Reader, unread int64, wait time.Duration) {
	_ = nc.SetReadDeadline(time.Now().Add(wait))
	if _, ok := rd.(*burst); !ok { // a header in one read, not two
		b := getBurst(rd)
		defer b.put()
		rd = b
	}
	lr := &io.LimitedReader{R: rd, N: maxDrain}
	var hdr [ws.MaxHeaderSize - 2]byte
	for unread <= lr.N {
		if _, err := io.CopyN(io.Discard, lr, unread); err != nil {
			return
		}
		h, err := ws.ReadHeaderBuffer(lr, hdr[:])
		if err != nil || h.OpCode == ws.OpClose {
			return
		}
		unread = h.Length
	}
}

// heartbeatParts is how many parts each heartbeat interval is cut into. Each
// connection is pinged in its own part, so that pings, and the pongs that
// answer them, come as a steady trickle rather than as one burst from every
// connection at once: a burst fills the writers' line, starts reader
// goroutines and makes its garbage for all connections at the same moment,
// which shows in the memory of a node of idle connections and in the delay
// of messages sent meanwhile.
const heartbeatParts = 30

// Run sends the heartbeat until ctx ends: every HeartbeatInterval each
// connection gets a protocol ping, and one that has not answered the previous
// ping (with a pong or any frame) is terminated and removed from every index.
// The connections are pinged a part at a time (heartbeatParts).
func (s *Server) Run(ctx context.Context) error {
	parts := heartbeatParts
	tick := s.cfg.HeartbeatInterval / time.Duration(parts)
	if tick <= 0 {
		parts, tick = 1, s.cfg.HeartbeatInterval
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for part := 0; ; part = (part + 1) % parts {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.heartbeat(part, parts)
		}
	}
}

// heartbeat pings the connections of one part of the interval, of parts.
func (s *Server) heartbeat(part, parts int) {
	var due []*conn
	s.cfg.Hub.Each(func(hc herald.Conn) {
		if c := s.own(hc); c != nil && (parts == 1 || int(c.beat) == part) {
			due = append(due, c)
		}
	})
	for _, c := range due {
		if c.awaitingPong.Load() {
			s.metrics.HeartbeatTimeouts.Inc()
			s.log.Info("terminating unresponsive connection", "user", c.user())
			s.terminate(c)
			continue
		}
		c.awaitingPong.Store(true)
		c.sendControl(ws.OpPing, nil)
	}
}

// snapshot returns the server's connections, as the hub knows them.
func (s *Server) snapshot() []*conn {
	var out []*conn
	s.cfg.Hub.Each(func(hc herald.Conn) {
		if c := s.own(hc); c != nil {
			out = append(out, c)
		}
	})
	return out
}

// own returns the connection behind hc when it is one of this server's (the
// hub may hold other transports' sessions too).
func (s *Server) own(hc herald.Conn) *conn {
	if ss, ok := hc.(*session.Session); ok {
		if c, ok := ss.Transport().(*conn); ok && c.srv == s {
			return c
		}
	}
	return nil
}

// Resync replays to every live connection the notifications committed after
// the last one it was sent, then resumes live delivery. A cluster broker calls
// it after an outage during which live messages may have been lost; clients
// need not do anything, and get each notification once.
func (s *Server) Resync() {
	s.engine.Resync(sessions(s.snapshot()), true)
}

// ResyncUser is Resync for one user's connections. A cluster broker calls it
// once its subscription to a newly connected user's topic is confirmed, to
// cover notifications published for the user before that.
func (s *Server) ResyncUser(user string) {
	var cs []*conn
	for _, hc := range s.cfg.Hub.OfUser(user) {
		if c := s.own(hc); c != nil {
			cs = append(cs, c)
		}
	}
	s.engine.Resync(sessions(cs), false)
}

func sessions(cs []*conn) []*session.Session {
	out := make([]*session.Session, len(cs))
	for i, c := range cs {
		out[i] = c.sess
	}
	return out
}

// Shutdown refuses new connections, closes every open one with 1001 (going
// away) after what is already queued for it, and waits for them to end until
// ctx is done, when it shuts what remains.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.engine.Stop() // replays and store reads end now, not at their timeouts
	for _, c := range s.snapshot() {
		c.close(herald.CloseGoingAway, "Server shutting down", false)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range s.snapshot() {
			s.terminate(c)
		}
		<-done
		err = ctx.Err()
	}
	s.writers.stop()
	if s.poll != nil {
		s.poll.stop()
	}
	return err
}

// isUpgrade reports whether r asks for a WebSocket: a GET whose Upgrade
// header names websocket. The upgrader checks the rest of the handshake.
func isUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, v := range r.Header.Values("Upgrade") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "websocket") {
				return true
			}
		}
	}
	return false
}
