package ws

import (
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

	client, server := tcpPair(t)

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
