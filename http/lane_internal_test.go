package http

import (
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
	for i := 0; i < 5; i++ {
		get("one")
		waitFor("the worker to wait again", func() bool { return l.waiting.Load() == 1 })
	}
	if ids[0] == "" || len(slices.Compact(slices.Clone(ids))) != 1 {
		t.Fatalf("five connections one after the other served by goroutines %v, want one", ids)
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
