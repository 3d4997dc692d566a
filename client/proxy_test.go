package client_test

import (
	"net"
	"sync"
	"testing"
)

// blackhole forwards TCP connections to a server until Freeze; from then on
// it drops every byte in both directions and keeps the client's side open,
// whatever the server does: the half-dead link a lost NAT entry leaves,
// which only a heartbeat can notice.
type blackhole struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

// Freeze makes every connection, open or future, silent.
func (b *blackhole) Freeze() {
	b.mu.Lock()
	b.frozen = true
	b.mu.Unlock()
}

// Thaw lets new connections through again.
func (b *blackhole) Thaw() {
	b.mu.Lock()
	b.frozen = false
	b.mu.Unlock()
}

func (b *blackhole) isFrozen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.frozen
}

func (b *blackhole) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, c, s)
		b.mu.Unlock()
		b.wg.Add(2)
		go b.pipe(s, c)
		go b.pipe(c, s)
	}
}

// pipe copies src to dst while not frozen. When src ends it closes dst,
// unless frozen: then the other side is left open and silent.
func (b *blackhole) pipe(dst, src net.Conn) {
	defer b.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.isFrozen() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !b.isFrozen() {
				dst.Close()
			}
			return
		}
	}
}

func (b *blackhole) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
