package http

import (
	"errors"
	"io"
	"net"
	stdhttp "net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Closing the lane closes a connection it was still waiting on for its
// first bytes. (The server's own listener defers accepting until bytes
// come, on Linux; a plain one lets a silent connection in.)
func TestLaneCloseEndsSilentConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLane(NewServer(Config{}), ln, []string{"/up"})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		n := len(l.sorting)
		l.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the silent connection was not taken in")
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("after Close the silent connection read %d bytes, %v; want it closed", n, err)
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// goroutineID is the number runtime.Stack prints for the calling goroutine.
func goroutineID() string {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// A worker that served a connection serves the next one, so its grown
// stack is reused; at most maxIdleWorkers wait; all end when the lane
// closes.
func TestLaneReusesWorkers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{})
	var mu sync.Mutex
	var ids []string
	hold := make(chan struct{})
	var held atomic.Int32
	s.HandleUpgrade("/up", stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		if r.URL.RawQuery == "hold" {
			held.Add(1)
			<-hold
		}
		mu.Lock()
		ids = append(ids, goroutineID())
		mu.Unlock()
	}))
	l := newLane(s, ln, []string{"/up"})
	get := func(query string) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("GET /up?" + query + " HTTP/1.1\r\nHost: h\r\n\r\n"))
		_, _ = io.ReadAll(c) // the answer, then the close
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	// A worker counts itself as waiting just before it waits, so a
	// connection accepted in between starts a second worker. The window is
	// a few instructions wide, but a descheduled goroutine (-race, a busy
	// machine) can sit in it; that costs a goroutine, not reuse.
	for i := 0; i < 5; i++ {
		get("one")
		waitFor("the worker to wait again", func() bool { return l.waiting.Load() >= 1 })
	}
	served := slices.Compact(slices.Sorted(slices.Values(ids)))
	if ids[0] == "" || len(served) > 2 {
		t.Fatalf("five connections one after the other served by goroutines %v, want one (two if one was accepted as its worker began to wait)", ids)
	}

	var wg sync.WaitGroup
	for i := 0; i < maxIdleWorkers+20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); get("hold") }()
	}
	waitFor("every held connection in its handler", func() bool { return held.Load() == maxIdleWorkers+20 })
	close(hold)
	wg.Wait()
	waitFor("the workers to settle", func() bool { return l.waiting.Load() == maxIdleWorkers })
	time.Sleep(20 * time.Millisecond)
	if n := l.waiting.Load(); n != maxIdleWorkers {
		t.Fatalf("%d workers wait after %d connections at once, want %d", n, maxIdleWorkers+20, maxIdleWorkers)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor("the workers to end", func() bool { return l.waiting.Load() == 0 })
}

// flakyListener fails its first Accept calls with err, then accepts.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, l.err
	}
	return l.Listener.Accept()
}

// errTemporary is what accept(2) gives when the process is out of
// descriptors (EMFILE), as the net package wraps it.
type errTemporary struct{}

func (errTemporary) Error() string   { return "accept: too many open files" }
func (errTemporary) Temporary() bool { return true }
func (errTemporary) Timeout() bool   { return false }

// The lane keeps accepting after temporary failures, backing off, and
// stops at the first other failure, which net/http then gets from Accept.
func TestLaneRetriesTemporaryAcceptErrors(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{})
	s.HandleUpgrade("/up", stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		_, _ = io.WriteString(w, "served")
	}))
	ln := &flakyListener{Listener: inner, err: errTemporary{}}
	ln.fails.Store(3)
	l := newLane(s, ln, []string{"/up"})
	defer l.Close()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("GET /up HTTP/1.1\r\nHost: h\r\n\r\n"))
	answer, err := io.ReadAll(c)
	if err != nil || !strings.HasSuffix(string(answer), "served") {
		t.Fatalf("after three temporary failures: %q, %v", answer, err)
	}
	if n := ln.fails.Load(); n >= 0 {
		t.Fatalf("%d failures left unconsumed", n+1)
	}

	// A failure that is not temporary ends accepting, and net/http learns it.
	fatal := errors.New("accept: invalid argument")
	inner2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner2.Close()
	ln2 := &flakyListener{Listener: inner2, err: fatal}
	ln2.fails.Store(1)
	l2 := newLane(s, ln2, []string{"/up"})
	defer l2.Close()
	if _, err := l2.Accept(); !errors.Is(err, fatal) {
		t.Fatalf("Accept after a lasting failure: %v, want %v", err, fatal)
	}

	// Close ends a lane backing off from temporary failures at once.
	inner3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln3 := &flakyListener{Listener: inner3, err: errTemporary{}}
	ln3.fails.Store(1 << 30)
	l3 := newLane(s, ln3, []string{"/up"})
	// Backing off doubles from 5 ms to 1 s: 1.3 s in, the lane has just
	// begun a wait of a second.
	time.Sleep(1300 * time.Millisecond)
	_ = l3.Close()
	ended := make(chan error, 1)
	go func() { _, err := l3.Accept(); ended <- err }()
	select {
	case err := <-ended:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatal("Close did not end the back-off")
	}
}
