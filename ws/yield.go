package ws

import (
	"os"
	"runtime"
)

// netYield lets goroutines that wait on the network run in the middle of a
// long stretch of work that never blocks.
//
// Go's scheduler asks the network poller for ready sockets only when a
// processor has nothing else to run, or from its monitor when no one has
// asked for 10 ms. The writers drain a fan-out's line without blocking: with
// every processor busy writing (one processor is the common case in a
// container limited to one CPU), a publish request that arrives meanwhile is
// read only once the line is empty, so each connection's write carries one
// message, and the next fan-out's writes start from nothing. A pause in which
// every writer waits lets the processor go idle, the scheduler poll, and that
// request run: its messages then join the frames still queued and leave in
// the same writes.
//
// A writer pausing cannot itself make the poller report something after it
// has parked, so a goroutine of netYield's own waits in the poller on a pipe:
// the pausing writer writes one byte to the pipe and waits on a channel; the
// byte is found by the same poll that finds the sockets, and wakes the
// goroutine, which lets those sockets' goroutines run first and then ends the
// pause. A pause costs two system calls on a pipe and a poll, a few
// microseconds.
type netYield struct {
	r, w *os.File
	woke chan struct{}
	done chan struct{}
}

// newNetYield starts the pipe's goroutine. It returns nil when the pipe cannot
// be made (no descriptors left): the writers then do not pause.
func newNetYield() *netYield {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	y := &netYield{r: r, w: w, woke: make(chan struct{}), done: make(chan struct{})}
	go y.run()
	return y
}

func (y *netYield) run() {
	defer close(y.done)
	var b [64]byte
	for {
		n, err := y.r.Read(b[:])
		if err != nil {
			return
		}
		// The poll that found the byte found the sockets ready with it; their
		// goroutines sit in the run queue now. Go behind them, then wake the
		// writer, so that they run before the writers go on.
		runtime.Gosched()
		for range n {
			y.woke <- struct{}{}
		}
	}
}

// pause waits until the scheduler has polled the network and the goroutines
// it found ready have run (or, with more than one processor, are running).
func (y *netYield) pause() {
	if _, err := y.w.Write([]byte{0}); err != nil {
		return
	}
	<-y.woke
}

// close ends the pipe's goroutine. No pause may be under way or follow.
func (y *netYield) close() {
	_ = y.w.Close()
	<-y.done
	_ = y.r.Close()
}
