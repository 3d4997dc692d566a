package ws

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestNetYieldLetsTheNetworkIn: on one processor, a goroutine that never
// blocks keeps a goroutine waiting on a socket from running even after data
// has arrived (the scheduler polls the network only when it has nothing else
// to run); a pause lets that goroutine run before the pause returns.
func TestNetYieldLetsTheNetworkIn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	y := newNetYield()
	if y == nil {
		t.Fatal("no pipe for the yield")
	}
	defer y.close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	var got atomic.Int32
	waiting := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		close(waiting)
		var b [1]byte
		if n, _ := server.Read(b[:]); n == 1 {
			got.Store(1)
		}
	}()
	<-waiting
	time.Sleep(10 * time.Millisecond) // the reader parks in the poller

	if _, err := client.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	// Busy for a while without blocking, pausing now and then: the reader
	// must have run by the end of the first pause.
	for range 3 {
		for start := time.Now(); time.Since(start) < 200*time.Microsecond; {
		}
		y.pause()
		if got.Load() == 1 {
			break
		}
	}
	if got.Load() != 1 {
		t.Fatal("the socket's goroutine did not run during the pauses")
	}
	<-readDone
}
