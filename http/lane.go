package http

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// lane serves, without net/http, the connections whose first request is a
// GET for a path mounted with HandleUpgrade, and passes every other
// connection to net/http untouched. net/http gives each connection a 4 KiB
// read buffer and a 4 KiB write buffer from its pools, and a hijacked
// connection returns neither, while the hijack itself makes another write
// buffer: 12 KiB of garbage, and the request's contexts and connection
// state, for each WebSocket that connects — half of what the server
// allocated while clients came and went. The lane reads the request with
// http.ReadRequest into buffers of its own pools, which come back when the
// handler returns.
//
// It tells the two kinds apart by peeking (MSG_PEEK) at the request line's
// start, so a connection it passes on reaches net/http exactly as accepted:
// nothing read, the same *net.TCPConn. A request that arrives too slowly to
// show its path in the first segment goes to net/http too, which serves
// upgrades as well, only at the higher cost. Off with TLS: the peek would see
// ciphertext.
type lane struct {
	s     *Server
	ln    net.Listener
	paths []string // "GET /ws" for HandleUpgrade("/ws", …)
	peek  int      // bytes looked at: "GET ", the longest path, the byte after it
	conns chan net.Conn
	ctx   context.Context // the requests'; done at close
	stop  context.CancelFunc

	mu       sync.Mutex
	sorting  map[net.Conn]struct{} // waiting for their first bytes
	closed   bool
	err      error // why accepting stopped
	handlers sync.WaitGroup
	done     chan struct{}

	idle    chan net.Conn // handed to a worker waiting for its next connection
	waiting atomic.Int32  // workers waiting on idle
}

// maxIdleWorkers bounds the goroutines that wait for the next connection
// once theirs is served. A connect's handshake grows its goroutine's stack
// (token, JSON, the greeting) and a fresh goroutine grows it again every
// time; a worker that is reused keeps it grown. At most this many grown
// stacks (some 16–32 KiB each) stay parked.
const maxIdleWorkers = 64

func newLane(s *Server, ln net.Listener, paths []string) *lane {
	l := &lane{s: s, ln: ln, conns: make(chan net.Conn), sorting: make(map[net.Conn]struct{}), done: make(chan struct{}),
		idle: make(chan net.Conn)}
	for _, p := range paths {
		l.paths = append(l.paths, "GET "+p)
		l.peek = max(l.peek, len("GET ")+len(p)+1)
	}
	l.ctx, l.stop = context.WithCancel(context.Background())
	go l.accept()
	return l
}

// Accept returns the next connection for net/http.
func (l *lane) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

// Close stops accepting, closes the connections still waiting to be told
// apart, and cancels the lane's requests' context. Handlers already running
// finish; wait tells when.
func (l *lane) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.ln.Close()
	for c := range l.sorting {
		_ = c.Close()
	}
	clear(l.sorting) // their sort goroutines find them gone
	l.stop()
	return err
}

func (l *lane) Addr() net.Addr { return l.ln.Addr() }

// wait returns when the handlers the lane started have returned, or ctx
// ends.
func (l *lane) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { l.handlers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// accept takes connections off the listener until it is closed, retrying
// temporary failures (out of descriptors) as net/http does.
func (l *lane) accept() {
	var delay time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.ctx.Done():
				}
			}
			l.mu.Lock()
			if l.closed {
				err = net.ErrClosed
			}
			l.err = err
			l.mu.Unlock()
			close(l.done)
			return
		}
		delay = 0
		if !l.track(nc) {
			_ = nc.Close()
			continue
		}
		select {
		case l.idle <- nc: // a waiting worker takes it
		default:
			go l.work(nc)
		}
	}
}

// work sorts nc, then waits for the next connection, as long as fewer than
// maxIdleWorkers others wait and the lane accepts.
func (l *lane) work(nc net.Conn) {
	for {
		l.sort(nc)
		if l.waiting.Add(1) > maxIdleWorkers {
			l.waiting.Add(-1)
			return
		}
		select {
		case nc = <-l.idle:
			l.waiting.Add(-1)
		case <-l.done:
			l.waiting.Add(-1)
			return
		}
	}
}

// isTemporary reports an accept error worth retrying.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track notes nc as waiting to be told apart, unless the lane is closed.
func (l *lane) track(nc net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.sorting[nc] = struct{}{}
	return true
}

// sorted ends nc's wait; handle says it is the lane's to serve, which then
// counts among the handlers. It reports false when the lane has closed nc.
func (l *lane) sorted(nc net.Conn, handle bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.sorting[nc]; !ok {
		return false
	}
	delete(l.sorting, nc)
	if handle {
		l.handlers.Add(1)
	}
	return true
}

