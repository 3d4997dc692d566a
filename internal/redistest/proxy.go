package redistest

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a server and can make the connections it
// carries go silent without closing them: the failure a dead NAT entry or a
// half-open connection causes, which neither side notices by itself.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	links map[*link]struct{}
	wg    sync.WaitGroup

	delay          atomic.Int64 // nanoseconds added before forwarding each client write
	inFlight, peak atomic.Int64 // client writes being delayed now, and the most at once
}

// SetDelay makes the proxy hold every chunk a client sends for d before
// forwarding it: a server that far away, for every connection at once.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// PeakInFlight is the most client writes the proxy held at once under
// SetDelay: above 1, clients had requests in flight in parallel.
func (p *Proxy) PeakInFlight() int64 { return p.peak.Load() }

// hold delays one client write by the proxy's delay, counting it in flight.
func (p *Proxy) hold() {
	d := time.Duration(p.delay.Load())
	if d <= 0 {
		return
	}
	n := p.inFlight.Add(1)
	for pk := p.peak.Load(); n > pk && !p.peak.CompareAndSwap(pk, n); pk = p.peak.Load() {
	}
	time.Sleep(d)
	p.inFlight.Add(-1)
}

// link is one forwarded connection.
type link struct {
	client, server net.Conn
	frozen         chan struct{} // closed by Freeze: stop forwarding
	once           sync.Once
	subscriber     bool // the client sent SUBSCRIBE; guarded by Proxy.mu
}

// NewProxy listens on a free loopback port and forwards each connection to
// target. It is closed when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients dial instead of the server's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops forwarding on every connection open now, in both directions,
// while keeping their sockets open. Connections made later work normally.
func (p *Proxy) Freeze() { p.freeze(false) }

// FreezeSubscribers freezes only the connections that sent SUBSCRIBE: a
// subscription dies silently while commands still work.
func (p *Proxy) FreezeSubscribers() { p.freeze(true) }

func (p *Proxy) freeze(subscribersOnly bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		if !subscribersOnly || l.subscriber {
			l.once.Do(func() { close(l.frozen) })
		}
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s, frozen: make(chan struct{})}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, s, c, true)
		go p.pipe(l, c, s, false)
	}
}

// pipe copies from src to dst until either fails or the link is frozen; a
// frozen link's bytes are read and dropped, so the sender never notices.
func (p *Proxy) pipe(l *link, dst, src net.Conn, fromClient bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if fromClient && n > 0 && bytes.Contains(bytes.ToLower(buf[:n]), []byte("subscribe")) {
			p.mu.Lock()
			l.subscriber = true
			p.mu.Unlock()
		}
		if n > 0 && fromClient {
			p.hold()
		}
		if n > 0 {
			select {
			case <-l.frozen:
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				select {
				case <-l.frozen:
					return // keep the other side open: silence, not a reset
				default:
				}
			}
			l.client.Close()
			l.server.Close()
			return
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for l := range p.links {
		l.client.Close()
		l.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