// sort peeks at nc's first bytes and serves it, or hands it to net/http;
// it closes a connection that sends nothing within ReadHeaderTimeout, or
// fails, as net/http would.
func (l *lane) sort(nc net.Conn) {
	_ = nc.SetReadDeadline(time.Now().Add(ReadHeaderTimeout))
	mine, err := l.mine(nc)
	if !l.sorted(nc, mine) {
		return
	}
	if err != nil {
		_ = nc.Close()
		return
	}
	if mine {
		defer l.handlers.Done()
		l.serve(nc)
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	select {
	case l.conns <- nc:
	case <-l.done:
		_ = nc.Close()
	}
}

// mine reports whether nc's first request is a GET for one of the lane's
// paths, peeking so that nothing is consumed. It reports false without an
// error for a connection it cannot peek at, and an error when nc failed or
// sent nothing in time.
func (l *lane) mine(nc net.Conn) (bool, error) {
	buf := make([]byte, l.peek)
	got, err := peek(nc, buf)
	if errors.Is(err, errNoPeek) || err == nil && len(got) < len(buf) {
		return false, nil // a first segment this short: net/http waits for the rest
	}
	if err != nil {
		return false, err
	}
	for _, p := range l.paths {
		if string(got[:len(p)]) == p && (got[len(p)] == ' ' || got[len(p)] == '?') {
			return true, nil
		}
	}
	return false, nil
}

// readers and writers hold the lane's buffers.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// serve reads nc's request and runs the server's handler on it. The
// connection serves that one request: the handler hijacks it (an upgrade)
// or answers, and then it is closed.
func (l *lane) serve(nc net.Conn) {
	br := readers.Get().(*bufio.Reader)
	br.Reset(&limitedConn{Conn: nc, left: MaxHeaderBytes + 4096})
	defer func() {
		// As net/http does, a panic that gets past the server's own
		// recovery (http.ErrAbortHandler, which it passes on) ends the
		// connection, never the process. Its buffers are left to the GC.
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				l.s.log.Error("http: panic serving a connection", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			_ = nc.Close()
			return
		}
		br.Reset(nil)
		readers.Put(br)
	}()
	req, err := http.ReadRequest(br)
	if err == nil && req.ProtoAtLeast(1, 1) && req.Host == "" {
		err = errors.New("http: missing required Host header") // as net/http refuses it
	}
	if err != nil {
		// As net/http answers a request it cannot read.
		status := "400 Bad Request"
		if errors.Is(err, errHeadTooLarge) {
			status = "431 Request Header Fields Too Large"
		}
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write([]byte("HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + status))
		lingerClose(nc)
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	req.RemoteAddr = nc.RemoteAddr().String()
	req = req.WithContext(l.ctx)
	w := &laneWriter{nc: nc, br: br}
	l.s.ServeHTTP(w, req)
	if w.bw != nil {
		w.bw.Reset(nil)
		writers.Put(w.bw)
	}
	if !w.hijacked {
		w.finish()
		_ = nc.Close()
	}
}

// lingerClose closes nc after its answer to a request it did not read
// whole, as net/http does: the write side first, then what the client
// still sends is read for a moment, so that closing with unread bytes does
// not reset the connection before the client has read the answer.
func lingerClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.CopyN(io.Discard, nc, 256<<10)
	}
	_ = nc.Close()
}

// limitedConn reads at most left bytes of a request's head through the
// lane's reader; the handler reads the socket itself after a hijack.
type limitedConn struct {
	net.Conn
	left int
}

// errHeadTooLarge is a request head past MaxHeaderBytes (and net/http's
// 4 KiB of slack).
var errHeadTooLarge = errors.New("http: request header too large")

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errHeadTooLarge
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

// laneWriter is the ResponseWriter of a request the lane serves. It hands
// the connection over (Hijack) with the lane's buffers, which the handler
// must not keep once it returns (what the reader holds of bytes sent after
// the request is to be copied), or collects an answer sent with
// "Connection: close" when the handler returns.
type laneWriter struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	header   http.Header
	status   int
	body     []byte
	hijacked bool
}

func (w *laneWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *laneWriter) WriteHeader(code int) {
	if w.status == 0 && !w.hijacked {
		w.status = code
	}
}

func (w *laneWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// Hijack hands the connection over, its deadlines cleared, as net/http's
// does.
func (w *laneWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.status != 0 {
		return nil, nil, errors.New("http: hijack after the answer began")
	}
	w.hijacked = true
	_ = w.nc.SetDeadline(time.Time{})
	w.bw = writers.Get().(*bufio.Writer)
	w.bw.Reset(w.nc)
	return w.nc, bufio.NewReadWriter(w.br, w.bw), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *laneWriter) SetReadDeadline(t time.Time) error  { return w.nc.SetReadDeadline(t) }
func (w *laneWriter) SetWriteDeadline(t time.Time) error { return w.nc.SetWriteDeadline(t) }

// finish sends the collected answer, closing the connection after it.
func (w *laneWriter) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Content-Length", strconv.Itoa(len(w.body)))
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if h.Get("Content-Type") == "" && len(w.body) > 0 {
		h.Set("Content-Type", http.DetectContentType(w.body))
	}
	b := make([]byte, 0, 256+len(w.body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	var hb headerBuffer
	_ = h.Write(&hb)
	b = append(b, hb...)
	b = append(b, "\r\n"...)
	b = append(b, w.body...)
	_ = w.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = w.nc.Write(b)
}

// headerBuffer collects http.Header.Write's output.
type headerBuffer []byte

func (b *headerBuffer) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}
